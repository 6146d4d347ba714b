/*
 * test_runtime_window_triggers.c - what decides when a window fires and what
 * it holds: count triggers (on global and on time windows), the continuous
 * event-time trigger, the purging wrapper, a user trigger with its own state
 * and timers, count and time evictors before and after the function, and
 * processing-time windows (tumbling and sessions) on a manual clock.
 *
 * Results are checked against references computed here from the same rows.
 * With a single timestamp assigner and pipeline.auto-watermark-interval=0,
 * the watermark an element meets is max(earlier timestamps) - BOUND - 1.
 */
#include <stdio.h>
#include <string.h>

#include "window_util.h"

#define N_KEYS 5
#define BOUND  40

static int64_t ev_key(int i) { return (i * 3) % N_KEYS; }
static int64_t ev_ts(int i) {
    return 500 + (int64_t)i * 9 + (int64_t)(mix((uint32_t)i) % (2 * BOUND)) -
           (i % 61 == 0 ? 250 : 0);
}
static int64_t ev_value(int i) { return (int64_t)(mix((uint32_t)i + 77) % 1000); }

static fl_schema *event_schema(void) {
    return fl_schema_of(3, "k", FL_BIGINT, "ts", FL_TIMESTAMP, "v", FL_BIGINT);
}

int rt_wt_reduce_sum(fl_context *ctx, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_copy_row(out, acc);
    fl_row_builder_set_bigint(out, 2, fl_row_get_bigint(acc, 2) + fl_row_get_bigint(in, 2));
    return 0;
}

/* ---- the elements each tumbling window gets (no allowed lateness) -------------------------- */

typedef struct window_rows {
    int64_t key, start;
    int *ids; /* contributing events, in arrival order */
    size_t n, cap;
} window_rows;

typedef struct windows {
    window_rows *w;
    size_t n, cap;
    int64_t late;
} windows;

/* Tumbling windows of `size` without lateness: an element whose window's
 * end - 1 the watermark reached is late data. */
static windows assign_tumbling(int n_events, int64_t size) {
    windows ws = {0};
    int64_t wm = INT64_MIN, max_ts = INT64_MIN;
    for (int i = 0; i < n_events; i++) {
        int64_t ts = ev_ts(i), k = ev_key(i), start = ts - ((ts % size) + size) % size;
        if (start + size - 1 <= wm) {
            ws.late++;
        } else {
            window_rows *w = NULL;
            for (size_t j = 0; j < ws.n && !w; j++)
                if (ws.w[j].key == k && ws.w[j].start == start) w = &ws.w[j];
            if (!w) {
                if (ws.n == ws.cap) {
                    ws.cap = ws.cap ? 2 * ws.cap : 256;
                    ws.w = realloc(ws.w, ws.cap * sizeof *ws.w);
                }
                w = &ws.w[ws.n++];
                *w = (window_rows){.key = k, .start = start};
            }
            if (w->n == w->cap) {
                w->cap = w->cap ? 2 * w->cap : 16;
                w->ids = realloc(w->ids, w->cap * sizeof *w->ids);
            }
            w->ids[w->n++] = i;
        }
        if (ts > max_ts) max_ts = ts;
        if (max_ts - BOUND - 1 > wm) wm = max_ts - BOUND - 1;
    }
    return ws;
}

static void free_windows(windows *ws) {
    for (size_t i = 0; i < ws->n; i++) free(ws->w[i].ids);
    free(ws->w);
}

/* ---- count triggers ------------------------------------------------------------------------ */

#define N_EVENTS 3000

