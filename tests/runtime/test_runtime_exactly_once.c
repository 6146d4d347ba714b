/*
 * test_runtime_exactly_once.c - the promise of checkpoints: a keyed,
 * windowed job over a deterministic source, with failures injected at
 * random points (while processing, while snapshotting, between a
 * checkpoint's completion and the sink's commit), restarts from its latest
 * checkpoint and produces exactly the output of a run without failures, in
 * the exactly-once file sink: every (key, window) line once, none lost.
 * Compared against a failure-free run and against a reference computed here.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minicluster.h"
#include "rt_util.h"

#define ROWS 400000
#define KEYS 13
#define WINDOW 1000

#include "window_sums_util.h"

#define SUM_COUNT_FIELD 1 /* v of (k, v) */
#include "sum_count_util.h"

/* The same (key, window start, sum, count) through the merging aggregate
 * rt_sum_count_* of (sum, count): the planner then folds rows into
 * accumulators before the key_by and the window merges them. */
int rt_eo_acc_window(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                     fl_collector *out) {
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(fl_context_current_key(ctx), 0));
    fl_row_builder_set_bigint(b, 1, w->start);
    fl_row_builder_set_bigint(b, 2, fl_row_get_bigint(rows[0], 0));
    fl_row_builder_set_bigint(b, 3, fl_row_get_bigint(rows[0], 1));
    return fl_collector_emit(out);
}

/* Runs the job into dir; failures > 0 injects that many, at `points` with
 * `probability` per draw. */
static const char *mode = "EXACTLY_ONCE";
static const char *unaligned = "false";
/* A window sum instead of the process function: the planner then folds the
 * rows before the key_by (op_window_local.c), holding them until the next
 * watermark or barrier; output lines are (key, sum). */
static bool use_sum = false;
static bool use_aggregate = false; /* rt_eo_acc_window: same output as the process function */

static void run_job(const char *dir, int failures, const char *points, const char *probability) {
    char path_opt[512], budget[16];
    snprintf(path_opt, sizeof path_opt, "path=%s", dir);
    snprintf(budget, sizeof budget, "%d", failures);
    fl_env *env = rt_env(2, "execution.checkpointing.interval", "10 ms",
                         /* Rare watermarks: the local step then holds rows
                          * at many barriers. */
                         "pipeline.auto-watermark-interval",
                         use_sum || use_aggregate ? "1 s" : "0",
                         "restart-strategy.type", "fixed-delay",
                         "restart-strategy.fixed-delay.attempts", "1000",
                         "restart-strategy.fixed-delay.delay", "0 ms",
                         "execution.checkpointing.num-retained", "2",
                         "test.failure-injection.max-failures", budget,
                         "test.failure-injection.probability", probability,
                         "test.failure-injection.points", points,
                         "test.failure-injection.seed", "11",
                         "execution.checkpointing.mode", mode,
                         "execution.checkpointing.unaligned", unaligned, NULL);
    fl_schema *kv = fl_schema_of(2, "k", FL_BIGINT, "v", FL_BIGINT);
    fl_schema *out = fl_schema_of(4, "k", FL_BIGINT, "start", FL_BIGINT, "sum", FL_BIGINT,
                                  "n", FL_BIGINT);
    fl_watermark_strategy ws = {.max_out_of_orderness_ms = 0, .timestamp_fn = rt_sums_ts};
    fl_stream *src = fl_stream_uid(fl_env_from_sequence(env, 0, ROWS - 1), "source");
    fl_stream *timed = fl_stream_assign_timestamps_and_watermarks(src, &ws);
    fl_stream *keyed = fl_stream_uid(fl_stream_map(timed, rt_sums_key, kv), "to-key");
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(keyed, "k"), fl_tumbling_event_time_windows(WINDOW, 0));
    fl_schema *acc = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_aggregate_function agg = {
        acc, acc, rt_sum_count_create, rt_sum_count_add, rt_sum_count_result, rt_sum_count_merge};
    fl_stream *sums = fl_stream_uid(
        use_sum         ? fl_window_sum(w, "v")
        : use_aggregate ? fl_window_aggregate_process(w, &agg, rt_eo_acc_window, out)
                        : fl_window_process(w, rt_sums_window, out),
        "window");
    fl_schema_unref(acc);
    const char *opts[] = {path_opt, "format=csv", "rolling.on-checkpoint=true", NULL};
    fl_stream_uid(fl_stream_add_sink(sums, "filesystem-exactly-once", opts), "sink");
    rt_execute(env, "exactly once");
    fl_schema_unref(kv);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All visible lines of the committed part files, sorted, one string. */
