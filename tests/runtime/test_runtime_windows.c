/*
 * test_runtime_windows.c - event-time windows on the embedded cluster:
 * tumbling, sliding and session windows over out-of-order events, with
 * allowed lateness (late firings), the late-data side output, at parallelism
 * 1 and 4; the window functions (sum/min/max, reduce, aggregate, process and
 * their combinations); window_all; and keyed state back to nothing once the
 * last window is gone.
 *
 * Every result is checked against a reference computed here from the same
 * events by simulating Flink's rules: after each row the watermark is the
 * highest timestamp so far - bound - 1 (pipeline.auto-watermark-interval=0
 * sends it right after the row); a window fires when the watermark reaches
 * its end - 1, again for every element of the allowed lateness after that,
 * and is gone once the watermark reaches end - 1 + lateness; an element all
 * of whose windows are gone is late data.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "window_util.h"

#define SUM_COUNT_FIELD 2 /* v of (k, ts, v) */
#include "sum_count_util.h"

#define N_EVENTS 4000
#define N_KEYS   7
#define BOUND    60

/* Events: (k, ts, v). Timestamps rise 10 ms per event with random jitter up
 * to 3 * BOUND (rows behind the watermark: late firings), every 53rd row is
 * 230 ms late (late firings or late data, depending on the lateness) and
 * every 97th 700 ms (late data). */
static int64_t ev_key(int i) { return (i * 13) % N_KEYS; }
static int64_t ts_base = 1000; /* negative in one test: time before 1970 */
static int64_t ev_ts(int i) {
    return ts_base + (int64_t)i * 10 + (int64_t)(mix((uint32_t)i) % (3 * BOUND)) -
           (i % 53 == 0 ? 230 : 0) - (i % 97 == 0 ? 700 : 0);
}
static int64_t ev_value(int i) { return i % 100 + 1; }

static fl_schema *event_schema(void) {
    return fl_schema_of(3, "k", FL_BIGINT, "ts", FL_TIMESTAMP, "v", FL_BIGINT);
}

/* ---- the reference for aligned windows ----------------------------------------------------- */

typedef struct win_ref {
    int64_t key, start, end;
    int64_t sum, count, min, max;
    bool fired, gone, used;
} win_ref;

typedef struct sim {
    win_ref *w;
    size_t n, cap;
    int64_t wm, max_ts, lateness;
    results out;  /* every firing: (k, end - 1, sum, count) */
    int64_t late; /* late data */
    int64_t *late_ids;
} sim;

static win_ref *sim_window(sim *s, int64_t key, int64_t start, int64_t end) {
    for (size_t i = 0; i < s->n; i++)
        if (s->w[i].key == key && s->w[i].start == start && s->w[i].end == end) return &s->w[i];
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->w = realloc(s->w, s->cap * sizeof *s->w);
    }
    s->w[s->n] =
        (win_ref){.key = key, .start = start, .end = end, .min = INT64_MAX, .max = INT64_MIN};
    return &s->w[s->n++];
}

static void sim_fire(sim *s, win_ref *w) {
    push5(&s->out, w->key, w->start, w->end - 1, w->sum, w->count);
}

/* The watermark moves to wm: windows fire once at end - 1 and go at end - 1 + lateness. */
static void sim_watermark(sim *s, int64_t wm) {
    if (wm <= s->wm) return;
    s->wm = wm;
    for (size_t i = 0; i < s->n; i++) {
        win_ref *w = &s->w[i];
        if (w->gone) continue;
        if (!w->fired && w->end - 1 <= wm) {
            w->fired = true;
            if (w->count > 0) sim_fire(s, w);
        }
        if (w->end - 1 + s->lateness <= wm) w->gone = true;
    }
}

/* Tumbling (slide == size) or sliding windows starting at offset + k * slide. */
static int64_t offset_ = 0;

static void sim_aligned(sim *s, int64_t size, int64_t slide, int n, int64_t *late_ids) {
    s->wm = INT64_MIN;
    s->max_ts = INT64_MIN;
    for (int i = 0; i < n; i++) {
        int64_t ts = ev_ts(i), k = ev_key(i), v = ev_value(i);
        int64_t last = ts - ((((ts - offset_) % slide) + slide) % slide);
        bool skipped = true;
        for (int64_t start = last; start > ts - size; start -= slide) {
            int64_t end = start + size;
            if (end - 1 + s->lateness <= s->wm) continue; /* late window */
            skipped = false;
            win_ref *w = sim_window(s, k, start, end);
            w->sum += v;
            w->count++;
            if (v < w->min) w->min = v;
            if (v > w->max) w->max = v;
            if (end - 1 <= s->wm) { /* a late firing; no timer for later */
                w->fired = true;
                sim_fire(s, w);
            }
        }
        if (skipped && ts + s->lateness <= s->wm) late_ids[s->late++] = i;
        if (ts > s->max_ts) s->max_ts = ts;
        sim_watermark(s, s->max_ts - BOUND - 1);
    }
    sim_watermark(s, INT64_MAX);
}

/* The aggregate (sum, count) of v, mergeable (sum_count_util.h). */
static fl_schema *acc_schema_, *agg_out_schema_;

static fl_aggregate_function sum_count_agg(void) {
    return (fl_aggregate_function){.acc_schema = acc_schema_,
                                   .out_schema = agg_out_schema_,
                                   .create_accumulator = rt_sum_count_create,
                                   .add = rt_sum_count_add,
                                   .get_result = rt_sum_count_result,
                                   .merge = rt_sum_count_merge};
}

/* (k, start, end, sum, count) from the aggregate's one result. */
int rt_win_agg_window(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                      fl_collector *out) {
    if (n != 1) return fl_context_fail(ctx, "aggregate_process got %zu rows", n);
    if (fl_context_timestamp(ctx) != w->end - 1)
        return fl_context_fail(ctx, "timestamp %lld is not the window's end - 1",
                               (long long)fl_context_timestamp(ctx));
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(fl_context_current_key(ctx), 0));
    fl_row_builder_set_bigint(b, 1, w->start);
    fl_row_builder_set_bigint(b, 2, w->end);
    fl_row_builder_set_bigint(b, 3, fl_row_get_bigint(rows[0], 0));
    fl_row_builder_set_bigint(b, 4, fl_row_get_bigint(rows[0], 1));
    return fl_collector_emit(out);
}

