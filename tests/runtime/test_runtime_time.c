/*
 * test_runtime_time.c - event time: timestamps and watermarks from a
 * bounded-out-of-orderness strategy, watermarks reaching downstream operators
 * in order with the records, side outputs, the minimum watermark over inputs
 * with different progress, and idleness on a manual processing-time clock.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "rt_util.h"

#define N_EVENTS 3000
#define BOUND 50

static int64_t event_ts(int i) {
    /* Mostly increasing with jitter up to 3 * BOUND, so some events are late. */
    return (int64_t)i * 10 + ((i * 7919) % (3 * BOUND)) - (i % 97 == 0 ? 400 : 0);
}

static fl_schema *event_schema(void) { return fl_schema_of(2, "id", FL_BIGINT, "ts", FL_TIMESTAMP); }

static fl_row **events(const fl_schema *s) {
    fl_row **rows = calloc(N_EVENTS, sizeof *rows);
    fl_row_builder *b = fl_row_builder_create(s);
    for (int i = 0; i < N_EVENTS; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, i);
        fl_row_builder_set_timestamp(b, 1, event_ts(i));
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    return rows;
}

/* (id, ts, watermark seen) on the main output; late rows to side "late". */
int rt_time_split_late(fl_context *ctx, const fl_row *in, fl_collector *out) {
    int64_t wm = fl_context_current_watermark(ctx);
    if (fl_context_timestamp(ctx) != fl_row_get_timestamp(in, 1))
        return fl_context_fail(ctx, "record timestamp %lld differs from its field %lld",
                               (long long)fl_context_timestamp(ctx),
                               (long long)fl_row_get_timestamp(in, 1));
    if (fl_context_timestamp(ctx) <= wm) return fl_context_output(ctx, "late", in);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(in, 0));
    fl_row_builder_set_timestamp(b, 1, fl_row_get_timestamp(in, 1));
    fl_row_builder_set_bigint(b, 2, wm);
    return fl_collector_emit(out);
}

static void run_lateness(bool chained) {
    fl_schema *s = event_schema();
    fl_schema *seen = fl_schema_of(3, "id", FL_BIGINT, "ts", FL_TIMESTAMP, "wm", FL_BIGINT);
    fl_row **rows = events(s);
    fl_env *env = rt_env(1, "pipeline.auto-watermark-interval", "0", NULL);
    fl_stream *src = fl_env_from_rows(env, s, (const fl_row *const *)rows, N_EVENTS);
    fl_watermark_strategy ws = {.max_out_of_orderness_ms = BOUND, .timestamp_field = "ts"};
    fl_stream *timed = fl_stream_assign_timestamps_and_watermarks(src, &ws);
    fl_stream *p = fl_stream_process(timed, rt_time_split_late, seen);
    if (!chained) fl_stream_disable_chaining(p);
    fl_collect *on_time = fl_stream_collect(p);
    fl_collect *late = fl_stream_collect(fl_stream_side_output(p, "late", s));
    rt_execute(env, "lateness");

    /* Reference: the watermark after event i is max(ts[0..i]) - BOUND - 1. */
    int64_t max_ts = INT64_MIN, wm = INT64_MIN;
    size_t n_on_time = 0, n_late = 0;
    for (int i = 0; i < N_EVENTS; i++) {
        int64_t ts = event_ts(i);
        if (ts <= wm) {
            const fl_row *r = fl_collect_row(late, n_late++);
            assert_non_null(r);
            assert_int_equal(fl_row_get_bigint(r, 0), i);
        } else {
            const fl_row *r = fl_collect_row(on_time, n_on_time++);
            assert_non_null(r);
            assert_int_equal(fl_row_get_bigint(r, 0), i);
            assert_int_equal(fl_row_get_bigint(r, 2), wm);
        }
        if (ts > max_ts) max_ts = ts;
        if (max_ts - BOUND - 1 > wm) wm = max_ts - BOUND - 1;
    }
    assert_true(n_late > 10);
    assert_int_equal(fl_collect_count(on_time), n_on_time);
    assert_int_equal(fl_collect_count(late), n_late);
    for (int i = 0; i < N_EVENTS; i++) free(rows[i]);
    free(rows);
    fl_schema_unref(s);
    fl_schema_unref(seen);
    fl_env_destroy(env);
}