static void test_count_trigger_global_purging(void **state) {
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(2, NULL);
    fl_stream *src = fl_env_from_rows(env, s, (const fl_row *const *)rows, N_EVENTS);
    fl_windowed_stream *w = fl_keyed_window(fl_stream_key_by(src, "k"), fl_global_windows());
    fl_window_trigger(w, (fl_trigger){.kind = FL_TRIGGER_COUNT, .count = 7, .purging = true});
    fl_stream *sums = fl_window_sum(w, "v");
    fl_stream_name(sums, "Count Sum");
    fl_collect *c = fl_stream_collect(fl_stream_process(sums, rt_win_stamp, st));
    int64_t before = fl__keyed_state_bytes_at_close("Count Sum");
    rt_execute(env, "count trigger");

    /* Per key, every 7 rows in arrival order: their sum, at the global
     * window's timestamp; the rest never fires. */
    results want = {0};
    int64_t sum[N_KEYS] = {0}, count[N_KEYS] = {0};
    int64_t left = 0;
    for (int i = 0; i < N_EVENTS; i++) {
        int64_t k = ev_key(i);
        sum[k] += ev_value(i);
        if (++count[k] % 7 == 0) {
            push(&want, k, INT64_MAX, sum[k], 0);
            sum[k] = 0;
        }
    }
    for (int k = 0; k < N_KEYS; k++) left += count[k] % 7;
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, "count trigger on global windows");
    /* Global windows are never cleaned up: what did not fire is still held. */
    assert_true(left > 0);
    assert_true(state_left("Count Sum", before) > 0);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

static void test_count_trigger_time_windows(void **state) {
    const int64_t size = 300;
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(3, "pipeline.auto-watermark-interval", "0", NULL);
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(timed(env, s, rows, N_EVENTS, BOUND), "k"),
                        fl_tumbling_event_time_windows(size, 0));
    fl_window_trigger(w, (fl_trigger){.kind = FL_TRIGGER_COUNT, .count = 4});
    fl_stream *sums = fl_window_reduce(w, rt_wt_reduce_sum);
    fl_stream_name(sums, "Count Reduce");
    fl_collect *c = fl_stream_collect(fl_stream_process(sums, rt_win_stamp, st));
    int64_t before = fl__keyed_state_bytes_at_close("Count Reduce");
    rt_execute(env, "count trigger on time windows");

    /* The count trigger replaces the event-time one: every 4th element of a
     * window fires its running sum; the window's end fires nothing. */
    windows ws = assign_tumbling(N_EVENTS, size);
    results want = {0};
    for (size_t i = 0; i < ws.n; i++) {
        int64_t sum = 0;
        for (size_t j = 0; j < ws.w[i].n; j++) {
            sum += ev_value(ws.w[i].ids[j]);
            if ((j + 1) % 4 == 0) push(&want, ws.w[i].key, ws.w[i].start + size - 1, sum, 0);
        }
    }
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, "count trigger on tumbling windows");
    assert_int_equal(state_left("Count Reduce", before), 0);
    free_windows(&ws);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

/* ---- a count trigger on merging windows ---------------------------------------------------- */

/* Rows per key 0-70 ms apart with jitter, so that sessions (gap 50) form,
 * and out-of-order rows bridge two sessions into one. */
static int64_t cs_base(int i) {
    return 1000 + (int64_t)i * 12 + (int64_t)(mix((uint32_t)i + 9) % 60) + (i % 29 == 0 ? 150 : 0);
}

/* Every 7th row repeats the time of the key's row before (a window equal to
 * an existing one). */
static int64_t cs_ts(int i) { return i % 7 == 0 && i >= N_KEYS ? cs_base(i - N_KEYS) : cs_base(i); }

static void test_count_trigger_sessions(void **state) {
    enum { N = 2500 };
    const int64_t gap = 50, bound = 100;
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, N, ev_key, cs_ts, ev_value);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_stream *src = timed(env, s, rows, N, bound);
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(src, "k"), fl_event_time_session_windows(gap));
    fl_window_trigger(w, (fl_trigger){.kind = FL_TRIGGER_COUNT, .count = 3});
    fl_stream *sums = fl_window_sum(w, "v");
    fl_stream_name(sums, "Session Count");
    fl_collect *c = fl_stream_collect(fl_stream_process(sums, rt_win_stamp, st));
    int64_t before = fl__keyed_state_bytes_at_close("Session Count");
    rt_execute(env, "count trigger on sessions");

    /* Flink: merge first (counts of merged sessions add up), then count the
     * element; at 3 fire the session's sum and restart the count. A session
     * goes (unfired by its end) once the watermark passes its end - 1. */
    typedef struct ses {
        int64_t key, start, end, sum, count;
        bool gone;
    } ses;
    ses *ss = calloc(N, sizeof *ss);
    size_t n = 0;
    int64_t wm = INT64_MIN, max_ts = INT64_MIN, merges = 0;
    results want = {0};
    for (int i = 0; i < N; i++) {
        int64_t k = ev_key(i), ts = cs_ts(i);
        ses r = {.key = k, .start = ts, .end = ts + gap};
        int parts = 0;
        for (size_t j = 0; j < n; j++) {
            ses *o = &ss[j];
            if (o->gone || o->key != k || !(o->start <= r.end && o->end >= r.start)) continue;
            if (o->start < r.start) r.start = o->start;
            if (o->end > r.end) r.end = o->end;
            r.sum += o->sum;
            r.count += o->count;
            o->gone = true;
            parts++;
        }
        merges += parts > 1;
        if (parts == 0 && r.end - 1 <= wm) goto next; /* late */
        ss[n] = r;
        ses *x = &ss[n++];
        x->sum += ev_value(i);
        if (++x->count >= 3) {
            x->count = 0;
            push(&want, k, x->end - 1, x->sum, 0);
        }
    next:
        if (ts > max_ts) max_ts = ts;
        if (max_ts - bound - 1 > wm) wm = max_ts - bound - 1;
        for (size_t j = 0; j < n; j++)
            if (ss[j].end - 1 <= wm) ss[j].gone = true;
    }
    assert_true(merges > 10);
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, "count trigger on sessions");
    assert_int_equal(state_left("Session Count", before), 0);
    free(ss);
    free_rows(rows, N);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