static fl_schema *window_out_schema(void) {
    return fl_schema_of(5, "k", FL_BIGINT, "start", FL_BIGINT, "end", FL_BIGINT, "sum", FL_BIGINT,
                        "count", FL_BIGINT);
}

/* (k, start, end, sum, count) rows as results. */
static results collected_windows(const fl_collect *c) {
    results r = {0};
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *row = fl_collect_row(c, i);
        push5(&r, fl_row_get_bigint(row, 0), fl_row_get_bigint(row, 1),
              fl_row_get_bigint(row, 2) - 1, fl_row_get_bigint(row, 3), fl_row_get_bigint(row, 4));
    }
    return r;
}

/* ---- tumbling and sliding windows with lateness -------------------------------------------- */

/* local: pipeline.window.local-aggregation, which folds the sums' rows
 * before the key_by (op_window_local.c); the results must not change. */
static void run_aligned_with(int parallelism, int64_t size, int64_t slide, int64_t lateness,
                             const char *local) {
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    /* Watermarks every 5 ms of processing time: the local step then holds
     * rows across many input batches before a watermark sends them on. */
    fl_env *env = rt_env(parallelism, "pipeline.auto-watermark-interval", "0",
                         "pipeline.window.local-aggregation", local, NULL);
    fl_stream *src = timed(env, s, rows, N_EVENTS, BOUND);
    fl_window_assigner a = size == slide ? fl_tumbling_event_time_windows(size, offset_)
                                         : fl_sliding_event_time_windows(size, slide, offset_);
    fl_windowed_stream *w = fl_keyed_window(fl_stream_key_by(src, "k"), a);
    fl_window_allowed_lateness(w, lateness);
    fl_window_side_output_late_data(w, "late");
    fl_stream *sums = fl_window_sum(w, "v");
    fl_stream_name(sums, "Window Sum");
    fl_collect *c = fl_stream_collect(fl_stream_process(sums, rt_win_stamp, st));
    fl_collect *late = fl_stream_collect(fl_stream_side_output(sums, "late", s));
    /* The same windows through a mergeable aggregate: sliding windows then
     * keep their contents in slices. */
    acc_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    agg_out_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_schema *wo = window_out_schema();
    fl_windowed_stream *w2 = fl_keyed_window(fl_stream_key_by(src, "k"), a);
    fl_window_allowed_lateness(w2, lateness);
    fl_window_side_output_late_data(w2, "late");
    fl_aggregate_function agg = sum_count_agg();
    fl_stream *aggs = fl_window_aggregate_process(w2, &agg, rt_win_agg_window, wo);
    fl_stream_name(aggs, "Window Aggregate");
    fl_collect *c_agg = fl_stream_collect(aggs);
    fl_collect *late_agg = fl_stream_collect(fl_stream_side_output(aggs, "late", s));
    int64_t before = fl__keyed_state_bytes_at_close("Window Sum");
    int64_t before_agg = fl__keyed_state_bytes_at_close("Window Aggregate");
    rt_execute(env, "aligned windows");

    sim ref = {.lateness = lateness};
    int64_t *late_ids = calloc(N_EVENTS, sizeof *late_ids);
    sim_aligned(&ref, size, slide, N_EVENTS, late_ids);
    assert_true(ref.late > 10);
    /* Late rows: exactly those, in order (one source, one path). */
    assert_int_equal(fl_collect_count(late), ref.late);
    int64_t per_key_seen[N_KEYS] = {0};
    for (size_t i = 0; i < fl_collect_count(late); i++) {
        const fl_row *r = fl_collect_row(late, i);
        per_key_seen[fl_row_get_bigint(r, 0)]++;
    }
    int64_t per_key_want[N_KEYS] = {0};
    for (int64_t i = 0; i < ref.late; i++) per_key_want[ev_key((int)late_ids[i])]++;
    for (int k = 0; k < N_KEYS; k++) assert_int_equal(per_key_seen[k], per_key_want[k]);
    results want = {0};
    for (size_t i = 0; i < ref.out.n; i++)
        push(&want, ref.out.v[i].key, ref.out.v[i].ts, ref.out.v[i].value, 0);
    results got = rt_results(c, 2, -1);
    char what[128];
    snprintf(what, sizeof what, "size %lld slide %lld lateness %lld p %d local %s",
             (long long)size, (long long)slide, (long long)lateness, parallelism, local);
    expect_results(&want, &got, what);
    /* Every window's state is gone after the last watermark. */
    assert_int_equal(state_left("Window Sum", before), 0);
    /* The aggregate: every firing with its window, sum and count. */
    want = (results){0};
    for (size_t i = 0; i < ref.out.n; i++)
        push5(&want, ref.out.v[i].key, ref.out.v[i].start, ref.out.v[i].ts, ref.out.v[i].value,
              ref.out.v[i].extra);
    got = collected_windows(c_agg);
    strncat(what, " aggregate", sizeof what - strlen(what) - 1);
    expect_results(&want, &got, what);
    assert_int_equal(fl_collect_count(late_agg), ref.late);
    assert_int_equal(state_left("Window Aggregate", before_agg), 0);
    free(ref.out.v);
    fl_schema_unref(wo);
    fl_schema_unref(acc_schema_);
    fl_schema_unref(agg_out_schema_);
    free(ref.w);
    free(late_ids);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

static void run_aligned(int parallelism, int64_t size, int64_t slide, int64_t lateness) {
    run_aligned_with(parallelism, size, slide, lateness, "true");
    run_aligned_with(parallelism, size, slide, lateness, "false");
}

static void test_tumbling_lateness_p1(void **state) { run_aligned(1, 200, 200, 150); }
static void test_tumbling_lateness_p4(void **state) { run_aligned(4, 200, 200, 150); }
static void test_tumbling_no_lateness_p4(void **state) { run_aligned(4, 100, 100, 0); }
static void test_sliding_lateness_p1(void **state) { run_aligned(1, 300, 100, 120); }
static void test_sliding_p4(void **state) { run_aligned(4, 250, 50, 0); }

/* Windows starting at an offset, timestamps from before 1970 to after, and a
 * size that is no multiple of the slide. */
static void test_offsets_and_negative_time(void **state) {
    ts_base = -20000;
    offset_ = 37;
    run_aligned(2, 200, 200, 100);
    offset_ = -30;
    run_aligned(1, 250, 100, 60);
    offset_ = 0;
    run_aligned(3, 270, 100, 0);
    ts_base = 1000;
}

/* ---- session windows ----------------------------------------------------------------------- */

#define GAP 45

/* Session events: per key, bursts of rows 0-40 ms apart separated by pauses,
 * interleaved over keys, out of order within BOUND; every 41st row is 300 ms late. */
static int64_t ses_key(int i) { return (i * 5) % N_KEYS; }
static int64_t ses_ts(int i) {
    int64_t base = 1000 + (int64_t)(i / 4) * 25 + (i / 60) * 200; /* a pause every 60 rows */
    return base + (int64_t)(mix((uint32_t)i) % BOUND) - (i % 41 == 0 ? 300 : 0);
}

static fl_row **make_session_events(const fl_schema *s, int n) {
    fl_row **rows = calloc((size_t)n, sizeof *rows);
    fl_row_builder *b = fl_row_builder_create(s);
    for (int i = 0; i < n; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, ses_key(i));
        fl_row_builder_set_timestamp(b, 1, ses_ts(i));
        fl_row_builder_set_bigint(b, 2, ev_value(i));
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    return rows;
}

typedef struct session_ref {
    int64_t key, start, end, sum, count;
    bool fired, gone;
} session_ref;

/* Flink's merging with allowed lateness: merge first, then drop the merged
 * window if it is late; a window at or behind the watermark fires at once;
 * a merged window is a new window whose timer is its end - 1. */
static void sim_sessions(int n, int64_t lateness, results *out, int64_t *late) {
    session_ref *ss = calloc((size_t)n + 1, sizeof *ss);
    size_t ns = 0;
    int64_t wm = INT64_MIN, max_ts = INT64_MIN;
    *late = 0;
    for (int i = 0; i < n; i++) {
        int64_t k = ses_key(i), ts = ses_ts(i), v = ev_value(i);
        session_ref r = {.key = k, .start = ts, .end = ts + GAP};
        int overlapping = 0;
        bool inside = false;
        for (size_t j = 0; j < ns; j++) {
            session_ref *o = &ss[j];
            if (o->gone || o->key != k || !(o->start <= ts + GAP && o->end >= ts)) continue;
            overlapping++;
            inside = o->start <= ts && ts + GAP <= o->end;
        }
        session_ref *target;
        if (overlapping == 1 && inside) {
            for (target = ss; target->gone || target->key != k ||
                              !(target->start <= ts && ts + GAP <= target->end);
                 target++)
                ;
        } else {
            for (size_t j = 0; j < ns; j++) {
                session_ref *o = &ss[j];
                if (o->gone || o->key != k || !(o->start <= r.end && o->end >= r.start)) continue;
                if (o->start < r.start) r.start = o->start;
                if (o->end > r.end) r.end = o->end;
                r.sum += o->sum;
                r.count += o->count;
                o->gone = true;
            }
            if (r.end - 1 + lateness <= wm) { /* a late new window */
                if (ts + lateness <= wm) (*late)++;
                goto advance;
            }
            ss[ns] = r;
            target = &ss[ns++];
            if (target->end - 1 <= wm) target->fired = true; /* fires now, no timer */
        }
        target->sum += v;
        target->count++;
        if (target->end - 1 <= wm)
            push5(out, k, target->start, target->end - 1, target->sum, target->count);
    advance:
        if (ts > max_ts) max_ts = ts;
        int64_t next = i == n - 1 ? INT64_MAX : max_ts - BOUND - 1;
        if (next <= wm) continue;
        wm = next;
        for (size_t j = 0; j < ns; j++) {
            session_ref *o = &ss[j];
            if (o->gone) continue;
            if (!o->fired && o->end - 1 <= wm) {
                o->fired = true;
                push5(out, o->key, o->start, o->end - 1, o->sum, o->count);
            }
            if (o->end - 1 + lateness <= wm) o->gone = true;
        }
    }
    free(ss);
}

/* reduce: sum of v (first row's other fields). */
int rt_win_reduce_sum(fl_context *ctx, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_copy_row(out, acc);
    fl_row_builder_set_bigint(out, 2, fl_row_get_bigint(acc, 2) + fl_row_get_bigint(in, 2));
    return 0;
}

static void run_sessions(int parallelism, int64_t lateness, bool use_reduce) {
    enum { N = 3000 };
    fl_schema *s = event_schema(), *st = stamped_schema(), *wo = window_out_schema();
    acc_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    agg_out_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_row **rows = make_session_events(s, N);
    fl_env *env = rt_env(parallelism, "pipeline.auto-watermark-interval", "0", NULL);
    fl_stream *src = timed(env, s, rows, N, BOUND);
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(src, "k"), fl_event_time_session_windows(GAP));
    fl_window_allowed_lateness(w, lateness);
    fl_window_side_output_late_data(w, "late");
    fl_stream *win;
    fl_collect *c;
    if (use_reduce) {
        win = fl_window_reduce(w, rt_win_reduce_sum);
        c = fl_stream_collect(fl_stream_process(win, rt_win_stamp, st));
    } else {
        fl_aggregate_function agg = sum_count_agg();
        win = fl_window_aggregate_process(w, &agg, rt_win_agg_window, wo);
        c = fl_stream_collect(win);
    }
    fl_stream_name(win, "Sessions");
    fl_collect *late = fl_stream_collect(fl_stream_side_output(win, "late", s));
    int64_t before = fl__keyed_state_bytes_at_close("Sessions");
    rt_execute(env, "sessions");

    results want = {0};
    int64_t n_late;
    sim_sessions(N, lateness, &want, &n_late);
    assert_true(n_late > 5);
    assert_int_equal(fl_collect_count(late), n_late);
    results got;
    if (use_reduce) {
        /* Only (k, end - 1, sum) are known to the reduce's output. */
        for (size_t i = 0; i < want.n; i++) want.v[i].start = want.v[i].extra = 0;
        got = rt_results(c, 2, -1);
    } else {
        got = collected_windows(c);
    }
    expect_results(&want, &got, use_reduce ? "sessions (reduce)" : "sessions (aggregate)");
    assert_int_equal(state_left("Sessions", before), 0);
    free_rows(rows, N);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_schema_unref(wo);
    fl_schema_unref(acc_schema_);
    fl_schema_unref(agg_out_schema_);
    fl_env_destroy(env);
}

