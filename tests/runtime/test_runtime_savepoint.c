/*
 * test_runtime_savepoint.c - savepoints and rescaling: a keyed windowed job
 * writing through the exactly-once file sink is stopped with a savepoint
 * partway (flinc.savepoint-at), then restored from it with another
 * parallelism (2 -> 4, 4 -> 2, 1 -> 3). Keyed state moves by key-group
 * ranges, source splits and sink transactions are redistributed, and the
 * committed output of both runs together is exactly the reference. Also:
 * state no operator claims fails the restore unless allowed.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "savepoint_util.h"

#define ROWS 60000
#define KEYS 11
#define WINDOW 500

#include "window_sums_util.h"

/* execution.state-recovery.ignore-unclaimed-state for the next run */
static bool ignore_unclaimed;

/* Runs the job at parallelism p into out; restore_from may be NULL. */
static int run(int p, const char *out, const char *savepoints, const char *restore_from,
               const char *savepoint_at, bool with_extra_uid, fl_error *err) {
    char path[512];
    snprintf(path, sizeof path, "path=%s", out);
    fl_env *env = rt_env(p, "pipeline.auto-watermark-interval", "0",
                         "execution.checkpointing.savepoint-dir", savepoints, NULL);
    if (savepoint_at) fl_env_configure(env, "flinc.savepoint-at", savepoint_at, NULL);
    if (restore_from) fl_env_configure(env, "execution.state-recovery.path", restore_from, NULL);
    if (ignore_unclaimed)
        fl_env_configure(env, "execution.state-recovery.ignore-unclaimed-state", "true", NULL);
    fl_schema *kv = fl_schema_of(2, "k", FL_BIGINT, "v", FL_BIGINT);
    fl_schema *res =
        fl_schema_of(4, "k", FL_BIGINT, "start", FL_BIGINT, "sum", FL_BIGINT, "n", FL_BIGINT);
    fl_watermark_strategy ws = {.timestamp_fn = rt_sums_ts};
    fl_stream *src = fl_stream_uid(fl_env_from_sequence(env, 0, ROWS - 1), "source");
    fl_stream *slow = fl_stream_uid(fl_stream_filter(src, rt_savepoint_slow), "slow");
    fl_stream *timed = fl_stream_uid(fl_stream_assign_timestamps_and_watermarks(slow, &ws), "ts");
    fl_stream *keyed = fl_stream_uid(fl_stream_map(timed, rt_sums_key, kv), "key");
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(keyed, "k"), fl_tumbling_event_time_windows(WINDOW, 0));
    fl_stream *sums = fl_stream_uid(fl_window_process(w, rt_sums_window, res),
                                    with_extra_uid ? "window-v2" : "window");
    const char *opts[] = {path, "format=csv", NULL};
    fl_stream_uid(fl_stream_add_sink(sums, "filesystem-exactly-once", opts), "sink");
    int rc = fl_env_execute(env, "savepoints", err);
    fl_schema_unref(kv);
    fl_schema_unref(res);
    fl_env_destroy(env);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t read_lines(const char *dir, char ***out) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[1024], line[256];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f)) {
            if (n == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
            lines[n++] = strdup(line);
        }
        fclose(f);
    }
    closedir(d);
    qsort(lines, n, sizeof *lines, cmp_str);
    *out = lines;
    return n;
}

static void check_output(const char *dir) {
    enum { NW = ROWS / WINDOW + 1 };
    static int64_t sum[KEYS][NW], count[KEYS][NW];
    memset(sum, 0, sizeof sum);
    memset(count, 0, sizeof count);
    for (int64_t v = 0; v < ROWS; v++) {
        sum[v % KEYS][v / WINDOW] += v;
        count[v % KEYS][v / WINDOW]++;
    }
    char **want = malloc(KEYS * NW * sizeof *want);
    size_t nw = 0;
    for (int k = 0; k < KEYS; k++)
        for (int w = 0; w < NW; w++)
            if (count[k][w]) {
                char buf[128];
                snprintf(buf, sizeof buf, "%d,%d,%lld,%lld\n", k, w * WINDOW, (long long)sum[k][w],
                         (long long)count[k][w]);
                want[nw++] = strdup(buf);
            }
    qsort(want, nw, sizeof *want, cmp_str);
    char **got;
    size_t ng = read_lines(dir, &got);
    if (ng != nw) fail_msg("%zu committed lines, expected %zu", ng, nw);
    for (size_t i = 0; i < nw; i++)
        if (strcmp(got[i], want[i]) != 0)
            fail_msg("line %zu: got %s expected %s", i, got[i], want[i]);
    for (size_t i = 0; i < nw; i++) free(want[i]);
    for (size_t i = 0; i < ng; i++) free(got[i]);
    free(want);
    free(got);
}