/* ---- the continuous event-time trigger ----------------------------------------------------- */

/* In-order events: k = i % 3, ts = 20 + 37 i. */
static int64_t co_ts(int i) { return 20 + (int64_t)i * 37; }
static int64_t co_key(int i) { return i % 3; }
static int64_t co_value(int i) { return i; }

static void test_continuous_event_time_trigger(void **state) {
    enum { N = 1200 };
    const int64_t size = 1000, interval = 300;
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, N, co_key, co_ts, co_value);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_stream *src = timed(env, s, rows, N, 0);
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(src, "k"), fl_tumbling_event_time_windows(size, 0));
    fl_window_trigger(
        w, (fl_trigger){.kind = FL_TRIGGER_CONTINUOUS_EVENT_TIME, .interval_ms = interval});
    fl_stream *sums = fl_window_sum(w, "v");
    fl_stream_name(sums, "Continuous Sum");
    fl_collect *c = fl_stream_collect(fl_stream_process(sums, rt_win_stamp, st));
    int64_t before = fl__keyed_state_bytes_at_close("Continuous Sum");
    rt_execute(env, "continuous trigger");

    /* Reference: Flink's ContinuousEventTimeTrigger per (key, window). The
     * first element registers a timer at its aligned time + interval (at most
     * end - 1); each such timer fires the sum so far and registers the next
     * one an interval later (at most end - 1), and end - 1 fires once (one
     * timer when the two meet). Rows are in order, the watermark after row j
     * is its ts - 1, so a timer at t fires before the first row whose
     * predecessor's ts - 1 reaches t: it sees row i iff ts(i - 1) - 1 < t. */
    results want = {0};
    for (int k = 0; k < 3; k++) {
        for (int64_t start = 0; start <= co_ts(N - 1); start += size) {
            int64_t max_ts = start + size - 1, first = INT64_MIN;
            for (int i = 0; i < N && first == INT64_MIN; i++)
                if (i % 3 == k && co_ts(i) >= start && co_ts(i) <= max_ts) first = co_ts(i);
            if (first == INT64_MIN) continue;
            int64_t t = first - first % interval + interval;
            if (t > max_ts) t = max_ts;
            for (;;) {
                int64_t sum = 0;
                for (int i = 0; i < N; i++) {
                    int64_t ts = co_ts(i), wm_before = i == 0 ? INT64_MIN : co_ts(i - 1) - 1;
                    if (i % 3 == k && ts >= start && ts <= max_ts && wm_before < t) sum += i;
                }
                push(&want, k, max_ts, sum, 0);
                if (t == max_ts) break;
                t = t + interval < max_ts ? t + interval : max_ts;
            }
        }
    }
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, "continuous event-time trigger");
    assert_int_equal(state_left("Continuous Sum", before), 0);
    free_rows(rows, N);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

/* ---- purging event-time trigger with lateness ---------------------------------------------- */