static void test_watermarks_and_late_side_output_chained(void **state) { run_lateness(true); }
static void test_watermarks_and_late_side_output_across_exchange(void **state) {
    run_lateness(false);
}

/* ---- the minimum over inputs ------------------------------------------------------------- */

/* Highest timestamp each of two sources has passed on (before its watermark
 * can reflect it). */
static int64_t source_max[2], source_rows[2];
static int64_t violations, checked, compared;

/* value -> timestamp: source A (values < 1e6) runs 100x faster in event time. */
int64_t rt_time_two_speeds(fl_context *ctx, const fl_row *in, int64_t previous) {
    int64_t v = fl_row_get_bigint(in, 0);
    int src = v >= 1000000;
    int64_t ts = src ? (v - 1000000) : v * 100;
    /* Lockstep: a source more than 1000 rows ahead waits for the other
     * (while that one still has rows), so both run side by side and the
     * check below compares watermarks against two live inputs. */
    while (__atomic_load_n(&source_rows[src], __ATOMIC_SEQ_CST) -
                   __atomic_load_n(&source_rows[!src], __ATOMIC_SEQ_CST) >
               1000 &&
           __atomic_load_n(&source_rows[!src], __ATOMIC_SEQ_CST) < 20001)
        sched_yield();
    __atomic_fetch_add(&source_rows[src], 1, __ATOMIC_SEQ_CST);
    int64_t old = __atomic_load_n(&source_max[src], __ATOMIC_SEQ_CST);
    while (ts > old && !__atomic_compare_exchange_n(&source_max[src], &old, ts, false,
                                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
    return ts;
}

int rt_time_check_min(fl_context *ctx, const fl_row *in, fl_collector *out) {
    int64_t wm = fl_context_current_watermark(ctx);
    int64_t a = __atomic_load_n(&source_max[0], __ATOMIC_SEQ_CST);
    int64_t b = __atomic_load_n(&source_max[1], __ATOMIC_SEQ_CST);
    /* While both sources run, no watermark may pass what the slower one has
     * produced (a source that produced all its rows may have ended, and an
     * ended input no longer holds the watermark back). */
    bool both_running = __atomic_load_n(&source_rows[0], __ATOMIC_SEQ_CST) < 20001 &&
                        __atomic_load_n(&source_rows[1], __ATOMIC_SEQ_CST) < 20001;
    if (both_running && wm != INT64_MIN) {
        __atomic_fetch_add(&compared, 1, __ATOMIC_SEQ_CST);
        if (wm > (a < b ? a : b)) __atomic_fetch_add(&violations, 1, __ATOMIC_SEQ_CST);
    }
    __atomic_fetch_add(&checked, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static void test_watermark_is_minimum_of_inputs(void **state) {
    source_max[0] = source_max[1] = INT64_MIN;
    source_rows[0] = source_rows[1] = 0;
    violations = checked = compared = 0;
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_watermark_strategy ws = {.timestamp_fn = rt_time_two_speeds};
    fl_stream *a = fl_stream_assign_timestamps_and_watermarks(fl_env_from_sequence(env, 0, 20000), &ws);
    fl_stream *b = fl_stream_assign_timestamps_and_watermarks(
        fl_env_from_sequence(env, 1000000, 1020000), &ws);
    fl_schema *none = fl_schema_of(1, "x", FL_BIGINT);
    fl_stream *p = fl_stream_process(fl_stream_rebalance(fl_stream_union(a, b)), rt_time_check_min, none);
    fl_stream_discard(p);
    rt_execute(env, "minimum");
    assert_int_equal(checked, 40002);
    /* Watermarks were compared while both inputs were live, many times. */
    assert_true(compared >= 1000);
    assert_int_equal(violations, 0);
    fl_schema_unref(none);
    fl_env_destroy(env);
}

/* ---- periodic emission on a manual clock ------------------------------------------------- */

static fl_manual_clock *wm_clock;
static int64_t distinct_watermarks, last_seen_wm, wm_errors, rows_seen;

/* Chained after the assigner (same thread): moves processing time 1 ms per
 * row and checks the watermarks that arrive between batches. */
int rt_time_periodic(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fl_manual_clock_advance(wm_clock, 1);
    int64_t wm = fl_context_current_watermark(ctx);
    int64_t v = fl_row_get_bigint(in, 0);
    if (wm < last_seen_wm) wm_errors++;                /* never backwards */
    if (wm != INT64_MIN && wm > v - 10 - 1) wm_errors++; /* trails by the bound */
    if (wm != last_seen_wm) distinct_watermarks++;
    last_seen_wm = wm;
    rows_seen++;
    return 0;
}

int64_t rt_time_value_ts(fl_context *ctx, const fl_row *in, int64_t previous) {
    return fl_row_get_bigint(in, 0);
}

static void test_periodic_watermarks_follow_processing_time(void **state) {
    wm_clock = fl_manual_clock_create(0);
    distinct_watermarks = wm_errors = rows_seen = 0;
    last_seen_wm = INT64_MIN;
    fl_env *env = rt_env(1, NULL); /* default interval: 200 ms */
    fl_env_set_clock(env, wm_clock);
    fl_watermark_strategy ws = {.max_out_of_orderness_ms = 10, .timestamp_fn = rt_time_value_ts};
    fl_stream *timed = fl_stream_assign_timestamps_and_watermarks(
        fl_env_from_sequence(env, 0, 199999), &ws);
    fl_schema *none = fl_schema_of(1, "x", FL_BIGINT);
    fl_stream_discard(fl_stream_process(timed, rt_time_periodic, none));
    rt_execute(env, "periodic");
    assert_int_equal(rows_seen, 200000);
    assert_int_equal(wm_errors, 0);
    /* 200 s of processing time went by: a watermark every 200 ms of it is
     * about a thousand, at least one per batch of rows the source read. */
    assert_true(distinct_watermarks >= 100);
    fl_schema_unref(none);
    fl_env_destroy(env);
    fl_manual_clock_destroy(wm_clock);
}

/* Without the clock moving, no periodic watermark is emitted before the end. */
static int64_t frozen_seen;
int rt_time_frozen(fl_context *ctx, const fl_row *in, fl_collector *out) {
    if (fl_context_current_watermark(ctx) != INT64_MIN) frozen_seen++;
    return 0;
}

static void test_no_periodic_watermark_while_clock_stands_still(void **state) {
    wm_clock = fl_manual_clock_create(0);
    frozen_seen = 0;
    fl_env *env = rt_env(1, NULL);
    fl_env_set_clock(env, wm_clock);
    fl_watermark_strategy ws = {.timestamp_fn = rt_time_value_ts};
    fl_stream *timed = fl_stream_assign_timestamps_and_watermarks(
        fl_env_from_sequence(env, 0, 99999), &ws);
    fl_schema *none = fl_schema_of(1, "x", FL_BIGINT);
    fl_stream_discard(fl_stream_process(timed, rt_time_frozen, none));
    rt_execute(env, "frozen");
    assert_int_equal(frozen_seen, 0);
    fl_schema_unref(none);
    fl_env_destroy(env);
    fl_manual_clock_destroy(wm_clock);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watermarks_and_late_side_output_chained),
        cmocka_unit_test(test_watermarks_and_late_side_output_across_exchange),
        cmocka_unit_test(test_watermark_is_minimum_of_inputs),
        cmocka_unit_test(test_periodic_watermarks_follow_processing_time),
        cmocka_unit_test(test_no_periodic_watermark_while_clock_stands_still),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
