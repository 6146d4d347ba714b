/*
 * test_runtime_keyed.c - keyed process functions: keyed state per key, event-
 * time timers (exactly once per key and time, in time order, deletable),
 * processing-time timers and state TTL on a manual clock, and a million
 * distinct keys at parallelism 2. Every result is checked against a
 * reference computed in the test.
 */
#include <stdio.h>
#include <string.h>

#include "rt_util.h"

/* ---- counts per key, emitted by an event-time timer -------------------------------------- */

#define EV_ROWS 20000
#define EV_KEYS 37

static fl_schema *kts_schema(void) { return fl_schema_of(2, "k", FL_BIGINT, "ts", FL_TIMESTAMP); }

int64_t rt_keyed_ts(fl_context *ctx, const fl_row *in, int64_t previous) {
    return fl_row_get_timestamp(in, 1);
}

typedef struct counter_user {
    fl_value_state *count;
    fl_row_builder *b;
} counter_user;

int rt_keyed_counter_open(fl_context *ctx) {
    counter_user *u = calloc(1, sizeof *u);
    fl_schema *s = fl_schema_of(1, "n", FL_BIGINT);
    u->count = fl_context_value_state(ctx, "count", s, NULL);
    u->b = fl_row_builder_create(s);
    fl_schema_unref(s);
    fl_context_set_user(ctx, u);
    return u->count ? 0 : -1;
}

void rt_keyed_counter_close(fl_context *ctx) {
    counter_user *u = fl_context_user(ctx);
    if (!u) return;
    fl_row_builder_destroy(u->b);
    free(u);
}

/* Counts rows per key; every row asks for a timer at the end of its
 * 1000 ms slot (duplicates collapse); one row in 10 deletes the timer of the
 * slot after its own (which then only fires if re-registered later). */
int rt_keyed_count(fl_context *ctx, const fl_row *in, fl_collector *out) {
    counter_user *u = fl_context_user(ctx);
    const fl_row *cur = fl_value_state_get(u->count);
    fl_row_builder_reset(u->b);
    fl_row_builder_set_bigint(u->b, 0, (cur ? fl_row_get_bigint(cur, 0) : 0) + 1);
    if (fl_value_state_update(u->count, fl_row_builder_finish(u->b)) < 0) return -1;
    int64_t ts = fl_context_timestamp(ctx);
    int64_t slot_end = (ts / 1000 + 1) * 1000 - 1;
    fl_context_register_event_timer(ctx, slot_end);
    if (fl_row_get_bigint(in, 0) % 10 == 3) fl_context_delete_event_timer(ctx, slot_end + 1000);
    return 0;
}

/* (key, timer time, count so far) */
int rt_keyed_on_timer(fl_context *ctx, int64_t time, fl_collector *out) {
    counter_user *u = fl_context_user(ctx);
    const fl_row *key = fl_context_current_key(ctx);
    const fl_row *cur = fl_value_state_get(u->count);
    if (fl_context_timer_domain(ctx) != FL_TIME_EVENT)
        return fl_context_fail(ctx, "an event-time timer reported another domain");
    if (fl_context_timestamp(ctx) != time) return fl_context_fail(ctx, "timer timestamp");
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(key, 0));
    fl_row_builder_set_bigint(b, 1, time);
    fl_row_builder_set_bigint(b, 2, cur ? fl_row_get_bigint(cur, 0) : 0);
    return fl_collector_emit(out);
}

static int64_t ev_key(int i) { return (i * 7) % EV_KEYS; }
/* Out of order within 300 ms, ascending overall. */
static int64_t ev_ts(int i) { return (int64_t)i * 5 + (i * 31) % 300; }