static void rescale(int from, int to) {
    char out[] = "/tmp/flinc-sp-out-XXXXXX", sps[] = "/tmp/flinc-sp-XXXXXX";
    assert_non_null(mkdtemp(out));
    assert_non_null(mkdtemp(sps));
    fl_error err = {0};
    rows_read = 0;
    if (run(from, out, sps, NULL, "20000", false, &err) != 0) fail_msg("%s", err.message);
    int64_t first = rows_read;
    char savepoint[1024];
    stopped_savepoint(savepoint, sizeof savepoint);
    /* The savepoint moved: it is self-contained. */
    char moved[1200];
    snprintf(moved, sizeof moved, "%s-moved", savepoint);
    assert_int_equal(rename(savepoint, moved), 0);
    fl_error_clear(&err);
    rows_read = 0;
    if (run(to, out, sps, moved, NULL, false, &err) != 0) fail_msg("%s", err.message);
    /* The restored run read only what the savepoint had not covered. */
    print_message("%d -> %d: %lld rows before the savepoint run stopped, %lld after\n", from, to,
                  (long long)first, (long long)rows_read);
    assert_true(rows_read > 0 && rows_read < ROWS);
    assert_true(first >= 20000 && first < ROWS);
    check_output(out);
    char cmd[2600];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", out, sps);
    assert_int_equal(system(cmd), 0);
}

static void test_rescale_2_to_4(void **state) { rescale(2, 4); }
static void test_rescale_4_to_2(void **state) { rescale(4, 2); }
static void test_rescale_1_to_3(void **state) { rescale(1, 3); }

static void test_unclaimed_state_fails_restore_unless_allowed(void **state) {
    char out[] = "/tmp/flinc-sp-out-XXXXXX", sps[] = "/tmp/flinc-sp-XXXXXX";
    assert_non_null(mkdtemp(out));
    assert_non_null(mkdtemp(sps));
    fl_error err = {0};
    if (run(2, out, sps, NULL, "20000", false, &err) != 0) fail_msg("%s", err.message);
    char savepoint[1024];
    stopped_savepoint(savepoint, sizeof savepoint);
    /* The window operator's uid changed: its state matches nothing. */
    fl_error_clear(&err);
    assert_int_equal(run(2, out, sps, savepoint, NULL, true, &err), FL_ESTATE);
    assert_non_null(strstr(err.message, "\"window\""));
    assert_non_null(strstr(err.message, "--allow-non-restored-state"));
    /* Allowed: the job runs without the window's state. Windows the first
     * run fired are committed once; the ones open at the savepoint lose the
     * rows before it (or all of them); the last window of every key, which
     * neither the savepoint nor the lost state touches, is whole. */
    fl_error_clear(&err);
    ignore_unclaimed = true;
    int rc = run(2, out, sps, savepoint, NULL, true, &err);
    ignore_unclaimed = false;
    if (rc != 0) fail_msg("restore ignoring unclaimed state: %s", err.message);
    enum { NW = ROWS / WINDOW };
    static int64_t ref[KEYS][NW];
    static int seen[KEYS][NW];
    memset(ref, 0, sizeof ref);
    memset(seen, 0, sizeof seen);
    for (int64_t v = 0; v < ROWS; v++) ref[v % KEYS][v / WINDOW] += v;
    char **got;
    size_t ng = read_lines(out, &got);
    for (size_t i = 0; i < ng; i++) {
        long k, start, sum;
        assert_int_equal(sscanf(got[i], "%ld,%ld,%ld", &k, &start, &sum), 3);
        assert_true(k >= 0 && k < KEYS && start >= 0 && start % WINDOW == 0 && start < ROWS);
        long w = start / WINDOW;
        if (seen[k][w]++) fail_msg("window %ld of key %ld committed twice", start, k);
        assert_true(sum > 0 && sum <= ref[k][w]);
        if (w == NW - 1 && sum != ref[k][w])
            fail_msg("the last window of key %ld has %ld, expected %lld", k, sum,
                     (long long)ref[k][w]);
        free(got[i]);
    }
    free(got);
    for (int k = 0; k < KEYS; k++)
        if (!seen[k][NW - 1]) fail_msg("the last window of key %d is missing", k);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", out, sps);
    assert_int_equal(system(cmd), 0);
}

/* The API call: another thread asks for a stop-with-savepoint. */
static void *ask_for_savepoint(void *arg) {
    while (__atomic_load_n(&rows_read, __ATOMIC_RELAXED) < 15000) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    while (fl_trigger_savepoint(arg, true) == 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_savepoint_api_call_then_rescale(void **state) {
    char out[] = "/tmp/flinc-sp-out-XXXXXX", sps[] = "/tmp/flinc-sp-XXXXXX";
    assert_non_null(mkdtemp(out));
    assert_non_null(mkdtemp(sps));
    rows_read = 0;
    pthread_t th;
    pthread_create(&th, NULL, ask_for_savepoint, sps);
    fl_error err = {0};
    /* A savepoint directory makes savepoints possible; none is automatic. */
    int rc = run(2, out, sps, NULL, NULL, false, &err);
    pthread_join(th, NULL);
    if (rc != 0) fail_msg("%s", err.message);
    char savepoint[1024];
    fl_last_savepoint(savepoint, sizeof savepoint);
    assert_true(savepoint[0] != '\0');
    assert_true(fl_minicluster_last_checkpoint_stats().stopped);
    fl_error_clear(&err);
    if (run(3, out, sps, savepoint, NULL, false, &err) != 0) fail_msg("%s", err.message);
    check_output(out);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", out, sps);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rescale_2_to_4),
        cmocka_unit_test(test_rescale_4_to_2),
        cmocka_unit_test(test_rescale_1_to_3),
        cmocka_unit_test(test_unclaimed_state_fails_restore_unless_allowed),
        cmocka_unit_test(test_savepoint_api_call_then_rescale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