static void test_sessions_aggregate_p1(void **state) { run_sessions(1, 0, false); }
static void test_sessions_aggregate_lateness_p4(void **state) { run_sessions(4, 150, false); }
static void test_sessions_reduce_lateness_p1(void **state) { run_sessions(1, 90, true); }

/* ---- every window function on the same windows --------------------------------------------- */

/* process: (k, start, end, sum, count) over all rows, and min/max checked against them. */
int rt_win_process_all(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                       fl_collector *out) {
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = fl_row_get_timestamp(rows[i], 1);
        if (ts < w->start || ts >= w->end)
            return fl_context_fail(ctx, "row at %lld in window [%lld, %lld)", (long long)ts,
                                   (long long)w->start, (long long)w->end);
        sum += fl_row_get_bigint(rows[i], 2);
    }
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(fl_context_current_key(ctx), 0));
    fl_row_builder_set_bigint(b, 1, w->start);
    fl_row_builder_set_bigint(b, 2, w->end);
    fl_row_builder_set_bigint(b, 3, sum);
    fl_row_builder_set_bigint(b, 4, (int64_t)n);
    return fl_collector_emit(out);
}

/* reduce_process: (k, start, end, reduced sum, 1). */
int rt_win_reduced_window(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                          fl_collector *out) {
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(rows[0], 0));
    fl_row_builder_set_bigint(b, 1, w->start);
    fl_row_builder_set_bigint(b, 2, w->end);
    fl_row_builder_set_bigint(b, 3, fl_row_get_bigint(rows[0], 2));
    fl_row_builder_set_bigint(b, 4, (int64_t)n);
    return fl_collector_emit(out);
}