static void test_keyed_state_and_event_timers(void **state) {
    fl_schema *s = kts_schema();
    fl_schema *out = fl_schema_of(3, "k", FL_BIGINT, "time", FL_BIGINT, "count", FL_BIGINT);
    fl_row **rows = calloc(EV_ROWS, sizeof *rows);
    fl_row_builder *b = fl_row_builder_create(s);
    for (int i = 0; i < EV_ROWS; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, ev_key(i));
        fl_row_builder_set_timestamp(b, 1, ev_ts(i));
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);

    fl_env *env = rt_env(3, "pipeline.auto-watermark-interval", "0", NULL);
    fl_watermark_strategy ws = {.max_out_of_orderness_ms = 300, .timestamp_fn = rt_keyed_ts};
    /* One assigner behind the (non-parallel) collection source: one
     * watermark sequence, broadcast to every keyed subtask. */
    fl_stream *src = fl_stream_set_parallelism(
        fl_stream_assign_timestamps_and_watermarks(
            fl_env_from_rows(env, s, (const fl_row *const *)rows, EV_ROWS), &ws),
        1);
    fl_stream *p = fl_keyed_process(fl_stream_key_by(src, "k"), rt_keyed_count, rt_keyed_on_timer, out);
    fl_stream_set_hooks(p, rt_keyed_counter_open, rt_keyed_counter_close);
    fl_collect *c = fl_stream_collect(fl_stream_set_parallelism(p, 3));
    rt_execute(env, "keyed timers");

    /* Reference: per key, the set of registered timers (a deletion removes a
     * timer registered earlier, later registration re-adds it); a timer fires
     * once the watermark passes it, i.e. in order of time; the count it
     * reports is the number of the key's rows processed before it fired. With
     * watermark = max ts - 301 after each row, a timer at T fires right after
     * the first row whose max ts makes the watermark >= T. */
    static int64_t expect_n[EV_KEYS];
    memset(expect_n, 0, sizeof expect_n);
    size_t expected_rows = 0;
    /* Simulate: pending timers per key as a small sorted list. */
    enum { MAXT = 4096 };
    static int64_t pending[EV_KEYS][MAXT];
    static int n_pending[EV_KEYS];
    static int64_t fired[EV_KEYS][MAXT][2];
    static int n_fired[EV_KEYS];
    memset(n_pending, 0, sizeof n_pending);
    memset(n_fired, 0, sizeof n_fired);
    int64_t max_ts = INT64_MIN, wm = INT64_MIN;
    for (int i = 0; i <= EV_ROWS; i++) {
        if (i < EV_ROWS) {
            int64_t k = ev_key(i), ts = ev_ts(i);
            expect_n[k]++;
            int64_t t = (ts / 1000 + 1) * 1000 - 1;
            bool have = false;
            for (int j = 0; j < n_pending[k]; j++) have |= pending[k][j] == t;
            if (!have) pending[k][n_pending[k]++] = t;
            if (k % 10 == 3)
                for (int j = 0; j < n_pending[k]; j++)
                    if (pending[k][j] == t + 1000) pending[k][j] = pending[k][--n_pending[k]];
            if (ts > max_ts) max_ts = ts;
        }
        int64_t new_wm = i < EV_ROWS ? max_ts - 301 : INT64_MAX;
        if (new_wm <= wm) continue;
        wm = new_wm;
        for (int k = 0; k < EV_KEYS; k++) {
            for (;;) {
                int best = -1;
                for (int j = 0; j < n_pending[k]; j++)
                    if (pending[k][j] <= wm && (best < 0 || pending[k][j] < pending[k][best])) best = j;
                if (best < 0) break;
                fired[k][n_fired[k]][0] = pending[k][best];
                fired[k][n_fired[k]][1] = expect_n[k];
                n_fired[k]++;
                expected_rows++;
                pending[k][best] = pending[k][--n_pending[k]];
            }
        }
    }
    assert_int_equal(fl_collect_count(c), expected_rows);
    int seen[EV_KEYS] = {0};
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *r = fl_collect_row(c, i);
        int64_t k = fl_row_get_bigint(r, 0);
        int j = seen[k]++;
        assert_true(j < n_fired[k]);
        if (fl_row_get_bigint(r, 1) != fired[k][j][0] || fl_row_get_bigint(r, 2) != fired[k][j][1])
            fail_msg("key %lld timer %d: got (%lld, %lld), expected (%lld, %lld)", (long long)k, j,
                     (long long)fl_row_get_bigint(r, 1), (long long)fl_row_get_bigint(r, 2),
                     (long long)fired[k][j][0], (long long)fired[k][j][1]);
    }
    for (int k = 0; k < EV_KEYS; k++) assert_int_equal(seen[k], n_fired[k]);
    for (int i = 0; i < EV_ROWS; i++) free(rows[i]);
    free(rows);
    fl_schema_unref(s);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

/* ---- a million distinct keys ------------------------------------------------------------------ */

#define MANY_KEYS 1000000
static int64_t many_seen, many_sum;

/* First row of a key stores it; a second row of the same key would find it. */
int rt_keyed_distinct(fl_context *ctx, const fl_row *in, fl_collector *out) {
    static __thread fl_value_state *st;
    static __thread fl_context *st_ctx;
    if (st_ctx != ctx) {
        fl_schema *s = fl_schema_of(1, "v", FL_BIGINT);
        st = fl_context_value_state(ctx, "seen", s, NULL);
        fl_schema_unref(s);
        st_ctx = ctx;
    }
    if (!st) return -1;
    const fl_row *prev = fl_value_state_get(st);
    if (prev) return fl_context_fail(ctx, "key %lld seen twice", (long long)fl_row_get_bigint(in, 0));
    if (fl_value_state_update(st, in) < 0) return -1;
    /* Read back what was stored. */
    if (fl_row_get_bigint(fl_value_state_get(st), 0) != fl_row_get_bigint(in, 0))
        return fl_context_fail(ctx, "state returned another value");
    __atomic_fetch_add(&many_seen, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&many_sum, fl_row_get_bigint(in, 0), __ATOMIC_RELAXED);
    return 0;
}

