/*
 * test_runtime_stop.c - stop-with-savepoint is Flink's synchronous savepoint:
 * once a source has taken the savepoint's barrier it emits nothing more, so
 * a job stopped with a savepoint and then restored from it delivers every
 * row exactly once even to sinks that are not transactional (collect here).
 *
 * The source is a "gated" sequence (gated_source.h): each subtask emits its
 * part of 0..ROWS-1 up to a gate and idles there until the test moves the
 * gate on. The test asks for the stop while every subtask waits at the gate,
 * so the stop lands at a known place whatever the machine's speed, and a
 * snapshot hook moves the gate on as soon as a source takes the barrier: a
 * source that went on emitting after its barrier would be caught. The
 * oracle is the input itself (every value once; window sums computed here
 * from the values).
 *
 * Also: drain fires every window before the savepoint; a stop whose savepoint
 * cannot start (a savepoint directory under a regular file) or fails after
 * the sources paused (its directory deleted under it) reports the error and
 * leaves the job running, and a later stop still loses and doubles nothing.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "savepoint_util.h"

#define ROWS   40000
#define P      2
#define PART   (ROWS / P) /* rows per source subtask */
#define KEYS   7
#define WINDOW 500

#include "window_sums_util.h"

/* ---- the gated sequence source (gated_source.h) ---------------------------------------------- */

#define GATED_END      ROWS
#define GATED_PARALLEL true
#include "gated_source.h"

/* The test's, under mu beside the source's. */
static int64_t gate_after;     /* what the gate becomes when a source takes a barrier */
static char sabotage_dir[600]; /* non-empty: a downstream snapshot deletes its contents */

/* Sets the gate (offset per subtask) and what a barrier moves it to. */
static void set_gate(int64_t now, int64_t after) {
    pthread_mutex_lock(&mu);
    gate_after = after;
    gated_move_locked(now);
    pthread_mutex_unlock(&mu);
}

static bool all_at_gate(void) { return gated_at_gate >= P; }

/* Waits until every source subtask idles at the gate. */
static void wait_at_gate(void) {
    pthread_mutex_lock(&mu);
    bool ok = wait_locked(all_at_gate);
    int n = gated_at_gate;
    pthread_mutex_unlock(&mu);
    if (!ok) fail_msg("only %d of %d sources reached the gate within %d s", n, P, WAIT_S);
}

/* ---- user functions (found by symbol name) --------------------------------------------- */

/* Snapshot hook chained to the source: its barrier opens the gate, so a
 * source that emitted after its barrier would have rows to emit. */
int rt_stop_open_gate(fl_context *ctx, int64_t checkpoint_id) {
    pthread_mutex_lock(&mu);
    gated_move_locked(gate_after);
    pthread_mutex_unlock(&mu);
    return 0;
}

int rt_stop_pass(fl_context *ctx, const fl_row *in) { return 1; }

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    return ftw->level > 0 ? remove(path) : 0;
}

