/*
 * test_runtime_flow.c - how records flow: backpressure from a slow sink
 * bounds what is in flight and loses nothing; a failing user function fails
 * the job with its subtask and message; cancellation stops an unbounded job;
 * each partitioner sends rows where Flink's rules say.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "minicluster.h"
#include "rt_util.h"

/* ---- backpressure ------------------------------------------------------------------------ */

#define BP_ROWS 20000
static int64_t produced, consumed, peak_in_flight, consumed_sum;

int rt_bp_count_produced(fl_context *ctx, const fl_row *in) {
    __atomic_fetch_add(&produced, 1, __ATOMIC_SEQ_CST);
    return 1;
}

int rt_bp_slow_sink(fl_context *ctx, const fl_row *in) {
    int64_t p = __atomic_load_n(&produced, __ATOMIC_SEQ_CST);
    int64_t in_flight = p - consumed;
    if (in_flight > peak_in_flight) peak_in_flight = in_flight;
    consumed++;
    consumed_sum += fl_row_get_bigint(in, 0);
    struct timespec ts = {0, 20000}; /* 20 us per record */
    nanosleep(&ts, NULL);
    return 0;
}

static void test_slow_sink_backpressures_source(void **state) {
    produced = consumed = peak_in_flight = consumed_sum = 0;
    /* 4 KiB buffers: (value BIGINT) rows take 24 + 16 bytes, 102 per buffer. */
    fl_env *env = rt_env(1, "taskmanager.memory.segment-size", "4kb", "execution.buffer-timeout",
                         "10 ms", NULL);
    fl_stream *src = fl_stream_filter(fl_env_from_sequence(env, 1, BP_ROWS), rt_bp_count_produced);
    fl_stream_disable_chaining(fl_stream_sink(fl_stream_rebalance(src), rt_bp_slow_sink));
    rt_execute(env, "backpressure");
    assert_int_equal(consumed, BP_ROWS);
    assert_int_equal(consumed_sum, (int64_t)BP_ROWS * (BP_ROWS + 1) / 2);
    /* The source task's pool: 1 channel x 2 + 8 floating = 10 buffers of 102
     * rows, plus at most one batch (512 rows) in the filter's output and one in
     * the consumer's hands. Anything beyond would mean unbounded buffering. */
    int64_t bound = 10 * 102 + 2 * 512;
    if (peak_in_flight > bound)
        fail_msg("%lld rows were in flight; the pool allows %lld", (long long)peak_in_flight,
                 (long long)bound);
    /* And the source really ran ahead until blocked. */
    assert_true(peak_in_flight > 102);
    fl_env_destroy(env);
}

/* ---- failures ---------------------------------------------------------------------------- */

int rt_fail_on_777(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    if (v == 777) return fl_context_fail(ctx, "value %lld is unlucky", (long long)v);
    fl_row_builder_set_bigint(out, 0, v);
    return 0;
}

static void test_failing_function_fails_job_with_subtask(void **state) {
    fl_env *env = rt_env(2, NULL);
    fl_stream *m = fl_stream_map(fl_stream_rebalance(fl_env_from_sequence(env, 1, 100000)),
                                 rt_fail_on_777, NULL);
    fl_stream_discard(fl_stream_name(m, "Lucky Map"));
    fl_error err = {0};
    int rc = fl_env_execute(env, "failing", &err);
    assert_int_equal(rc, FL_EUSER);
    assert_non_null(strstr(err.message, "value 777 is unlucky"));
    assert_true(strstr(err.message, "Lucky Map") != NULL);
    assert_true(strstr(err.message, "/2)") != NULL);
    assert_non_null(strstr(err.message, "failed"));
    fl_env_destroy(env);
}

int rt_returns_error_silently(fl_context *ctx, const fl_row *in) { return -3; }

static void test_failing_sink_without_message(void **state) {
    fl_env *env = rt_env(1, NULL);
    fl_stream_sink(fl_env_from_sequence(env, 1, 10), rt_returns_error_silently);
    fl_error err = {0};
    assert_int_equal(fl_env_execute(env, "silent", &err), FL_EUSER);
    assert_non_null(strstr(err.message, "Sink: Unnamed (1/1)"));
    assert_non_null(strstr(err.message, "failed"));
    fl_env_destroy(env);
}

/* A reduce function cannot register timers (only keyed process functions
 * can): the job fails naming the operator, rather than a timer firing into
 * an operator that has no on_timer. */
