/*
 * test_runtime_restore_state.c - operator state that must survive a
 * stop-with-savepoint and a restore, checked against oracles computed here
 * from the generated input:
 *   - rolling keyed aggregations (sum, and a user reduce that sums): the
 *     restored run continues every key's running value from the savepoint's,
 *     also at another parallelism (key groups move between subtasks);
 *   - window_all: the windows open at the savepoint (with rows in them, their
 *     timers registered, some of them complete but not yet fired) fire whole
 *     after the restore.
 * Each job reads a sequence through a slow filter, so the savepoint
 * (flinc.savepoint-at) lands partway, and writes through the exactly-once
 * file sink: a stopping job's rows after the savepoint's barrier are never
 * committed, so the committed rows of both runs together must be exactly
 * the reference -- none lost, none twice.
 */
#include <dirent.h>
#include <string.h>

#include "savepoint_util.h"

#define ROWS         40000
#define SAVEPOINT_AT "15000"
#define KEYS         17
#define WINDOW       1000

/* ---- runs ----------------------------------------------------------------------------------- */

/* Builds a job on env reading `source`; returns the stream of its results,
 * two BIGINT fields each. */
typedef fl_stream *(*build_fn)(fl_env *env, fl_stream *source);

/* Runs the job at parallelism p, committing its results into directory
 * out; savepoint_at and restore_from may be NULL. */
static void run(int p, build_fn build, const char *out, const char *savepoints,
                const char *savepoint_at, const char *restore_from) {
    fl_env *env = rt_env(p, "pipeline.auto-watermark-interval", "0",
                         "execution.checkpointing.savepoint-dir", savepoints, NULL);
    if (savepoint_at) fl_env_configure(env, "flinc.savepoint-at", savepoint_at, NULL);
    if (restore_from) fl_env_configure(env, "execution.state-recovery.path", restore_from, NULL);
    fl_stream *src = fl_stream_uid(fl_env_from_sequence(env, 1, ROWS), "source");
    fl_stream *results =
        build(env, fl_stream_uid(fl_stream_filter(src, rt_savepoint_slow), "slow"));
    char path[600];
    snprintf(path, sizeof path, "path=%s", out);
    const char *opts[] = {path, "format=csv", NULL};
    fl_stream_uid(fl_stream_add_sink(results, "filesystem-exactly-once", opts), "sink");
    rows_read = 0;
    rt_execute(env, restore_from ? "restored" : "stopped with a savepoint");
    fl_env_destroy(env);
}

/* The committed rows: (a, b) pairs from the lines "a,b" of every file. */
typedef struct pairs {
    int64_t (*v)[2];
    size_t n, cap;
} pairs;

static pairs read_pairs(const char *dir) {
    pairs p = {0};
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue; /* not committed */
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        long long a, b;
        while (fscanf(f, "%lld,%lld\n", &a, &b) == 2) {
            if (p.n == p.cap) {
                p.cap = p.cap ? p.cap * 2 : 1024;
                p.v = realloc(p.v, p.cap * sizeof *p.v);
            }
            p.v[p.n][0] = a;
            p.v[p.n][1] = b;
            p.n++;
        }
        assert_true(feof(f));
        fclose(f);
    }
    closedir(d);
    return p;
}

/* Runs the job at parallelism `from` until the savepoint stops it, then
 * restores it at parallelism `to`: the rows both runs committed. */
static pairs stop_and_restore(int from, int to, build_fn build) {
    char out[] = "/tmp/flinc-rst-out-XXXXXX", savepoints[] = "/tmp/flinc-rst-sp-XXXXXX";
    assert_non_null(mkdtemp(out));
    assert_non_null(mkdtemp(savepoints));
    run(from, build, out, savepoints, SAVEPOINT_AT, NULL);
    int64_t first = rows_read;
    char savepoint[1024];
    stopped_savepoint(savepoint, sizeof savepoint);
    run(to, build, out, savepoints, NULL, savepoint);
    print_message("%d -> %d: %lld rows read before the savepoint stopped the job, %lld after\n",
                  from, to, (long long)first, (long long)rows_read);
    /* The savepoint was partway, and the restored run read only the rest. */
    assert_true(first >= atoi(SAVEPOINT_AT) && first < ROWS);
    assert_true(rows_read > 0 && rows_read < ROWS);
    pairs p = read_pairs(out);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", out, savepoints);
    assert_int_equal(system(cmd), 0);
    return p;
}

/* ---- rolling keyed aggregations ------------------------------------------------------------- */

int rt_rst_key(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, v % KEYS);
    fl_row_builder_set_bigint(out, 1, v);
    return 0;
}

int rt_rst_reduce(fl_context *ctx, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0));
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(acc, 1) + fl_row_get_bigint(in, 1));
    return 0;
}

static fl_keyed_stream *keyed_values(fl_stream *source) {
    fl_schema *kv = fl_schema_of(2, "k", FL_BIGINT, "v", FL_BIGINT);
    fl_stream *keyed = fl_stream_uid(fl_stream_map(source, rt_rst_key, kv), "key");
    fl_schema_unref(kv);
    return fl_stream_key_by(keyed, "k");
}

static fl_stream *rolling_sum(fl_env *env, fl_stream *source) {
    return fl_stream_uid(fl_keyed_sum(keyed_values(source), "v"), "sum");
}