static void test_purging_event_time_trigger(void **state) {
    const int64_t size = 200, lateness = 200;
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(timed(env, s, rows, N_EVENTS, BOUND), "k"),
                        fl_tumbling_event_time_windows(size, 0));
    fl_window_allowed_lateness(w, lateness);
    fl_window_trigger(w, (fl_trigger){.kind = FL_TRIGGER_EVENT_TIME, .purging = true});
    fl_stream *sums = fl_window_sum(w, "v");
    fl_stream_name(sums, "Purging Sum");
    fl_collect *c = fl_stream_collect(fl_stream_process(sums, rt_win_stamp, st));
    int64_t before = fl__keyed_state_bytes_at_close("Purging Sum");
    rt_execute(env, "purging trigger");

    /* The window fires once at its end with everything so far and forgets
     * it; each element within the allowed lateness then fires alone. */
    results want = {0};
    typedef struct pw {
        int64_t key, start, sum;
        bool fired, any;
    } pw;
    pw *ws = calloc(N_EVENTS, sizeof *ws);
    size_t n = 0;
    int64_t wm = INT64_MIN, max_ts = INT64_MIN, late = 0;
    for (int i = 0; i <= N_EVENTS; i++) {
        if (i < N_EVENTS) {
            int64_t ts = ev_ts(i), k = ev_key(i), start = ts - ((ts % size) + size) % size;
            if (start + size - 1 + lateness <= wm) {
                late++;
            } else {
                pw *x = NULL;
                for (size_t j = 0; j < n && !x; j++)
                    if (ws[j].key == k && ws[j].start == start) x = &ws[j];
                if (!x) {
                    x = &ws[n++];
                    *x = (pw){.key = k, .start = start};
                }
                if (start + size - 1 <= wm) {
                    x->fired = true;
                    push(&want, k, start + size - 1, ev_value(i), 0);
                } else {
                    x->sum += ev_value(i);
                    x->any = true;
                }
            }
            if (ts > max_ts) max_ts = ts;
        }
        int64_t next = i == N_EVENTS ? INT64_MAX : max_ts - BOUND - 1;
        if (next <= wm) continue;
        wm = next;
        for (size_t j = 0; j < n; j++) {
            if (ws[j].fired || ws[j].start + size - 1 > wm) continue;
            ws[j].fired = true;
            if (ws[j].any) push(&want, ws[j].key, ws[j].start + size - 1, ws[j].sum, 0);
        }
    }
    assert_true(late > 0);
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, "purging event-time trigger");
    assert_int_equal(state_left("Purging Sum", before), 0);
    free(ws);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

/* ---- a user trigger ------------------------------------------------------------------------ */

/* Fires on every 4th element of a window (counted in trigger state), and
 * fires and purges at the window's end (an event-time timer). */
static fl_schema *count_schema_;

int rt_wt_user_on_element(fl_trigger_ctx *t, const fl_row *row, int64_t ts, const fl_window *w) {
    fl_value_state *count = fl_trigger_value_state(t, "count", count_schema_);
    if (!count) return -1;
    const fl_row *cur = fl_value_state_get(count);
    int64_t n = (cur ? fl_row_get_bigint(cur, 0) : 0) + 1;
    fl_row_builder *b = fl_row_builder_create(count_schema_);
    fl_row_builder_set_bigint(b, 0, n);
    int rc = fl_value_state_update(count, fl_row_builder_finish(b));
    fl_row_builder_destroy(b);
    if (rc < 0) return rc;
    fl_trigger_register_event_timer(t, w->end - 1);
    if (fl_trigger_current_watermark(t) >= w->end - 1)
        return fl_context_fail(fl_trigger_context(t),
                               "an element of a window behind the watermark");
    return n % 4 == 0 ? FL_TRIGGER_FIRE : FL_TRIGGER_CONTINUE;
}

int rt_wt_user_on_event_time(fl_trigger_ctx *t, int64_t time, const fl_window *w) {
    return time == w->end - 1 ? FL_TRIGGER_FIRE_AND_PURGE : FL_TRIGGER_CONTINUE;
}

int rt_wt_user_on_processing_time(fl_trigger_ctx *t, int64_t time, const fl_window *w) {
    return FL_TRIGGER_CONTINUE;
}

void rt_wt_user_clear(fl_trigger_ctx *t, const fl_window *w) {
    fl_trigger_delete_event_timer(t, w->end - 1);
    fl_value_state *count = fl_trigger_value_state(t, "count", count_schema_);
    if (count) fl_value_state_clear(count);
}