static char *read_output(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t cap = 1 << 20, n = 0, nl = 0, lcap = 4096;
    char *all = malloc(cap);
    char **lines = malloc(lcap * sizeof *lines);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* hidden: in progress or pending */
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "r");
        assert_non_null(f);
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (nl == lcap) lines = realloc(lines, (lcap *= 2) * sizeof *lines);
            lines[nl++] = strdup(line);
        }
        fclose(f);
    }
    closedir(d);
    qsort(lines, nl, sizeof *lines, cmp_str);
    for (size_t i = 0; i < nl; i++) {
        size_t l = strlen(lines[i]);
        while (n + l + 1 > cap) all = realloc(all, cap *= 2);
        memcpy(all + n, lines[i], l);
        n += l;
        free(lines[i]);
    }
    all[n] = '\0';
    free(lines);
    return all;
}

static char *reference(void) {
    enum { NW = ROWS / WINDOW + 1 };
    static int64_t sum[KEYS][NW], cnt[KEYS][NW];
    memset(sum, 0, sizeof sum);
    memset(cnt, 0, sizeof cnt);
    for (int64_t v = 0; v < ROWS; v++) {
        sum[v % KEYS][v / WINDOW] += v;
        cnt[v % KEYS][v / WINDOW]++;
    }
    char **lines = malloc(KEYS * NW * sizeof *lines);
    size_t nl = 0;
    for (int k = 0; k < KEYS; k++)
        for (int w = 0; w < NW; w++)
            if (cnt[k][w]) {
                char buf[128];
                if (use_sum)
                    snprintf(buf, sizeof buf, "%d,%lld\n", k, (long long)sum[k][w]);
                else
                    snprintf(buf, sizeof buf, "%d,%d,%lld,%lld\n", k, w * WINDOW,
                             (long long)sum[k][w], (long long)cnt[k][w]);
                lines[nl++] = strdup(buf);
            }
    qsort(lines, nl, sizeof *lines, cmp_str);
    size_t total = 1;
    for (size_t i = 0; i < nl; i++) total += strlen(lines[i]);
    char *all = malloc(total), *p = all;
    for (size_t i = 0; i < nl; i++) {
        p = stpcpy(p, lines[i]);
        free(lines[i]);
    }
    *p = '\0';
    free(lines);
    return all;
}

static void check_run(const char *points, const char *probability, int failures,
                      bool expect_restores) {
    char clean[] = "/tmp/flinc-eo-clean-XXXXXX", faulty[] = "/tmp/flinc-eo-faulty-XXXXXX";
    assert_non_null(mkdtemp(clean));
    assert_non_null(mkdtemp(faulty));
    run_job(clean, 0, points, probability);
    run_job(faulty, failures, points, probability);
    int restarts = fl_minicluster_last_restarts();
    int restores = fl_minicluster_last_restores();
    print_message("%s: %d restarts, %d from checkpoints\n", points, restarts, restores);
    char *a = read_output(clean), *b = read_output(faulty), *ref = reference();
    if (strcmp(a, ref) != 0) fail_msg("failure-free output differs from the reference");
    if (strcmp(b, ref) != 0) {
        FILE *f = fopen("/tmp/flinc-eo-got.txt", "w");
        if (f) {
            fputs(b, f);
            fclose(f);
        }
        fail_msg("output after %d restarts differs from the reference (see /tmp/flinc-eo-got.txt)",
                 restarts);
    }
    /* Two tasks may fail in the same attempt. */
    assert_true(restarts >= failures / 2);
    /* A failure right after a completed checkpoint restarts from it. */
    if (expect_restores) assert_true(restores >= restarts / 2);
    free(a);
    free(b);
    free(ref);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", clean, faulty);
    assert_int_equal(system(cmd), 0);
}