/* aggregate's (sum, count) results stamped with the key... by the process
 * after the window: the key is not in the aggregate's output. */
int rt_win_agg_stamp(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0,
                              fl_row_get_bigint(in, 1)); /* count as key: compared as a multiset */
    fl_row_builder_set_bigint(b, 1, fl_context_timestamp(ctx));
    fl_row_builder_set_bigint(b, 2, fl_row_get_bigint(in, 0));
    return fl_collector_emit(out);
}

static void test_window_functions_p2(void **state) {
    const int64_t size = 150, lateness = 100;
    fl_schema *s = event_schema(), *st = stamped_schema(), *wo = window_out_schema();
    acc_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    agg_out_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_keyed_stream *k = fl_stream_key_by(timed(env, s, rows, N_EVENTS, BOUND), "k");
    fl_window_assigner a = fl_tumbling_event_time_windows(size, 0);
#define WIN() fl_window_allowed_lateness(fl_keyed_window(k, a), lateness)
    fl_collect *c_min =
        fl_stream_collect(fl_stream_process(fl_window_min(WIN(), "v"), rt_win_stamp, st));
    fl_collect *c_max =
        fl_stream_collect(fl_stream_process(fl_window_max(WIN(), "v"), rt_win_stamp, st));
    fl_collect *c_reduce = fl_stream_collect(
        fl_stream_process(fl_window_reduce(WIN(), rt_win_reduce_sum), rt_win_stamp, st));
    fl_aggregate_function agg = sum_count_agg();
    fl_collect *c_agg = fl_stream_collect(
        fl_stream_process(fl_window_aggregate(WIN(), &agg), rt_win_agg_stamp, st));
    fl_stream *proc = fl_window_process(WIN(), rt_win_process_all, wo);
    fl_stream_name(proc, "Process All");
    fl_collect *c_proc = fl_stream_collect(proc);
    fl_collect *c_rp = fl_stream_collect(
        fl_window_reduce_process(WIN(), rt_win_reduce_sum, rt_win_reduced_window, wo));
#undef WIN
    int64_t before = fl__keyed_state_bytes_at_close("Process All");
    rt_execute(env, "window functions");

    sim ref = {.lateness = lateness};
    int64_t *late_ids = calloc(N_EVENTS, sizeof *late_ids);
    sim_aligned(&ref, size, size, N_EVENTS, late_ids);
    results want;
    /* sum via reduce */
    want = (results){0};
    for (size_t i = 0; i < ref.out.n; i++)
        push(&want, ref.out.v[i].key, ref.out.v[i].ts, ref.out.v[i].value, 0);
    results got = rt_results(c_reduce, 2, -1);
    expect_results(&want, &got, "reduce");
    /* process: everything */
    want = (results){0};
    for (size_t i = 0; i < ref.out.n; i++)
        push5(&want, ref.out.v[i].key, ref.out.v[i].start, ref.out.v[i].ts, ref.out.v[i].value,
              ref.out.v[i].extra);
    got = collected_windows(c_proc);
    expect_results(&want, &got, "process");
    /* reduce_process */
    want = (results){0};
    for (size_t i = 0; i < ref.out.n; i++)
        push5(&want, ref.out.v[i].key, ref.out.v[i].start, ref.out.v[i].ts, ref.out.v[i].value, 1);
    got = collected_windows(c_rp);
    expect_results(&want, &got, "reduce_process");
    /* aggregate: (count, end - 1, sum) */
    want = (results){0};
    for (size_t i = 0; i < ref.out.n; i++)
        push(&want, ref.out.v[i].extra, ref.out.v[i].ts, ref.out.v[i].value, 0);
    got = rt_results(c_agg, 2, -1);
    expect_results(&want, &got, "aggregate");
    /* min and max: recompute per firing from the windows' contents so far.
     * Every firing of a window reports the extreme of all its rows so far,
     * so the final firing of each window reports its overall min/max; and a
     * window fires count-many distinct prefixes. Check the final ones. */
    results got_min = rt_results(c_min, 2, -1), got_max = rt_results(c_max, 2, -1);
    assert_int_equal(got_min.n, ref.out.n);
    assert_int_equal(got_max.n, ref.out.n);
    for (size_t i = 0; i < ref.n; i++) {
        win_ref *w = &ref.w[i];
        if (w->count == 0) continue;
        bool found_min = false, found_max = false;
        for (size_t j = 0; j < got_min.n; j++)
            found_min |= got_min.v[j].key == w->key && got_min.v[j].ts == w->end - 1 &&
                         got_min.v[j].value == w->min;
        for (size_t j = 0; j < got_max.n; j++)
            found_max |= got_max.v[j].key == w->key && got_max.v[j].ts == w->end - 1 &&
                         got_max.v[j].value == w->max;
        if (!found_min || !found_max)
            fail_msg("window k %lld [%lld, %lld): min %lld / max %lld not reported",
                     (long long)w->key, (long long)w->start, (long long)w->end, (long long)w->min,
                     (long long)w->max);
    }
    free(got_min.v);
    free(got_max.v);
    assert_int_equal(state_left("Process All", before), 0);
    free(ref.out.v);
    free(ref.w);
    free(late_ids);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_schema_unref(wo);
    fl_schema_unref(acc_schema_);
    fl_schema_unref(agg_out_schema_);
    fl_env_destroy(env);
}