static const fl_trigger_fns user_trigger = {
    .on_element = rt_wt_user_on_element,
    .on_event_time = rt_wt_user_on_event_time,
    .on_processing_time = rt_wt_user_on_processing_time,
    .clear = rt_wt_user_clear,
};

static void test_user_trigger(void **state) {
    const int64_t size = 250;
    count_schema_ = fl_schema_of(1, "n", FL_BIGINT);
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(timed(env, s, rows, N_EVENTS, BOUND), "k"),
                        fl_tumbling_event_time_windows(size, 0));
    fl_window_trigger(w, (fl_trigger){.kind = FL_TRIGGER_USER, .fns = &user_trigger});
    fl_stream *sums = fl_window_sum(w, "v");
    fl_stream_name(sums, "User Trigger");
    fl_collect *c = fl_stream_collect(fl_stream_process(sums, rt_win_stamp, st));
    int64_t before = fl__keyed_state_bytes_at_close("User Trigger");
    rt_execute(env, "user trigger");

    windows ws = assign_tumbling(N_EVENTS, size);
    results want = {0};
    for (size_t i = 0; i < ws.n; i++) {
        int64_t sum = 0, end_ts = ws.w[i].start + size - 1;
        for (size_t j = 0; j < ws.w[i].n; j++) {
            sum += ev_value(ws.w[i].ids[j]);
            if ((j + 1) % 4 == 0) push(&want, ws.w[i].key, end_ts, sum, 0);
        }
        push(&want, ws.w[i].key, end_ts, sum, 0);
    }
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, "user trigger");
    assert_int_equal(state_left("User Trigger", before), 0);
    free_windows(&ws);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_schema_unref(count_schema_);
    fl_env_destroy(env);
}

/* ---- evictors ------------------------------------------------------------------------------ */

/* (k, end - 1, sum, n) over the rows the function sees. */
int rt_wt_sum_rows(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                   fl_collector *out) {
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += fl_row_get_bigint(rows[i], 2);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(fl_context_current_key(ctx), 0));
    fl_row_builder_set_bigint(b, 1, w->end - 1);
    fl_row_builder_set_bigint(b, 2, sum);
    fl_row_builder_set_bigint(b, 3, (int64_t)n);
    return fl_collector_emit(out);
}

static void test_count_evictor_before(void **state) {
    const int64_t size = 200;
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_keyed_stream *k = fl_stream_key_by(timed(env, s, rows, N_EVENTS, BOUND), "k");
    fl_windowed_stream *w = fl_keyed_window(k, fl_tumbling_event_time_windows(size, 0));
    fl_window_evictor(w, (fl_evictor){.kind = FL_EVICTOR_COUNT, .count = 3});
    fl_stream *reduced = fl_window_reduce(w, rt_wt_reduce_sum);
    fl_stream_name(reduced, "Evicting Reduce");
    fl_collect *c = fl_stream_collect(fl_stream_process(reduced, rt_win_stamp, st));
    int64_t before = fl__keyed_state_bytes_at_close("Evicting Reduce");
    rt_execute(env, "count evictor");

    /* At the window's end: the sum of its last 3 elements in arrival order. */
    windows ws = assign_tumbling(N_EVENTS, size);
    results want = {0};
    for (size_t i = 0; i < ws.n; i++) {
        int64_t sum = 0;
        for (size_t j = ws.w[i].n > 3 ? ws.w[i].n - 3 : 0; j < ws.w[i].n; j++)
            sum += ev_value(ws.w[i].ids[j]);
        push(&want, ws.w[i].key, ws.w[i].start + size - 1, sum, 0);
    }
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, "count evictor before a reduce");
    assert_int_equal(state_left("Evicting Reduce", before), 0);
    free_windows(&ws);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

