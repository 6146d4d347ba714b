/*
 * test_runtime_checkpoint.c - checkpoint barriers: injected at the sources
 * periodically, aligned at tasks with several input channels. The test
 * records, in snapshot hooks, how many rows every producer had sent and every
 * consumer had received from each side when a checkpoint reached it: with
 * exactly-once alignment the two agree for every completed checkpoint (a
 * consistent cut); with at-least-once a consumer may have seen more. The
 * sources do not end by themselves: the job runs until ROWS rows passed each
 * side and a completion has reached the running consumers, then stops with a
 * savepoint, so that notification is never raced by the end of the job.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "minicluster.h"
#include "rt_util.h"

#define ROWS 150000
#define MAX_ID 4096
#define P_SRC 2
#define P_DST 3

/* produced[id][side][subtask]: rows a source subtask passed before barrier id
 * (-1: not reached); consumed[id][subtask][side] likewise at a consumer. */
static int64_t produced[MAX_ID][2][P_SRC], consumed[MAX_ID][P_DST][2];
static int64_t produced_total[2][P_SRC];
static int64_t completed_hook[MAX_ID];
static __thread int64_t passed, got[2];

/* Side B's values start here; each side has more than any run reads. */
#define B0 (INT64_C(1) << 40)

static int side_of(int64_t v) { return v >= B0; }

static int pass(fl_context *ctx, int side) {
    passed++;
    produced_total[side][fl_context_subtask_index(ctx)] = passed;
    return 1;
}
int rt_ck_pass_a(fl_context *ctx, const fl_row *in) { return pass(ctx, 0); }
int rt_ck_pass_b(fl_context *ctx, const fl_row *in) { return pass(ctx, 1); }

static int pass_snapshot(fl_context *ctx, int side, int64_t id) {
    if (id < MAX_ID) produced[id][side][fl_context_subtask_index(ctx)] = passed;
    return 0;
}
int rt_ck_snapshot_a(fl_context *ctx, int64_t id) { return pass_snapshot(ctx, 0, id); }
int rt_ck_snapshot_b(fl_context *ctx, int64_t id) { return pass_snapshot(ctx, 1, id); }

int rt_ck_count(fl_context *ctx, const fl_row *in, fl_collector *out) {
    got[side_of(fl_row_get_bigint(in, 0))]++;
    return 0;
}

int rt_ck_count_snapshot(fl_context *ctx, int64_t id) {
    if (id < MAX_ID)
        for (int s = 0; s < 2; s++) consumed[id][fl_context_subtask_index(ctx)][s] = got[s];
    return 0;
}

void rt_ck_complete(fl_context *ctx, int64_t id) {
    if (id < MAX_ID) __atomic_fetch_add(&completed_hook[id], 1, __ATOMIC_SEQ_CST);
}

static int64_t notified_total(void) {
    int64_t n = 0;
    for (int64_t id = 1; id < MAX_ID; id++) n += __atomic_load_n(&completed_hook[id], __ATOMIC_SEQ_CST);
    return n;
}

static int64_t passed_side(int side) {
    int64_t n = 0;
    for (int i = 0; i < P_SRC; i++) n += __atomic_load_n(&produced_total[side][i], __ATOMIC_SEQ_CST);
    return n;
}

/* Stops the job with a savepoint once both sides passed ROWS rows and a
 * completion reached a running consumer. */
static void *stop_when_notified(void *dir) {
    struct timespec tick = {0, 1000000};
    while (passed_side(0) < ROWS || passed_side(1) < ROWS || notified_total() == 0)
        nanosleep(&tick, NULL);
    while (fl_trigger_savepoint(dir, true) == 0) nanosleep(&tick, NULL);
    return NULL;
}