int rt_reduce_with_timer(fl_context *ctx, const fl_row *a, const fl_row *b, fl_row_builder *out) {
    fl_context_register_processing_timer(ctx, 1000);
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(a, 0) + fl_row_get_bigint(b, 0));
    return 0;
}

int rt_mod3(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(in, 0) % 3);
    return 0;
}

static void test_timer_outside_keyed_process_fails_job(void **state) {
    fl_env *env = rt_env(1, NULL);
    fl_stream *few_keys = fl_stream_map(fl_env_from_sequence(env, 1, 100), rt_mod3, NULL);
    fl_keyed_stream *k = fl_stream_key_by(few_keys, "value");
    fl_stream_discard(fl_stream_name(fl_keyed_reduce(k, rt_reduce_with_timer), "Timed Reduce"));
    fl_error err = {0};
    assert_int_equal(fl_env_execute(env, "reduce timer", &err), FL_EUSER);
    assert_non_null(strstr(err.message, "cannot register timers"));
    assert_non_null(strstr(err.message, "Timed Reduce"));
    fl_env_destroy(env);
}

/* ---- cancellation -------------------------------------------------------------------------- */

static int64_t seen;

int rt_count_seen(fl_context *ctx, const fl_row *in) {
    __atomic_fetch_add(&seen, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static void *canceller(void *arg) {
    /* Waits for rows to flow, then cancels (bounded: ~60 s). */
    for (int i = 0; i < 60000 && __atomic_load_n(&seen, __ATOMIC_SEQ_CST) < 1000; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    while (fl_minicluster_cancel_all() == 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_cancel_unbounded_job(void **state) {
    seen = 0;
    fl_env *env = rt_env(2, NULL);
    fl_schema *s = fl_schema_of(2, "id", FL_BIGINT, "name", FL_STRING);
    /* Unbounded and unthrottled: only cancellation ends it. */
    fl_stream *src = fl_env_datagen(env, s, 42, 0, 0);
    fl_stream_sink(fl_stream_rebalance(src), rt_count_seen);
    pthread_t t;
    pthread_create(&t, NULL, canceller, NULL);
    fl_error err = {0};
    int rc = fl_env_execute(env, "unbounded", &err);
    pthread_join(t, NULL);
    assert_int_equal(rc, FL_ECANCELED);
    assert_non_null(strstr(err.message, "canceled"));
    assert_true(seen >= 1000);
    fl_schema_unref(s);
    fl_env_destroy(env);
}

/* ---- partitioners ---------------------------------------------------------------------------- */

#define PART_ROWS 40000

/* (value, consumer subtask) */
int rt_tag_subtask(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(in, 0));
    fl_row_builder_set_int(out, 1, fl_context_subtask_index(ctx));
    return 0;
}

int rt_mod4_partition(fl_context *ctx, const fl_row *key, int n) {
    return (int)(fl_row_get_bigint(key, 0) % n);
}

typedef fl_stream *(*partition_call)(fl_stream *);

/* Runs sequence 0..PART_ROWS-1 at parallelism `producers` through `part` into a
 * tagging map of parallelism `consumers`; returns counts[value * 8 + subtask]. */
static int *route(int producers, int consumers, const char *kind) {
    fl_env *env = rt_env(producers, NULL);
    fl_schema *s = fl_schema_of(2, "value", FL_BIGINT, "subtask", FL_INT);
    fl_stream *src = fl_env_from_sequence(env, 0, PART_ROWS - 1);
    fl_stream *p = !strcmp(kind, "forward")     ? fl_stream_forward(src)
                   : !strcmp(kind, "rebalance") ? fl_stream_rebalance(src)
                   : !strcmp(kind, "rescale")   ? fl_stream_rescale(src)
                   : !strcmp(kind, "shuffle")   ? fl_stream_shuffle(src)
                   : !strcmp(kind, "broadcast") ? fl_stream_broadcast(src)
                   : !strcmp(kind, "global")    ? fl_stream_global(src)
                   : !strcmp(kind, "custom")
                       ? fl_stream_partition_custom(src, rt_mod4_partition, "value")
                       : fl_keyed_stream_as_stream(fl_stream_key_by(src, "value"));
    fl_stream *m = fl_stream_set_parallelism(fl_stream_map(p, rt_tag_subtask, s), consumers);
    fl_collect *c = fl_stream_collect(m);
    rt_execute(env, kind);
    int *counts = calloc((size_t)PART_ROWS * 8, sizeof *counts);
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *r = fl_collect_row(c, i);
        int64_t v = fl_row_get_bigint(r, 0);
        int sub = fl_row_get_int(r, 1);
        assert_true(v >= 0 && v < PART_ROWS && sub >= 0 && sub < consumers);
        counts[v * 8 + sub]++;
    }
    fl_schema_unref(s);
    fl_env_destroy(env);
    return counts;
}

/* Rows each consumer got, and checks every row arrived `copies` times. */
static void per_consumer(const int *counts, int consumers, int copies, int64_t *out) {
    memset(out, 0, 8 * sizeof *out);
    for (int64_t v = 0; v < PART_ROWS; v++) {
        int total = 0;
        for (int s = 0; s < consumers; s++) {
            total += counts[v * 8 + s];
            out[s] += counts[v * 8 + s];
        }
        if (total != copies)
            fail_msg("value %lld arrived %d times, expected %d", (long long)v, total, copies);
    }
}

/* The sequence source gives producer i the i-th contiguous slice. */
static int producer_of(int64_t v, int producers) {
    for (int i = 0; i < producers; i++) {
        int64_t lo = (int64_t)PART_ROWS * i / producers,
                hi = (int64_t)PART_ROWS * (i + 1) / producers;
        if (v >= lo && v < hi) return i;
    }
    return -1;
}

static void test_partitioner_distributions(void **state) {
    int64_t n[8];
    int *c;

    c = route(2, 2, "forward"); /* consumer i reads producer i */
    per_consumer(c, 2, 1, n);
    for (int64_t v = 0; v < PART_ROWS; v++) assert_int_equal(c[v * 8 + producer_of(v, 2)], 1);
    free(c);

    c = route(2, 4, "rebalance"); /* round robin: every consumer within 1 per producer */
    per_consumer(c, 4, 1, n);
    for (int s = 0; s < 4; s++) assert_true(llabs(n[s] - PART_ROWS / 4) <= 2);
    free(c);

    c = route(2, 4, "rescale"); /* producer 0 -> consumers 0,1; producer 1 -> 2,3 */
    per_consumer(c, 4, 1, n);
    for (int64_t v = 0; v < PART_ROWS; v++) {
        int p = producer_of(v, 2);
        assert_int_equal(c[v * 8 + 2 * p] + c[v * 8 + 2 * p + 1], 1);
    }
    for (int s = 0; s < 4; s++) assert_int_equal(n[s], PART_ROWS / 4);
    free(c);

    c = route(2, 4, "shuffle"); /* uniform: within 5% of a quarter */
    per_consumer(c, 4, 1, n);
    for (int s = 0; s < 4; s++) assert_true(llabs(n[s] - PART_ROWS / 4) < PART_ROWS / 4 / 20);
    free(c);

    c = route(2, 3, "broadcast"); /* every row to every consumer */
    per_consumer(c, 3, 3, n);
    for (int64_t v = 0; v < PART_ROWS; v++)
        for (int s = 0; s < 3; s++) assert_int_equal(c[v * 8 + s], 1);
    free(c);

    c = route(2, 3, "global"); /* everything to consumer 0 */
    per_consumer(c, 3, 1, n);
    assert_int_equal(n[0], PART_ROWS);
    free(c);

    c = route(2, 4, "custom"); /* value % 4 */
    per_consumer(c, 4, 1, n);
    for (int64_t v = 0; v < PART_ROWS; v++) assert_int_equal(c[v * 8 + v % 4], 1);
    free(c);

    /* hash: each key on the subtask that owns its key group (128 groups over
     * 4 subtasks: groups 32*s .. 32*s+31), and the load roughly even. */
    c = route(2, 4, "hash");
    per_consumer(c, 4, 1, n);
    fl_schema *ks = fl_schema_of(1, "value", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(ks);
    for (int64_t v = 0; v < PART_ROWS; v++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, v);
        const uint8_t *key = (const uint8_t *)fl_row_builder_finish(b);
        uint64_t h = fl_hash_bytes(key + 8, fl_row_size((const fl_row *)key) - 8);
        int kg = fl_key_group_of_hash(h, 128);
        assert_int_equal(c[v * 8 + kg / 32], 1);
    }
    for (int s = 0; s < 4; s++) assert_true(llabs(n[s] - PART_ROWS / 4) < PART_ROWS / 4 / 5);
    fl_row_builder_destroy(b);
    fl_schema_unref(ks);
    free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_sink_backpressures_source),
        cmocka_unit_test(test_failing_function_fails_job_with_subtask),
        cmocka_unit_test(test_failing_sink_without_message),
        cmocka_unit_test(test_timer_outside_keyed_process_fails_job),
        cmocka_unit_test(test_cancel_unbounded_job),
        cmocka_unit_test(test_partitioner_distributions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