static void test_time_evictor_after_with_lateness(void **state) {
    const int64_t size = 200, lateness = 200, keep = 60;
    fl_schema *s = event_schema();
    fl_schema *out =
        fl_schema_of(4, "k", FL_BIGINT, "t", FL_BIGINT, "sum", FL_BIGINT, "n", FL_BIGINT);
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_keyed_stream *k = fl_stream_key_by(timed(env, s, rows, N_EVENTS, BOUND), "k");
    fl_windowed_stream *w = fl_keyed_window(k, fl_tumbling_event_time_windows(size, 0));
    fl_window_allowed_lateness(w, lateness);
    fl_window_evictor(w, (fl_evictor){.kind = FL_EVICTOR_TIME, .keep_ms = keep, .after = true});
    fl_stream *p = fl_window_process(w, rt_wt_sum_rows, out);
    fl_stream_name(p, "Evicting Process");
    fl_collect *c = fl_stream_collect(p);
    int64_t before = fl__keyed_state_bytes_at_close("Evicting Process");
    rt_execute(env, "time evictor");

    /* Each firing sees what the window holds; after it, only the rows newer
     * than the newest one's timestamp - keep stay. Late elements (within the
     * lateness) fire again at once. */
    typedef struct ew {
        int64_t key, start;
        int ids[512];
        int n;
        bool fired;
    } ew;
    ew *ws = calloc(2000, sizeof *ws);
    size_t n_ws = 0;
    results want = {0};
    int64_t wm = INT64_MIN, max_ts = INT64_MIN;
#define FIRE(x)                                                                                    \
    do {                                                                                           \
        int64_t sum_ = 0, newest_ = INT64_MIN;                                                     \
        for (int j_ = 0; j_ < (x)->n; j_++) {                                                      \
            sum_ += ev_value((x)->ids[j_]);                                                        \
            if (ev_ts((x)->ids[j_]) > newest_) newest_ = ev_ts((x)->ids[j_]);                      \
        }                                                                                          \
        push(&want, (x)->key, (x)->start + size - 1, sum_, (x)->n);                                \
        int kept_ = 0;                                                                             \
        for (int j_ = 0; j_ < (x)->n; j_++)                                                        \
            if (ev_ts((x)->ids[j_]) > newest_ - keep) (x)->ids[kept_++] = (x)->ids[j_];            \
        (x)->n = kept_;                                                                            \
    } while (0)
    for (int i = 0; i <= N_EVENTS; i++) {
        if (i < N_EVENTS) {
            int64_t ts = ev_ts(i), key = ev_key(i), start = ts - ((ts % size) + size) % size;
            if (start + size - 1 + lateness > wm) {
                ew *x = NULL;
                for (size_t j = 0; j < n_ws && !x; j++)
                    if (ws[j].key == key && ws[j].start == start) x = &ws[j];
                if (!x) {
                    assert_true(n_ws < 2000);
                    x = &ws[n_ws++];
                    x->key = key;
                    x->start = start;
                }
                assert_true(x->n < 512);
                x->ids[x->n++] = i;
                if (start + size - 1 <= wm) {
                    x->fired = true;
                    FIRE(x);
                }
            }
            if (ts > max_ts) max_ts = ts;
        }
        int64_t next = i == N_EVENTS ? INT64_MAX : max_ts - BOUND - 1;
        if (next <= wm) continue;
        wm = next;
        for (size_t j = 0; j < n_ws; j++) {
            if (ws[j].fired || ws[j].start + size - 1 > wm) continue;
            ws[j].fired = true;
            if (ws[j].n > 0) FIRE(&ws[j]);
        }
    }
#undef FIRE
    results got = rt_results(c, 2, 3);
    expect_results(&want, &got, "time evictor after a process function");
    assert_int_equal(state_left("Evicting Process", before), 0);
    free(ws);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

/* ---- processing-time windows on a manual clock --------------------------------------------- */

/* Rows (k, t, v): the window's task moves the clock to t when it computes
 * the row's key, so the row is assigned at processing time t. The key
 * selector also runs where rows are routed (another task), which must not
 * move the clock. */
static fl_manual_clock *clock_;

int rt_wt_clock_key(fl_context *ctx, const fl_row *in, fl_row_builder *key) {
    if (strstr(fl_context_task_name(ctx), "Window"))
        fl_manual_clock_set(clock_, fl_row_get_timestamp(in, 1));
    fl_row_builder_set_bigint(key, 0, fl_row_get_bigint(in, 0));
    return 0;
}

enum { PT_N = 1500 };
/* Processing times: rising 3-9 ms per row; per key gaps decide sessions. */
static int64_t pt_time(int i) {
    int64_t t = 10000;
    for (int j = 1; j <= i; j++) t += 3 + (int64_t)(mix((uint32_t)j + 5) % 7);
    return t;
}
static int64_t pt_key(int i) { return (int64_t)(mix((uint32_t)i + 11) % 4); }

static void run_processing_time(bool sessions, int64_t *times) {
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_schema *ks = fl_schema_of(1, "k", FL_BIGINT);
    /* The rows, then one far ahead that moves the clock past every window. */
    fl_row **rows = calloc(PT_N + 1, sizeof *rows);
    fl_row_builder *b = fl_row_builder_create(s);
    for (int i = 0; i <= PT_N; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, i < PT_N ? pt_key(i) : 0);
        fl_row_builder_set_timestamp(b, 1, i < PT_N ? times[i] : 1000000000);
        fl_row_builder_set_bigint(b, 2, i < PT_N ? ev_value(i) : 0);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    clock_ = fl_manual_clock_create(0);
    fl_env *env = rt_env(1, NULL);
    fl_env_set_clock(env, clock_);
    fl_stream *src = fl_env_from_rows(env, s, (const fl_row *const *)rows, PT_N + 1);
    const int64_t size = 100, gap = 25;
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by_fn(src, rt_wt_clock_key, ks),
                        sessions ? fl_processing_time_session_windows(gap)
                                 : fl_tumbling_processing_time_windows(size, 0));
    fl_collect *c = fl_stream_collect(fl_stream_process(fl_window_sum(w, "v"), rt_win_stamp, st));
    rt_execute(env, "processing-time windows");

    /* Reference: windows by processing time; every window ends before the
     * last row's time, so all fire; the last row's window never does
     * (processing-time windows do not fire at the end of input). */
    results want = {0};
    if (!sessions) {
        for (int k = 0; k < 4; k++) {
            int64_t start = INT64_MIN, sum = 0;
            for (int i = 0; i < PT_N; i++) {
                if (pt_key(i) != k) continue;
                int64_t ws = times[i] - times[i] % size;
                if (ws != start && start != INT64_MIN) push(&want, k, start + size - 1, sum, 0);
                if (ws != start) sum = 0;
                start = ws;
                sum += ev_value(i);
            }
            if (start != INT64_MIN) push(&want, k, start + size - 1, sum, 0);
        }
    } else {
        for (int k = 0; k < 4; k++) {
            int64_t end = INT64_MIN, sum = 0;
            bool open = false;
            for (int i = 0; i < PT_N; i++) {
                if (pt_key(i) != k) continue;
                if (open && times[i] > end) { /* Flink merges touching windows: <= end joins */
                    push(&want, k, end - 1, sum, 0);
                    open = false;
                }
                if (!open) sum = 0;
                open = true;
                sum += ev_value(i);
                end = times[i] + gap;
            }
            if (open) push(&want, k, end - 1, sum, 0);
        }
    }
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, sessions ? "processing-time sessions" : "processing-time tumbling");
    for (int i = 0; i <= PT_N; i++) free(rows[i]);
    free(rows);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_schema_unref(ks);
    fl_env_destroy(env);
    fl_manual_clock_destroy(clock_);
}