static void test_million_keys_parallelism_2(void **state) {
    many_seen = many_sum = 0;
    fl_env *env = rt_env(2, NULL);
    fl_stream *src = fl_env_from_sequence(env, 1, MANY_KEYS);
    fl_stream *p = fl_keyed_process(fl_stream_key_by(src, "value"), rt_keyed_distinct, NULL, NULL);
    fl_stream_discard(p);
    rt_execute(env, "million keys");
    assert_int_equal(many_seen, MANY_KEYS);
    assert_int_equal(many_sum, (int64_t)MANY_KEYS * (MANY_KEYS + 1) / 2);
    fl_env_destroy(env);
}

/* ---- TTL and processing time on a manual clock --------------------------------------------------- */

static fl_manual_clock *clock_;

/* Rows (k, t): the clock moves to t, then the function reads and rewrites the
 * key's value with a TTL of 1000 ms (updated on create and write); emits
 * (k, t, 1 if the old value was still visible). */
int rt_keyed_ttl(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fl_manual_clock_set(clock_, fl_row_get_bigint(in, 1));
    fl_schema *s = fl_schema_of(1, "v", FL_BIGINT);
    fl_state_ttl ttl = {.ttl_ms = 1000, .update_type = FL_TTL_UPDATE_ON_CREATE_AND_WRITE};
    fl_value_state *st = fl_context_value_state(ctx, "ttl", s, &ttl);
    fl_schema_unref(s);
    if (!st) return -1;
    bool visible = fl_value_state_get(st) != NULL;
    if (fl_value_state_update(st, in) < 0) return -1;
    /* A processing-time timer 500 ms from now (the clock is manual). */
    fl_context_register_processing_timer(ctx, fl_context_current_processing_time(ctx) + 500);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(in, 0));
    fl_row_builder_set_bigint(b, 1, fl_row_get_bigint(in, 1));
    fl_row_builder_set_bigint(b, 2, visible);
    return fl_collector_emit(out);
}

int rt_keyed_ptimer(fl_context *ctx, int64_t time, fl_collector *out) {
    if (fl_context_timer_domain(ctx) != FL_TIME_PROCESSING)
        return fl_context_fail(ctx, "a processing-time timer reported another domain");
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(fl_context_current_key(ctx), 0));
    fl_row_builder_set_bigint(b, 1, time);
    fl_row_builder_set_bigint(b, 2, -1); /* marks a timer row */
    return fl_collector_emit(out);
}

static void test_ttl_and_processing_timers_on_manual_clock(void **state) {
    clock_ = fl_manual_clock_create(0);
    fl_schema *s = fl_schema_of(2, "k", FL_BIGINT, "t", FL_BIGINT);
    fl_schema *out = fl_schema_of(3, "k", FL_BIGINT, "t", FL_BIGINT, "visible", FL_BIGINT);
    /* One key; times chosen around the 1000 ms TTL. */
    const int64_t times[] = {0, 400, 1399, 2400, 2500, 4000, 4999, 6000};
    enum { N = sizeof times / sizeof times[0] };
    fl_row *rows[N];
    fl_row_builder *b = fl_row_builder_create(s);
    for (int i = 0; i < N; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, 7);
        fl_row_builder_set_bigint(b, 1, times[i]);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    fl_env *env = rt_env(1, NULL);
    fl_env_set_clock(env, clock_);
    fl_stream *src = fl_env_from_rows(env, s, (const fl_row *const *)rows, N);
    fl_collect *c = fl_stream_collect(
        fl_keyed_process(fl_stream_key_by(src, "k"), rt_keyed_ttl, rt_keyed_ptimer, out));
    rt_execute(env, "ttl");

    /* Reference: visible iff the previous write is less than 1000 ms old. */
    int row = 0;
    int64_t last_write = INT64_MIN;
    /* Timers: one per row time + 500 that the clock (last set to 6000)
     * passed, each once, in time order, for key 7. */
    const int64_t timers[] = {500, 900, 1899, 2900, 3000, 4500, 5499};
    enum { N_TIMERS = sizeof timers / sizeof timers[0] };
    int fired = 0;
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *r = fl_collect_row(c, i);
        if (fl_row_get_bigint(r, 2) == -1) {
            assert_true(fired < N_TIMERS);
            assert_int_equal(fl_row_get_bigint(r, 0), 7);
            assert_int_equal(fl_row_get_bigint(r, 1), timers[fired]);
            fired++;
            continue;
        }
        assert_true(row < N);
        int64_t t = times[row];
        assert_int_equal(fl_row_get_bigint(r, 1), t);
        bool visible = last_write != INT64_MIN && t - last_write < 1000;
        if (fl_row_get_bigint(r, 2) != visible)
            fail_msg("row at %lld: visible %lld, expected %d", (long long)t,
                     (long long)fl_row_get_bigint(r, 2), visible);
        last_write = t;
        row++;
    }
    assert_int_equal(row, N);
    assert_int_equal(fired, N_TIMERS);
    for (int i = 0; i < N; i++) free(rows[i]);
    fl_schema_unref(s);
    fl_schema_unref(out);
    fl_env_destroy(env);
    fl_manual_clock_destroy(clock_);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_state_and_event_timers),
        cmocka_unit_test(test_million_keys_parallelism_2),
        cmocka_unit_test(test_ttl_and_processing_timers_on_manual_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