/* 20 failures at random points: while processing, while snapshotting, and
 * after a checkpoint completed but before the sink committed. */
static void test_random_failures_change_nothing(void **state) {
    check_run("process,snapshot,commit", "0.0003", 20, false);
}

/* Failures between a checkpoint's completion and the sink's commit: every
 * restart continues from a checkpoint whose transactions were not committed
 * by the failed attempt. */
static void test_failures_before_commit_recover_pending_transactions(void **state) {
    check_run("commit", "0.5", 8, true);
}

/* Unaligned checkpoints store in-flight data; restoring replays it. */
static void test_unaligned_random_failures_change_nothing(void **state) {
    unaligned = "true";
    check_run("process,snapshot,commit", "0.0003", 20, false);
    check_run("commit", "0.5", 8, true);
    unaligned = "false";
}

/* A window sum, folded before the exchange, and a merging aggregate, whose
 * rows cross as accumulators: what the local step holds at a barrier goes
 * out before it, so a restore neither loses nor repeats it. */
static void test_local_window_aggregation_random_failures(void **state) {
    use_sum = true;
    /* Fewer rows reach the window task: failures are drawn more often. */
    check_run("process,snapshot,commit", "0.02", 20, false);
    unaligned = "true";
    check_run("process,snapshot", "0.02", 10, false);
    unaligned = "false";
    use_sum = false;
    use_aggregate = true;
    check_run("process,snapshot,commit", "0.02", 20, false);
    use_aggregate = false;
}

/* At-least-once: nothing is lost (a window may count a row twice). Every
 * (key, window) of the reference is there, with at least its rows. */
static void test_at_least_once_loses_nothing(void **state) {
    char dir[] = "/tmp/flinc-alo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    mode = "AT_LEAST_ONCE";
    run_job(dir, 20, "process,snapshot,commit", "0.0003");
    mode = "EXACTLY_ONCE";
    /* Failures happened (two tasks may fail in one attempt). */
    assert_true(fl_minicluster_last_restarts() >= 10);
    char *got = read_output(dir), *ref = reference();
    /* No (key, window) the input does not have. */
    for (char *g = got; *g;) {
        char *gend = strchr(g, '\n');
        long gk, gs, gsum, gcnt;
        assert_int_equal(sscanf(g, "%ld,%ld,%ld,%ld", &gk, &gs, &gsum, &gcnt), 4);
        if (gk < 0 || gk >= KEYS || gs < 0 || gs >= ROWS || gs % WINDOW != 0)
            fail_msg("at-least-once wrote a window the input does not have: %.*s",
                     (int)(gend ? gend - g : (long)strlen(g)), g);
        g = gend ? gend + 1 : g + strlen(g);
    }
    /* Index the output by "k,start," prefix. */
    for (char *line = ref; *line;) {
        char *end = strchr(line, '\n');
        long k, start, sum, cnt;
        assert_int_equal(sscanf(line, "%ld,%ld,%ld,%ld", &k, &start, &sum, &cnt), 4);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%ld,%ld,", k, start);
        bool found = false;
        for (char *g = got; *g && !found;) {
            char *gend = strchr(g, '\n');
            long gk, gs, gsum, gcnt;
            if (sscanf(g, "%ld,%ld,%ld,%ld", &gk, &gs, &gsum, &gcnt) == 4 && gk == k && gs == start &&
                gcnt >= cnt && gsum >= sum)
                found = true;
            g = gend ? gend + 1 : g + strlen(g);
        }
        if (!found) fail_msg("window %s lost (or lost rows) under at-least-once", prefix);
        line = end ? end + 1 : line + strlen(line);
    }
    free(got);
    free(ref);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_failures_change_nothing),
        cmocka_unit_test(test_failures_before_commit_recover_pending_transactions),
        cmocka_unit_test(test_at_least_once_loses_nothing),
        cmocka_unit_test(test_unaligned_random_failures_change_nothing),
        cmocka_unit_test(test_local_window_aggregation_random_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