/* ---- per-window state ---------------------------------------------------------------------- */

/* Counts the firings of each window in per-window state: (k, start, end, firing, count). */
int rt_win_firings(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                   fl_collector *out) {
    fl_schema *s = fl_schema_of(1, "n", FL_BIGINT);
    fl_value_state *firings = fl_context_value_state(ctx, "firings", s, NULL);
    fl_list_state *seen = fl_context_list_state(ctx, "seen", s, NULL);
    if (!firings || !seen) {
        fl_schema_unref(s);
        return -1;
    }
    const fl_row *cur = fl_value_state_get(firings);
    int64_t f = (cur ? fl_row_get_bigint(cur, 0) : 0) + 1;
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row_builder_set_bigint(b, 0, f);
    int rc = fl_value_state_update(firings, fl_row_builder_finish(b));
    if (rc == 0) rc = fl_list_state_add(seen, fl_row_builder_finish(b));
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
    size_t n_seen;
    fl_list_state_get(seen, &n_seen);
    if (rc < 0 || (int64_t)n_seen != f) return fl_context_fail(ctx, "per-window list state wrong");
    fl_row_builder *o = fl_collector_builder(out);
    fl_row_builder_set_bigint(o, 0, fl_row_get_bigint(fl_context_current_key(ctx), 0));
    fl_row_builder_set_bigint(o, 1, w->start);
    fl_row_builder_set_bigint(o, 2, w->end);
    fl_row_builder_set_bigint(o, 3, f);
    fl_row_builder_set_bigint(o, 4, (int64_t)n);
    return fl_collector_emit(out);
}

static void test_per_window_state(void **state) {
    const int64_t size = 200, lateness = 150;
    fl_schema *s = event_schema(), *wo = window_out_schema();
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(3, "pipeline.auto-watermark-interval", "0", NULL);
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(timed(env, s, rows, N_EVENTS, BOUND), "k"),
                        fl_tumbling_event_time_windows(size, 0));
    fl_window_allowed_lateness(w, lateness);
    fl_stream *p = fl_window_process(w, rt_win_firings, wo);
    fl_stream_name(p, "Firings");
    fl_collect *c = fl_stream_collect(p);
    int64_t before = fl__keyed_state_bytes_at_close("Firings");
    rt_execute(env, "per-window state");

    sim ref = {.lateness = lateness};
    int64_t *late_ids = calloc(N_EVENTS, sizeof *late_ids);
    sim_aligned(&ref, size, size, N_EVENTS, late_ids);
    /* The i-th firing of a window (in the order of the reference's firings) is number i. */
    results want = {0};
    for (size_t i = 0; i < ref.out.n; i++) {
        int64_t nth = 1;
        for (size_t j = 0; j < i; j++)
            nth += ref.out.v[j].key == ref.out.v[i].key && ref.out.v[j].ts == ref.out.v[i].ts;
        push5(&want, ref.out.v[i].key, ref.out.v[i].start, ref.out.v[i].ts, nth,
              ref.out.v[i].extra);
    }
    results got = collected_windows(c);
    expect_results(&want, &got, "per-window state");
    /* The per-window states went with their windows. */
    assert_int_equal(state_left("Firings", before), 0);
    free(ref.out.v);
    free(ref.w);
    free(late_ids);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(wo);
    fl_env_destroy(env);
}

/* ---- two-phase aggregation: folding before the key_by --------------------------------------- */

/* With watermarks an hour apart of processing time, the only watermark the
 * windows see is the one at the end of input, so the local step folds every
 * row of a key and slice into one before the exchange: sum, min and max over
 * tumbling and sliding windows at parallelism 2 must still be those of a
 * plain reference, with the local step on and off; and so must a merging
 * aggregate (sum and count), whose rows then cross as accumulators. With few
 * keys the rows of a key and slice fold by the dozen; with more keys and
 * slices than the local table holds (65 536), it also sends its rows on when
 * full. */
static int fold_keys;
static int64_t fold_key(int i) { return i % fold_keys; }

/* The threads the tumbling aggregate's add ran in, and those its window
 * fired in: folded before the key_by, add runs in the source's task and
 * never where the windows fire; not folded, only there. */
#define MAX_THREADS 8
static struct {
    pthread_mutex_t mu;
    pthread_t add[MAX_THREADS], fire[MAX_THREADS];
    int n_add, n_fire;
} threads = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void note_thread(pthread_t *set, int *n) {
    pthread_mutex_lock(&threads.mu);
    bool seen = false;
    for (int i = 0; i < *n; i++) seen |= pthread_equal(set[i], pthread_self()) != 0;
    if (!seen && *n < MAX_THREADS) set[(*n)++] = pthread_self();
    pthread_mutex_unlock(&threads.mu);
}