/* Snapshot hook downstream: deletes the savepoint being written, once. */
int rt_stop_sabotage(fl_context *ctx, int64_t checkpoint_id) {
    pthread_mutex_lock(&mu);
    if (sabotage_dir[0]) nftw(sabotage_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    sabotage_dir[0] = '\0';
    pthread_mutex_unlock(&mu);
    return 0;
}

/* ---- jobs ---------------------------------------------------------------------------------- */

/* The job: gated source -> rebalance -> values -> collect, or gated source
 * -> timestamps -> key_by -> event-time window sums -> collect. */
static void job_build(rt_job *j, const char *savepoints, const char *restore_from, bool windows,
                      const char *extra_key, const char *extra_value) {
    memset(j, 0, sizeof *j);
    j->name = "stop";
    register_source(&gated_connector);
    j->env = rt_env(P, "execution.checkpointing.savepoint-dir", savepoints,
                    "pipeline.auto-watermark-interval", "0", NULL);
    if (restore_from) fl_env_configure(j->env, "execution.state-recovery.path", restore_from, NULL);
    if (extra_key) fl_env_configure(j->env, extra_key, extra_value, NULL);
    fl_env_set_buffer_timeout(j->env, 0); /* rows after a barrier would reach the sink at once */
    fl_stream *src = fl_stream_uid(fl_env_add_source(j->env, "gated-sequence", NULL, NULL), "src");
    fl_stream *hooked = fl_stream_uid(fl_stream_filter(src, rt_stop_pass), "hooked");
    fl_stream_set_checkpoint_hooks(hooked, rt_stop_open_gate, NULL);
    fl_stream *result;
    if (windows) {
        /* Timestamps in order per source; the windows' watermark is the
         * smaller of the two sources'. */
        fl_schema *kv = fl_schema_of(2, "k", FL_BIGINT, "v", FL_BIGINT);
        fl_schema *res =
            fl_schema_of(4, "k", FL_BIGINT, "start", FL_BIGINT, "sum", FL_BIGINT, "n", FL_BIGINT);
        fl_watermark_strategy ws = {.timestamp_fn = rt_sums_ts};
        fl_stream *timed =
            fl_stream_uid(fl_stream_assign_timestamps_and_watermarks(hooked, &ws), "ts");
        fl_stream *keyed = fl_stream_uid(fl_stream_map(timed, rt_sums_key, kv), "key");
        fl_windowed_stream *w = fl_keyed_window(fl_stream_key_by(keyed, "k"),
                                                fl_tumbling_event_time_windows(WINDOW, 0));
        result = fl_stream_uid(fl_window_process(w, rt_sums_window, res), "window");
        fl_schema_unref(kv);
        fl_schema_unref(res);
    } else {
        result = fl_stream_uid(fl_stream_filter(fl_stream_rebalance(hooked), rt_stop_pass),
                               "downstream");
    }
    fl_stream_set_checkpoint_hooks(result, rt_stop_sabotage, NULL);
    j->out = fl_stream_collect(result);
    atomic_store(&gated_emitted, 0);
}

/* ---- checks ------------------------------------------------------------------------------ */

/* How often each value reached the sink in the runs' outputs together. */
static void count_values(const rt_job *runs, int n, unsigned char *seen) {
    memset(seen, 0, ROWS);
    for (int r = 0; r < n; r++)
        for (size_t i = 0; i < fl_collect_count(runs[r].out); i++) {
            int64_t v = fl_row_get_bigint(fl_collect_row(runs[r].out, i), 0);
            if (v < 0 || v >= ROWS) fail_msg("value %lld is not in the input", (long long)v);
            if (seen[v] < 255) seen[v]++;
        }
}

/* Every value of the input exactly once over the runs. */
static void check_values_once(const rt_job *runs, int n) {
    static unsigned char seen[ROWS];
    count_values(runs, n, seen);
    for (int64_t v = 0; v < ROWS; v++)
        if (seen[v] != 1) fail_msg("value %lld reached the sink %d times", (long long)v, seen[v]);
}

/* Per key and window, the sums and counts of the runs add up to the input's;
 * unless split, each window was emitted once. */
static void check_windows(const rt_job *runs, int n, bool split) {
    enum { NW = ROWS / WINDOW + 1 };
    static int64_t want_sum[KEYS][NW], want_n[KEYS][NW], got_sum[KEYS][NW], got_n[KEYS][NW];
    static int emits[KEYS][NW];
    memset(want_sum, 0, sizeof want_sum);
    memset(want_n, 0, sizeof want_n);
    memset(got_sum, 0, sizeof got_sum);
    memset(got_n, 0, sizeof got_n);
    memset(emits, 0, sizeof emits);
    for (int64_t v = 0; v < ROWS; v++) {
        want_sum[v % KEYS][v / WINDOW] += v;
        want_n[v % KEYS][v / WINDOW]++;
    }
    for (int r = 0; r < n; r++)
        for (size_t i = 0; i < fl_collect_count(runs[r].out); i++) {
            const fl_row *row = fl_collect_row(runs[r].out, i);
            int64_t k = fl_row_get_bigint(row, 0), start = fl_row_get_bigint(row, 1);
            assert_true(k >= 0 && k < KEYS && start >= 0 && start % WINDOW == 0 && start < ROWS);
            got_sum[k][start / WINDOW] += fl_row_get_bigint(row, 2);
            got_n[k][start / WINDOW] += fl_row_get_bigint(row, 3);
            emits[k][start / WINDOW]++;
        }
    for (int k = 0; k < KEYS; k++)
        for (int w = 0; w < NW; w++) {
            if (got_sum[k][w] != want_sum[k][w] || got_n[k][w] != want_n[k][w])
                fail_msg("key %d window %d: %lld rows summing to %lld, expected %lld and %lld", k,
                         w * WINDOW, (long long)got_n[k][w], (long long)got_sum[k][w],
                         (long long)want_n[k][w], (long long)want_sum[k][w]);
            if (!split && want_n[k][w] && emits[k][w] != 1)
                fail_msg("key %d window %d emitted %d times", k, w * WINDOW, emits[k][w]);
        }
}

/* Rows in the windows a run emitted. */
static int64_t window_rows(const rt_job *j) {
    int64_t n = 0;
    for (size_t i = 0; i < fl_collect_count(j->out); i++)
        n += fl_row_get_bigint(fl_collect_row(j->out, i), 3);
    return n;
}

static void make_temp_dir(char *template) { assert_non_null(mkdtemp(template)); }

static void remove_dir(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Starts job j and waits until its sources idle at gate `at`; a barrier
 * moves the gate to `after`. */
static void start_at_gate(rt_job *j, const char *sps, int64_t at, int64_t after, bool windows,
                          const char *key, const char *value) {
    set_gate(at, after);
    job_build(j, sps, NULL, windows, key, value);
    rt_job_start(j);
    wait_at_gate();
}

/* Runs job j from savepoint `path` to the end. */
static void restore_to_end(rt_job *j, const char *sps, const char *path, bool windows,
                           const char *key, const char *value) {
    set_gate(PART, PART);
    job_build(j, sps, path, windows, key, value);
    rt_job_start(j);
    rt_job_join(j);
}

/* Makes the savepoint directory sps (a mkdtemp template), starts a job,
 * stops it with a savepoint while its sources wait at the middle gate, then
 * restores a second run from it that goes to the end: runs[0] stopped,
 * runs[1] ran to the end. The stopped run's sources emitted nothing after
 * the barrier. */
static void stop_and_restore(rt_job runs[2], char *sps, bool windows, bool drain, const char *key,
                             const char *value) {
    make_temp_dir(sps);
    start_at_gate(&runs[0], sps, PART / 2, PART, windows, key, value); /* a barrier opens it */
    char path[1024] = "";
    fl_error err = {0};
    if (fl_stop_with_savepoint(NULL, drain, path, sizeof path, &err) != 0)
        fail_msg("stop-with-savepoint failed: %s", err.message);
    rt_job_join(&runs[0]);
    assert_int_equal(atomic_load(&gated_emitted), ROWS / 2);
    assert_true(path[0] != '\0');
    fl_checkpoint_stats st = fl_minicluster_last_checkpoint_stats();
    assert_true(st.stopped);
    assert_string_equal(st.savepoint, path);
    restore_to_end(&runs[1], sps, path, windows, key, value);
}

static void finish_runs(rt_job runs[2], const char *sps) {
    for (int i = 0; i < 2; i++) fl_env_destroy(runs[i].env);
    remove_dir(sps);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* Nothing after the barrier reaches the sink: the stopped run delivered
 * exactly what its sources emitted, which is everything before the gate. */
static void values_once(const char *key, const char *value) {
    char sps[] = "/tmp/flinc-stop-XXXXXX";
    rt_job runs[2];
    stop_and_restore(runs, sps, false, false, key, value);
    assert_int_equal(fl_collect_count(runs[0].out), ROWS / 2);
    assert_int_equal(fl_collect_count(runs[1].out), ROWS / 2);
    check_values_once(runs, 2);
    finish_runs(runs, sps);
}

static void test_stop_then_restore_delivers_each_row_once(void **state) { values_once(NULL, NULL); }

/* Unaligned checkpoints on: the stop's savepoint is still aligned, so no
 * in-flight data is processed after a snapshot and replayed after restore. */
static void test_stop_unaligned_delivers_each_row_once(void **state) {
    values_once("execution.checkpointing.unaligned", "true");
}

/* Event-time windows fed by periodic watermarks: after the stop's barrier no
 * watermark moves on, so no window fires twice across the two runs. */
static void test_stop_windows_fire_once(void **state) {
    char sps[] = "/tmp/flinc-stop-XXXXXX";
    rt_job runs[2];
    stop_and_restore(runs, sps, true, false, NULL, NULL);
    check_windows(runs, 2, false);
    finish_runs(runs, sps);
}

/* Drain: the maximum watermark goes before the barrier, so the stopped run
 * fired every window of what it read (the windows across the gate are
 * emitted in two parts, one per run). */
static void test_stop_with_drain_fires_every_window(void **state) {
    char sps[] = "/tmp/flinc-stop-XXXXXX";
    rt_job runs[2];
    stop_and_restore(runs, sps, true, true, NULL, NULL);
    assert_int_equal(window_rows(&runs[0]), ROWS / 2);
    check_windows(runs, 2, true);
    finish_runs(runs, sps);
}

/* A stop whose savepoint fails reports why, and the job goes on; a second
 * stop then works and nothing is lost or doubled over everything. */
static void failed_stop_keeps_running(bool sabotage) {
    char sps[] = "/tmp/flinc-stop-XXXXXX";
    make_temp_dir(sps);
    rt_job runs[2];
    /* At a quarter first; a barrier moves the gate to half (the second stop). */
    start_at_gate(&runs[0], sps, PART / 4, PART / 2, false, NULL, NULL);
    fl_error err = {0};
    char path[1024] = "";
    int rc;
    if (sabotage) {
        /* The savepoint starts, the sources take its barrier and pause,
         * then its files go. */
        char sp_dir[600];
        snprintf(sp_dir, sizeof sp_dir, "%s/first", sps);
        pthread_mutex_lock(&mu);
        snprintf(sabotage_dir, sizeof sabotage_dir, "%s", sp_dir);
        pthread_mutex_unlock(&mu);
        rc = fl_stop_with_savepoint(sp_dir, false, path, sizeof path, &err);
    } else {
        char bad[600];
        snprintf(bad, sizeof bad, "%s/a-file", sps);
        FILE *f = fopen(bad, "w");
        assert_non_null(f);
        fclose(f);
        strcat(bad, "/savepoints"); /* under a regular file: cannot be made */
        rc = fl_stop_with_savepoint(bad, false, path, sizeof path, &err);
        assert_non_null(strstr(err.message, "a-file"));
        /* No barrier went out: the test moves the gate itself. */
        set_gate(PART / 2, PART / 2);
    }
    print_message("the failed stop said: %s\n", err.message);
    assert_true(rc < 0);
    assert_int_equal(err.code, rc);
    assert_string_equal(path, "");
    /* Still running: the sources go on to the next gate. */
    wait_at_gate();
    assert_int_equal(atomic_load(&gated_emitted), ROWS / 2);
    pthread_mutex_lock(&mu);
    gate_after = PART;
    pthread_mutex_unlock(&mu);
    fl_error_clear(&err);
    if (fl_stop_with_savepoint(NULL, false, path, sizeof path, &err) != 0)
        fail_msg("the second stop failed: %s", err.message);
    rt_job_join(&runs[0]);
    assert_int_equal(fl_collect_count(runs[0].out), ROWS / 2);
    restore_to_end(&runs[1], sps, path, false, NULL, NULL);
    check_values_once(runs, 2);
    finish_runs(runs, sps);
}

static void test_stop_that_cannot_start_keeps_the_job_running(void **state) {
    failed_stop_keeps_running(false);
}

static void test_stop_that_fails_after_the_barrier_resumes_the_sources(void **state) {
    failed_stop_keeps_running(true);
}

/* Nothing to stop: an error, not a hang. */
static void test_stop_without_a_job_is_an_error(void **state) {
    fl_error err = {0};
    assert_int_equal(fl_stop_with_savepoint(NULL, false, NULL, 0, &err), FL_ESTATE);
    assert_non_null(strstr(err.message, "no job is running"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_then_restore_delivers_each_row_once),
        cmocka_unit_test(test_stop_unaligned_delivers_each_row_once),
        cmocka_unit_test(test_stop_windows_fire_once),
        cmocka_unit_test(test_stop_with_drain_fires_every_window),
        cmocka_unit_test(test_stop_that_cannot_start_keeps_the_job_running),
        cmocka_unit_test(test_stop_that_fails_after_the_barrier_resumes_the_sources),
        cmocka_unit_test(test_stop_without_a_job_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