static void test_processing_time_tumbling(void **state) {
    int64_t *times = malloc(PT_N * sizeof *times);
    for (int i = 0; i < PT_N; i++) times[i] = pt_time(i);
    run_processing_time(false, times);
    free(times);
}

static void test_processing_time_sessions(void **state) {
    /* Per-key gaps: bursts 1-9 ms apart, pauses of 60 ms every 25 rows;
     * never a gap of exactly 25 ms (a tie with the firing time). */
    int64_t *times = malloc(PT_N * sizeof *times);
    int64_t t = 10000;
    for (int i = 0; i < PT_N; i++) {
        t += 1 + (int64_t)(mix((uint32_t)i + 3) % 9) + (i % 25 == 0 ? 60 : 0);
        times[i] = t;
    }
    run_processing_time(true, times);
    free(times);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_trigger_global_purging),
        cmocka_unit_test(test_count_trigger_time_windows),
        cmocka_unit_test(test_count_trigger_sessions),
        cmocka_unit_test(test_continuous_event_time_trigger),
        cmocka_unit_test(test_purging_event_time_trigger),
        cmocka_unit_test(test_user_trigger),
        cmocka_unit_test(test_count_evictor_before),
        cmocka_unit_test(test_time_evictor_after_with_lateness),
        cmocka_unit_test(test_processing_time_tumbling),
        cmocka_unit_test(test_processing_time_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