static bool in_set(const pthread_t *set, int n, pthread_t t) {
    for (int i = 0; i < n; i++)
        if (pthread_equal(set[i], t)) return true;
    return false;
}

int rt_win_fold_add(fl_context *ctx, const fl_row *in, const fl_row *acc, fl_row_builder *out) {
    note_thread(threads.add, &threads.n_add);
    return rt_sum_count_add(ctx, in, acc, out);
}

int rt_win_fold_window(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                       fl_collector *out) {
    note_thread(threads.fire, &threads.n_fire);
    return rt_win_agg_window(ctx, w, rows, n, out);
}
/* Time rising 1 ms per row, with jitter. */
static int64_t fold_ts(int i) { return (int64_t)i + (int64_t)(mix((uint32_t)i) % 50); }

static void run_folded(const char *local, int keys, int n) {
    fold_keys = keys;
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, n, fold_key, fold_ts, ev_value);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "1 h",
                         "pipeline.window.local-aggregation", local, NULL);
    fl_keyed_stream *k = fl_stream_key_by(timed(env, s, rows, n, BOUND), "k");
    fl_collect *c_sum = fl_stream_collect(fl_stream_process(
        fl_window_sum(fl_keyed_window(k, fl_tumbling_event_time_windows(700, 0)), "v"),
        rt_win_stamp, st));
    fl_collect *c_min = fl_stream_collect(fl_stream_process(
        fl_window_min(fl_keyed_window(k, fl_sliding_event_time_windows(900, 300, 0)), "v"),
        rt_win_stamp, st));
    fl_collect *c_max = fl_stream_collect(fl_stream_process(
        fl_window_max(fl_keyed_window(k, fl_sliding_event_time_windows(900, 300, 0)), "v"),
        rt_win_stamp, st));
    /* A merging aggregate: rows cross as (key, accumulator); the sliding
     * one is also kept in slices by the window. */
    acc_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    agg_out_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_schema *wo = window_out_schema();
    fl_aggregate_function agg = sum_count_agg(), traced = agg;
    traced.add = rt_win_fold_add;
    threads.n_add = threads.n_fire = 0;
    fl_collect *c_agg_t = fl_stream_collect(fl_window_aggregate_process(
        fl_keyed_window(k, fl_tumbling_event_time_windows(700, 0)), &traced, rt_win_fold_window,
        wo));
    fl_collect *c_agg_s = fl_stream_collect(fl_window_aggregate_process(
        fl_keyed_window(k, fl_sliding_event_time_windows(900, 300, 0)), &agg, rt_win_agg_window,
        wo));
    rt_execute(env, "folded windows");
    assert_true(threads.n_add > 0 && threads.n_fire > 0);
    for (int i = 0; i < threads.n_add; i++)
        if (in_set(threads.fire, threads.n_fire, threads.add[i]) != (strcmp(local, "false") == 0))
            fail_msg("local %s: the aggregate's add ran %s the windows' threads", local,
                     strcmp(local, "false") == 0 ? "outside" : "in");

    /* Reference: per key, every window its rows' times reach. */
    results want_sum = {0}, want_min = {0}, want_max = {0}, want_agg_t = {0}, want_agg_s = {0};
    for (int key = 0; key < keys && key < n; key++) {
        int64_t first = INT64_MAX, last = INT64_MIN;
        for (int i = key; i < n; i += keys) {
            if (fold_ts(i) < first) first = fold_ts(i);
            if (fold_ts(i) > last) last = fold_ts(i);
        }
        for (int64_t start = first - first % 700; start <= last; start += 700) {
            int64_t sum = 0;
            bool any = false;
            for (int i = key; i < n; i += keys)
                if (fold_ts(i) >= start && fold_ts(i) < start + 700) sum += ev_value(i), any = true;
            if (any) push(&want_sum, key, start + 699, sum, 0);
            int64_t count = 0;
            for (int i = key; i < n; i += keys)
                count += fold_ts(i) >= start && fold_ts(i) < start + 700;
            if (any) push5(&want_agg_t, key, start, start + 699, sum, count);
        }
        for (int64_t start = first - first % 300 - 600; start <= last; start += 300) {
            int64_t lo = INT64_MAX, hi = INT64_MIN;
            for (int i = key; i < n; i += keys)
                if (fold_ts(i) >= start && fold_ts(i) < start + 900) {
                    if (ev_value(i) < lo) lo = ev_value(i);
                    if (ev_value(i) > hi) hi = ev_value(i);
                }
            if (lo == INT64_MAX) continue;
            push(&want_min, key, start + 899, lo, 0);
            push(&want_max, key, start + 899, hi, 0);
            int64_t sum = 0, count = 0;
            for (int i = key; i < n; i += keys)
                if (fold_ts(i) >= start && fold_ts(i) < start + 900) sum += ev_value(i), count++;
            push5(&want_agg_s, key, start, start + 899, sum, count);
        }
    }
    char what[96];
    results got = rt_results(c_sum, 2, -1);
    snprintf(what, sizeof what, "folded sum, %d keys, local %s", keys, local);
    expect_results(&want_sum, &got, what);
    got = rt_results(c_min, 2, -1);
    snprintf(what, sizeof what, "folded min, %d keys, local %s", keys, local);
    expect_results(&want_min, &got, what);
    got = rt_results(c_max, 2, -1);
    snprintf(what, sizeof what, "folded max, %d keys, local %s", keys, local);
    expect_results(&want_max, &got, what);
    got = collected_windows(c_agg_t);
    snprintf(what, sizeof what, "folded tumbling aggregate, %d keys, local %s", keys, local);
    expect_results(&want_agg_t, &got, what);
    got = collected_windows(c_agg_s);
    snprintf(what, sizeof what, "folded sliding aggregate, %d keys, local %s", keys, local);
    expect_results(&want_agg_s, &got, what);
    fl_schema_unref(wo);
    fl_schema_unref(acc_schema_);
    fl_schema_unref(agg_out_schema_);
    free_rows(rows, n);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