static void run(const char *mode, bool exactly) {
    memset(produced, 0xff, sizeof produced); /* -1 */
    memset(consumed, 0xff, sizeof consumed);
    memset(produced_total, 0, sizeof produced_total);
    memset(completed_hook, 0, sizeof completed_hook);
    char savepoints[] = "/tmp/flinc-ck-sp-XXXXXX";
    assert_non_null(mkdtemp(savepoints));
    fl_env *env = rt_env(P_SRC, "execution.checkpointing.interval", "2 ms",
                         "execution.checkpointing.mode", mode, "execution.buffer-timeout", "1 ms",
                         "execution.checkpointing.savepoint-dir", savepoints, NULL);
    fl_stream *a = fl_stream_filter(fl_env_from_sequence(env, 0, B0 - 1), rt_ck_pass_a);
    fl_stream_set_checkpoint_hooks(a, rt_ck_snapshot_a, NULL);
    fl_stream *b = fl_stream_filter(fl_env_from_sequence(env, B0, 2 * B0 - 1), rt_ck_pass_b);
    fl_stream_set_checkpoint_hooks(b, rt_ck_snapshot_b, NULL);
    fl_schema *none = fl_schema_of(1, "x", FL_BIGINT);
    fl_stream *p = fl_stream_process(fl_stream_rebalance(fl_stream_union(a, b)), rt_ck_count, none);
    fl_stream_set_parallelism(p, P_DST);
    fl_stream_set_checkpoint_hooks(p, rt_ck_count_snapshot, rt_ck_complete);
    fl_stream_discard(p);
    pthread_t stopper;
    assert_int_equal(pthread_create(&stopper, NULL, stop_when_notified, savepoints), 0);
    rt_execute(env, mode);
    pthread_join(stopper, NULL);

    fl_checkpoint_stats st = fl_minicluster_last_checkpoint_stats();
    assert_true(st.stopped);
    assert_true(st.completed > 0);
    int checked = 0;
    for (int64_t id = 1; id <= st.last_completed_id && id < MAX_ID; id++) {
        if (consumed[id][0][0] < 0) continue; /* aborted or subsumed before reaching them */
        bool all_consumers = true;
        for (int d = 0; d < P_DST; d++) all_consumers &= consumed[id][d][0] >= 0;
        if (!all_consumers) continue;
        for (int s = 0; s < 2; s++) {
            int64_t sent = 0, received = 0;
            for (int i = 0; i < P_SRC; i++) {
                /* A source that finished before the barrier sent everything. */
                int64_t n = produced[id][s][i];
                sent += n >= 0 ? n : produced_total[s][i];
            }
            for (int d = 0; d < P_DST; d++) received += consumed[id][d][s];
            if (exactly ? received != sent : received < sent)
                fail_msg("checkpoint %lld side %d: consumers had %lld rows, producers sent %lld "
                         "before the barrier",
                         (long long)id, s, (long long)received, (long long)sent);
        }
        checked++;
    }
    assert_true(checked > 0);
    /* Completion reached the running tasks: the stopper waited for it. A
     * notification only ever names a checkpoint that completed. */
    assert_true(notified_total() > 0);
    for (int64_t id = st.last_completed_id + 1; id < MAX_ID; id++)
        assert_int_equal(completed_hook[id], 0);
    fl_schema_unref(none);
    fl_env_destroy(env);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", savepoints);
    assert_int_equal(system(cmd), 0);
}

static void test_exactly_once_alignment_gives_consistent_cut(void **state) {
    run("EXACTLY_ONCE", true);
}

static void test_at_least_once_does_not_lose_rows_before_barrier(void **state) {
    run("AT_LEAST_ONCE", false);
}

/* ---- under backpressure ------------------------------------------------------------- */

#include <time.h>

int rt_ck_slow_sink(fl_context *ctx, const fl_row *in) {
    struct timespec ts = {0, 20000}; /* ~50k rows/s: far slower than the source */
    nanosleep(&ts, NULL);
    return 0;
}

static fl_checkpoint_stats run_backpressured(const char *unaligned) {
    fl_env *env = rt_env(2, "execution.checkpointing.interval", "100 ms",
                         "execution.checkpointing.timeout", "2 s",
                         "execution.checkpointing.tolerable-failed-checkpoints", "1000",
                         "execution.checkpointing.unaligned", unaligned,
                         "taskmanager.network.memory.floating-buffers-per-gate", "32", NULL);
    fl_stream *src = fl_env_from_sequence(env, 0, 50000);
    fl_stream_set_parallelism(fl_stream_sink(fl_stream_rebalance(src), rt_ck_slow_sink), 1);
    rt_execute(env, unaligned);
    fl_env_destroy(env);
    return fl_minicluster_last_checkpoint_stats();
}

/* With seconds of data queued in front of every barrier, aligned checkpoints
 * wait for it (and are reported with their alignment time, or expire);
 * unaligned ones overtake it and complete within their 2 s timeout. */
static void test_unaligned_checkpoints_complete_under_backpressure(void **state) {
    fl_checkpoint_stats aligned = run_backpressured("false");
    fl_checkpoint_stats unaligned = run_backpressured("true");
    print_message("aligned: %lld triggered, %lld completed (alignment up to %.1f ms), %lld "
                  "aborted; unaligned: %lld triggered, %lld completed, %lld aborted\n",
                  (long long)aligned.triggered, (long long)aligned.completed,
                  aligned.max_alignment_ns / 1e6, (long long)aligned.aborted,
                  (long long)unaligned.triggered, (long long)unaligned.completed,
                  (long long)unaligned.aborted);
    assert_true(unaligned.completed >= 2);
    assert_true(unaligned.completed > aligned.completed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exactly_once_alignment_gives_consistent_cut),
        cmocka_unit_test(test_at_least_once_does_not_lose_rows_before_barrier),
        cmocka_unit_test(test_unaligned_checkpoints_complete_under_backpressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