static fl_stream *rolling_reduce(fl_env *env, fl_stream *source) {
    return fl_stream_uid(fl_keyed_reduce(keyed_values(source), rt_rst_reduce), "reduce");
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Every input emits its key's running sum, and the inputs are positive, so
 * a key's sums, sorted, are the order they were made in, and the steps
 * between them (from 0) must be exactly the key's inputs: none lost, none
 * twice. The largest must be the sum of all of them: a restored run that
 * started again from zero never gets there. */
static void check_rolling(pairs *got) {
    int64_t *sums[KEYS];
    size_t n[KEYS] = {0};
    for (int k = 0; k < KEYS; k++) sums[k] = calloc(ROWS / KEYS + 1, sizeof *sums[k]);
    for (size_t i = 0; i < got->n; i++) {
        int64_t k = got->v[i][0];
        assert_true(k >= 0 && k < KEYS);
        if (n[k] == ROWS / KEYS + 1) fail_msg("key %lld: too many results", (long long)k);
        sums[k][n[k]++] = got->v[i][1];
    }
    for (int k = 0; k < KEYS; k++) {
        int64_t *s = sums[k], first = k ? k : KEYS, total = 0;
        size_t m = n[k], inputs = 0;
        for (int64_t v = first; v <= ROWS; v += KEYS, inputs++) total += v;
        qsort(s, m, sizeof *s, cmp_i64);
        if (m == 0 || s[m - 1] != total)
            fail_msg("key %d ended at %lld, expected %lld", k, m ? (long long)s[m - 1] : 0LL,
                     (long long)total);
        if (m != inputs) fail_msg("key %d: %zu results, expected %zu", k, m, inputs);
        for (size_t i = m - 1; i > 0; i--) s[i] -= s[i - 1]; /* the steps */
        qsort(s, m, sizeof *s, cmp_i64);
        for (size_t i = 0; i < m; i++)
            if (s[i] != first + (int64_t)i * KEYS)
                fail_msg("key %d: input %lld is missing or counted twice", k,
                         (long long)(first + (int64_t)i * KEYS));
        free(s);
    }
    free(got->v);
}

static void test_rolling_sum_restored(void **state) {
    pairs got = stop_and_restore(2, 2, rolling_sum);
    check_rolling(&got);
}
static void test_rolling_sum_rescaled_2_to_3(void **state) {
    pairs got = stop_and_restore(2, 3, rolling_sum);
    check_rolling(&got);
}
static void test_rolling_reduce_rescaled_3_to_1(void **state) {
    pairs got = stop_and_restore(3, 1, rolling_reduce);
    check_rolling(&got);
}

/* ---- window_all ----------------------------------------------------------------------------- */

int64_t rt_rst_ts(fl_context *ctx, const fl_row *in, int64_t previous) {
    return fl_row_get_bigint(in, 0);
}

/* The window's sum as (its result timestamp, the sum). */
int rt_rst_stamp(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_context_timestamp(ctx));
    fl_row_builder_set_bigint(b, 1, fl_row_get_bigint(in, 0));
    return fl_collector_emit(out);
}

/* Every value is its own timestamp. The source's subtasks read separate
 * ranges, so at the savepoint the windows of the later ranges wait for the
 * watermark of the earliest one: many are open, some complete. */
static fl_stream *window_all_sum(fl_env *env, fl_stream *source) {
    fl_watermark_strategy ws = {.timestamp_fn = rt_rst_ts};
    fl_stream *timed = fl_stream_uid(fl_stream_assign_timestamps_and_watermarks(source, &ws), "ts");
    fl_windowed_stream *w = fl_stream_window_all(timed, fl_tumbling_event_time_windows(WINDOW, 0));
    fl_stream *sums = fl_stream_uid(fl_window_sum(w, "value"), "window-all");
    fl_schema *out = fl_schema_of(2, "t", FL_BIGINT, "sum", FL_BIGINT);
    fl_stream *stamped = fl_stream_uid(fl_stream_process(sums, rt_rst_stamp, out), "stamp");
    fl_schema_unref(out);
    return stamped;
}

static void test_window_all_restored(void **state) {
    pairs got = stop_and_restore(2, 3, window_all_sum);
    enum { NW = ROWS / WINDOW + 1 };
    int64_t want[NW] = {0};
    int fired[NW] = {0};
    for (int64_t v = 1; v <= ROWS; v++) want[v / WINDOW] += v;
    for (size_t i = 0; i < got.n; i++) {
        int64_t t = got.v[i][0], sum = got.v[i][1];
        int64_t w = t / WINDOW;
        if (t < 0 || w >= NW || t % WINDOW != WINDOW - 1)
            fail_msg("a result at %lld, not at the end of a window", (long long)t);
        if (fired[w]++) fail_msg("window %lld fired twice", (long long)(w * WINDOW));
        if (sum != want[w])
            fail_msg("window %lld summed %lld, expected %lld", (long long)(w * WINDOW),
                     (long long)sum, (long long)want[w]);
    }
    for (int w = 0; w < NW; w++)
        if (!fired[w]) fail_msg("window %d never fired", w * WINDOW);
    free(got.v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rolling_sum_restored),
        cmocka_unit_test(test_rolling_sum_rescaled_2_to_3),
        cmocka_unit_test(test_rolling_reduce_rescaled_3_to_1),
        cmocka_unit_test(test_window_all_restored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