/* A STRING key (the local step's single-string-key path) and a BIGINT sum
 * (its sum path), with null keys and null values: (k STRING, ts, v BIGINT),
 * key "w<i % 7>", null every 11th row and the empty string every 13th (a
 * null key is not the empty one), v null every 5th row. Each window's sum
 * is the sum of its non-null values, null when it has none. */
static int string_key(int i) { return i % 11 == 10 ? -1 : i % 13 == 12 ? -2 : i % 7; }
static bool null_value(int i) { return i % 5 == 4 || (i / 7) % 13 == 12; }

/* process (k STRING, ts, v) -> (k as 0..6 or -1 for null, window end - 1,
 * v or INT64_MIN for null) */
int rt_win_stamp_string(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fl_row_builder *b = fl_collector_builder(out);
    uint32_t len;
    const char *k = fl_row_is_null(in, 0) ? NULL : fl_row_get_string(in, 0, &len);
    fl_row_builder_set_bigint(b, 0, !k ? -1 : len == 0 ? -2 : k[1] - '0');
    fl_row_builder_set_bigint(b, 1, fl_context_timestamp(ctx));
    fl_row_builder_set_bigint(b, 2, fl_row_is_null(in, 2) ? INT64_MIN : fl_row_get_bigint(in, 2));
    return fl_collector_emit(out);
}

static void run_string_key_nulls(const char *local) {
    enum { N = 20000, WIN = 500 };
    fl_schema *s = fl_schema_of(3, "k", FL_STRING, "ts", FL_TIMESTAMP, "v", FL_BIGINT);
    fl_row **rows = calloc(N, sizeof *rows);
    fl_row_builder *rb = fl_row_builder_create(s);
    for (int i = 0; i < N; i++) {
        fl_row_builder_reset(rb);
        if (string_key(i) >= 0) {
            char k[4] = {'w', (char)('0' + string_key(i)), 0, 0};
            fl_row_builder_set_string(rb, 0, k, 2);
        } else if (string_key(i) == -2) {
            fl_row_builder_set_string(rb, 0, "", 0);
        }
        fl_row_builder_set_timestamp(rb, 1, fold_ts(i));
        if (!null_value(i)) fl_row_builder_set_bigint(rb, 2, ev_value(i));
        rows[i] = fl_row_copy(fl_row_builder_finish(rb));
    }
    fl_row_builder_destroy(rb);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "1 h",
                         "pipeline.window.local-aggregation", local, NULL);
    fl_keyed_stream *k = fl_stream_key_by(timed(env, s, rows, N, BOUND), "k");
    fl_schema *st = stamped_schema();
    fl_collect *c = fl_stream_collect(fl_stream_process(
        fl_window_sum(fl_keyed_window(k, fl_tumbling_event_time_windows(WIN, 0)), "v"),
        rt_win_stamp_string, st));
    rt_execute(env, "string keys and nulls");
    results want = {0};
    for (int key = -2; key < 7; key++) {
        int64_t first = INT64_MAX, last = INT64_MIN;
        for (int i = 0; i < N; i++)
            if (string_key(i) == key) {
                if (fold_ts(i) < first) first = fold_ts(i);
                if (fold_ts(i) > last) last = fold_ts(i);
            }
        for (int64_t start = first - first % WIN; start <= last; start += WIN) {
            int64_t sum = 0;
            bool rows_in = false, values_in = false;
            for (int i = 0; i < N; i++) {
                if (string_key(i) != key || fold_ts(i) < start || fold_ts(i) >= start + WIN) continue;
                rows_in = true;
                if (!null_value(i)) sum += ev_value(i), values_in = true;
            }
            if (rows_in) push(&want, key, start + WIN - 1, values_in ? sum : INT64_MIN, 0);
        }
    }
    results got = rt_results(c, 2, -1);
    char what[64];
    snprintf(what, sizeof what, "string keys and nulls, local %s", local);
    expect_results(&want, &got, what);
    free_rows(rows, N);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

static void test_local_aggregation_string_keys_and_nulls(void **state) {
    run_string_key_nulls("true");
    run_string_key_nulls("false");
}

static void test_local_aggregation_folds(void **state) {
    run_folded("true", 50, 60000);
    run_folded("false", 50, 60000);
    run_folded("true", 100000, 100000);
}

int rt_win_discard(fl_context *ctx, const fl_row *in) {
    (void)ctx;
    (void)in;
    return 0;
}

/* Rows of 1.5 KiB (a padding string): the local table reaches its 16 MiB of
 * rows long before its 65 536 keys and sends them on; the sums per key and
 * window still add up. */
static void test_local_aggregation_large_rows(void **state) {
    enum { N = 16000, KEYS = 8000, PAD = 1500 };
    fl_schema *s = fl_schema_of(4, "k", FL_BIGINT, "ts", FL_TIMESTAMP, "v", FL_BIGINT, "pad",
                                FL_STRING);
    fl_schema *st = stamped_schema();
    char *pad = malloc(PAD);
    memset(pad, 'x', PAD);
    fl_row **rows = calloc(N, sizeof *rows);
    fl_row_builder *rb = fl_row_builder_create(s);
    for (int i = 0; i < N; i++) {
        fl_row_builder_reset(rb);
        fl_row_builder_set_bigint(rb, 0, i % KEYS);
        fl_row_builder_set_timestamp(rb, 1, i / 10);
        fl_row_builder_set_bigint(rb, 2, ev_value(i));
        fl_row_builder_set_string(rb, 3, pad, PAD);
        rows[i] = fl_row_copy(fl_row_builder_finish(rb));
    }
    fl_row_builder_destroy(rb);
    free(pad);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "1 h", NULL);
    fl_keyed_stream *k = fl_stream_key_by(timed(env, s, rows, N, BOUND), "k");
    fl_collect *c = fl_stream_collect(fl_stream_process(
        fl_window_sum(fl_keyed_window(k, fl_tumbling_event_time_windows(1000, 0)), "v"),
        rt_win_stamp, st));
    rt_execute(env, "large rows");
    results want = {0};
    for (int key = 0; key < KEYS; key++)
        for (int64_t start = 0; start < N / 10; start += 1000) {
            int64_t sum = 0;
            bool any = false;
            for (int i = key; i < N; i += KEYS)
                if (i / 10 >= start && i / 10 < start + 1000) sum += ev_value(i), any = true;
            if (any) push(&want, key, start + 999, sum, 0);
        }
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, "large rows");
    free_rows(rows, N);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

/* The plan has the local step in front of the key_by of a window sum or a
 * merging aggregate over event-time windows, and not when switched off, for
 * a process function, processing time, sessions, an aggregate without
 * merge, or an aggregate whose late data goes to a side output. */
static bool plan_has_local(const char *local, int which) {
    fl_schema *s = event_schema();
    fl_row **rows = make_rows(s, 10, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(2, "pipeline.window.local-aggregation", local, NULL);
    fl_keyed_stream *k = fl_stream_key_by(timed(env, s, rows, 10, BOUND), "k");
    fl_window_assigner a = which == 2   ? fl_tumbling_processing_time_windows(100, 0)
                           : which == 3 ? fl_event_time_session_windows(100)
                                        : fl_tumbling_event_time_windows(100, 0);
    fl_windowed_stream *w = fl_keyed_window(k, a);
    fl_schema *wo = window_out_schema();
    acc_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    agg_out_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_aggregate_function agg = sum_count_agg();
    if (which == 5) agg.merge = NULL;
    if (which == 6) fl_window_side_output_late_data(w, "late");
    fl_stream *r = which == 1   ? fl_window_process(w, rt_win_process_all, wo)
                   : which >= 4 ? fl_window_aggregate_process(w, &agg, rt_win_agg_window, wo)
                                : fl_window_sum(w, "v");
    fl_stream_sink(r, rt_win_discard);
    fl_schema_unref(wo);
    fl_schema_unref(acc_schema_);
    fl_schema_unref(agg_out_schema_);
    char *plan = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&plan, &len);
    fl__env_set_plan_only(env, out);
    rt_execute(env, "plan");
    fclose(out);
    bool has = strstr(plan, "Local Window") != NULL;
    free(plan);
    free_rows(rows, 10);
    fl_schema_unref(s);
    fl_env_destroy(env);
    return has;
}

static void test_local_aggregation_plan(void **state) {
    assert_true(plan_has_local("true", 0));
    assert_false(plan_has_local("false", 0));
    assert_false(plan_has_local("true", 1)); /* process function */
    assert_false(plan_has_local("true", 2)); /* processing time */
    assert_false(plan_has_local("true", 3)); /* sessions */
    assert_true(plan_has_local("true", 4));  /* an aggregate that merges */
    assert_false(plan_has_local("true", 5)); /* one that does not */
    assert_false(plan_has_local("true", 6)); /* late data to a side output */
}

/* ---- window_all ---------------------------------------------------------------------------- */

static void test_window_all(void **state) {
    const int64_t size = 300;
    fl_schema *s = event_schema(), *st = stamped_schema();
    fl_row **rows = make_rows(s, N_EVENTS, ev_key, ev_ts, ev_value);
    fl_env *env = rt_env(3, "pipeline.auto-watermark-interval", "0", NULL);
    fl_windowed_stream *w = fl_stream_window_all(timed(env, s, rows, N_EVENTS, BOUND),
                                                 fl_sliding_event_time_windows(size, 100, 0));
    fl_window_side_output_late_data(w, "late");
    fl_stream *sums = fl_window_sum(w, "v");
    fl_stream_name(sums, "All Sum");
    fl_collect *c = fl_stream_collect(fl_stream_process(sums, rt_win_stamp, st));
    fl_collect *late = fl_stream_collect(fl_stream_side_output(sums, "late", s));
    int64_t before = fl__keyed_state_bytes_at_close("All Sum");
    rt_execute(env, "window all");

    /* Reference: the keyed simulation with every key summed per window. */
    sim ref = {0};
    int64_t *late_ids = calloc(N_EVENTS, sizeof *late_ids);
    sim_aligned(&ref, size, 100, N_EVENTS, late_ids);
    int64_t total_rows = 0;
    for (size_t i = 0; i < ref.n; i++) total_rows += ref.w[i].count;
    /* Per window: the sum over keys. */
    results want = {0};
    for (size_t i = 0; i < ref.n; i++) {
        win_ref *x = &ref.w[i];
        if (x->count == 0) continue;
        bool first = true;
        for (size_t j = 0; j < i; j++) first &= !(ref.w[j].start == x->start && ref.w[j].count > 0);
        if (!first) continue;
        int64_t sum = 0;
        for (size_t j = i; j < ref.n; j++)
            if (ref.w[j].start == x->start) sum += ref.w[j].sum;
        push(&want, 0, x->end - 1, sum, 0);
    }
    results got = rt_results(c, 2, -1);
    for (size_t i = 0; i < got.n; i++) got.v[i].key = 0; /* the first row's k */
    expect_results(&want, &got, "window all");
    assert_int_equal(fl_collect_count(late), ref.late);
    assert_true(total_rows > 0);
    assert_int_equal(state_left("All Sum", before), 0);
    free(ref.out.v);
    free(ref.w);
    free(late_ids);
    free_rows(rows, N_EVENTS);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tumbling_lateness_p1),
        cmocka_unit_test(test_tumbling_lateness_p4),
        cmocka_unit_test(test_tumbling_no_lateness_p4),
        cmocka_unit_test(test_sliding_lateness_p1),
        cmocka_unit_test(test_sliding_p4),
        cmocka_unit_test(test_offsets_and_negative_time),
        cmocka_unit_test(test_sessions_aggregate_p1),
        cmocka_unit_test(test_sessions_aggregate_lateness_p4),
        cmocka_unit_test(test_sessions_reduce_lateness_p1),
        cmocka_unit_test(test_window_functions_p2),
        cmocka_unit_test(test_per_window_state),
        cmocka_unit_test(test_window_all),
        cmocka_unit_test(test_local_aggregation_folds),
        cmocka_unit_test(test_local_aggregation_string_keys_and_nulls),
        cmocka_unit_test(test_local_aggregation_large_rows),
        cmocka_unit_test(test_local_aggregation_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
