/*
 * test_runtime_interval_join.c - the interval join: random keys and
 * timestamps at parallelism 1 and 4 against a nested-loop reference, with
 * inclusive and exclusive, negative and positive bounds, the result's
 * timestamp (the larger of the pair's), and state freed once the watermark
 * passes (the keyed backend's bytes at close). A second part drives the
 * operator directly, row by row and watermark by watermark, to check late
 * rows (dropped, as in Flink) and exactly when buffered rows are cleaned up.
 * Then the errors: a join without event time.
 */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "flinc/window.h"
#include "keyed_state.h"
#include "rt_util.h"
#include "runtime_int.h"

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Left (lk, lts, lval), right (rts, rk, rval): different layouts and names,
 * keys of the same type. */
static fl_schema *left_schema(void) {
    return fl_schema_of(3, "lk", FL_BIGINT, "lts", FL_TIMESTAMP, "lval", FL_BIGINT);
}
static fl_schema *right_schema(void) {
    return fl_schema_of(3, "rts", FL_TIMESTAMP, "rk", FL_BIGINT, "rval", FL_BIGINT);
}
/* (key, lval, rval, lts, rts, context timestamp, record timestamp) */
static fl_schema *pair_schema(void) {
    return fl_schema_of(7, "key", FL_BIGINT, "lval", FL_BIGINT, "rval", FL_BIGINT, "lts", FL_BIGINT,
                        "rts", FL_BIGINT, "ctx_ts", FL_BIGINT, "rec_ts", FL_BIGINT);
}

int rt_ij_join(fl_context *ctx, const fl_row *left, const fl_row *right, fl_row_builder *out) {
    if (fl_row_get_bigint(left, 0) != fl_row_get_bigint(right, 1))
        return fl_context_fail(ctx, "a pair of different keys");
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(left, 0));
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(left, 2));
    fl_row_builder_set_bigint(out, 2, fl_row_get_bigint(right, 2));
    fl_row_builder_set_bigint(out, 3, fl_row_get_timestamp(left, 1));
    fl_row_builder_set_bigint(out, 4, fl_row_get_timestamp(right, 0));
    fl_row_builder_set_bigint(out, 5, fl_context_timestamp(ctx));
    fl_row_builder_set_bigint(out, 6, -1);
    return 0;
}

/* After the join: stamps the record's own timestamp into the last field. */
int rt_ij_stamp(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    for (int i = 0; i < 6; i++) fl_row_builder_set_bigint(out, i, fl_row_get_bigint(in, i));
    fl_row_builder_set_bigint(out, 6, fl_context_timestamp(ctx));
    return 0;
}

int64_t rt_ij_left_ts(fl_context *ctx, const fl_row *in, int64_t previous) {
    return fl_row_get_timestamp(in, 1);
}
int64_t rt_ij_right_ts(fl_context *ctx, const fl_row *in, int64_t previous) {
    return fl_row_get_timestamp(in, 0);
}

/* ---- random rows against a nested loop
 * ----------------------------------------------------------- */

#define N_SIDE   4000
#define N_KEYS   10
#define DISORDER 60 /* timestamps out of order by up to this much (the watermark's bound) */

typedef struct jrow {
    int64_t key, ts, val;
} jrow;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void gen_side(jrow *rows, uint64_t seed, int64_t val_base) {
    uint64_t s = seed;
    for (int i = 0; i < N_SIDE; i++) {
        rows[i].key = (int64_t)(rng_next(&s) % N_KEYS);
        rows[i].ts = (int64_t)i * 3 + (int64_t)(rng_next(&s) % (DISORDER + 1));
        rows[i].val = val_base + i;
    }
}

static fl_row **to_rows(const jrow *r, bool left) {
    fl_schema *s = left ? left_schema() : right_schema();
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row **rows = calloc(N_SIDE, sizeof *rows);
    for (int i = 0; i < N_SIDE; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, left ? 0 : 1, r[i].key);
        fl_row_builder_set_timestamp(b, left ? 1 : 0, r[i].ts);
        fl_row_builder_set_bigint(b, 2, r[i].val);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
    return rows;
}

static void free_rows(fl_row **rows) {
    for (int i = 0; i < N_SIDE; i++) free(rows[i]);
    free(rows);
}

/* lval and rval (both < 2^20 after the bases) as one number. */
static int64_t fold(int64_t lval, int64_t rval) { return lval * 1048576 + rval; }

static void run_join(const char *name, int parallelism, fl_interval iv, uint64_t seed) {
    static jrow left[N_SIDE], right[N_SIDE];
    gen_side(left, seed, 0);
    gen_side(right, seed * 7 + 1, 500000);
    fl_row **lrows = to_rows(left, true), **rrows = to_rows(right, false);
    fl_schema *ls = left_schema(), *rs = right_schema(), *ps = pair_schema();

    fl_env *env = rt_env(parallelism, "pipeline.auto-watermark-interval", "0", NULL);
    fl_watermark_strategy wl = {.max_out_of_orderness_ms = DISORDER, .timestamp_fn = rt_ij_left_ts};
    fl_watermark_strategy wr = {.max_out_of_orderness_ms = DISORDER,
                                .timestamp_fn = rt_ij_right_ts};
    fl_stream *l = fl_stream_assign_timestamps_and_watermarks(
        fl_env_from_rows(env, ls, (const fl_row *const *)lrows, N_SIDE), &wl);
    fl_stream *r = fl_stream_assign_timestamps_and_watermarks(
        fl_env_from_rows(env, rs, (const fl_row *const *)rrows, N_SIDE), &wr);
    fl_stream *j = fl_keyed_interval_join(fl_stream_key_by(l, "lk"), fl_stream_key_by(r, "rk"), iv,
                                          rt_ij_join, ps);
    fl_stream_name(j, name);
    fl_collect *c = fl_stream_collect(fl_stream_map(j, rt_ij_stamp, ps));
    rt_execute(env, name);

    /* Reference: every pair of the same key with rts - lts in the interval. */
    int64_t lo = iv.lower_ms + iv.lower_exclusive, hi = iv.upper_ms - iv.upper_exclusive;
    size_t cap = 1024, n_want = 0;
    int64_t *want = malloc(cap * sizeof *want);
    for (int a = 0; a < N_SIDE; a++)
        for (int b = 0; b < N_SIDE; b++) {
            int64_t d = right[b].ts - left[a].ts;
            if (left[a].key != right[b].key || d < lo || d > hi) continue;
            if (n_want == cap) want = realloc(want, (cap *= 2) * sizeof *want);
            want[n_want++] = fold(left[a].val, right[b].val);
        }
    size_t n = fl_collect_count(c);
    /* Enough pairs that every key and both sides of the interval take part. */
    if (n_want < (hi > lo ? 2000u : 100u))
        fail_msg("%s: only %zu pairs in the reference", name, n_want);
    if (n != n_want) fail_msg("%s: %zu pairs, expected %zu", name, n, n_want);
    int64_t *got = malloc((n ? n : 1) * sizeof *got);
    for (size_t i = 0; i < n; i++) {
        const fl_row *row = fl_collect_row(c, i);
        int64_t lv = fl_row_get_bigint(row, 1), rv = fl_row_get_bigint(row, 2);
        const jrow *a = &left[lv], *b = &right[rv - 500000];
        assert_int_equal(fl_row_get_bigint(row, 0), a->key);
        assert_int_equal(fl_row_get_bigint(row, 3), a->ts);
        assert_int_equal(fl_row_get_bigint(row, 4), b->ts);
        int64_t max = a->ts > b->ts ? a->ts : b->ts;
        assert_int_equal(fl_row_get_bigint(row, 5), max); /* the context's timestamp */
        assert_int_equal(fl_row_get_bigint(row, 6), max); /* the record's */
        got[i] = fold(lv, rv);
    }
    qsort(got, n, sizeof *got, cmp_i64);
    qsort(want, n, sizeof *want, cmp_i64);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("%s: pair %zu differs", name, i);
    /* The watermark passed everything: no row, bucket or timer is left. */
    assert_int_equal(fl__keyed_state_bytes_at_close(name), 0);

    free(got);
    free(want);
    free_rows(lrows);
    free_rows(rrows);
    fl_schema_unref(ls);
    fl_schema_unref(rs);
    fl_schema_unref(ps);
    fl_env_destroy(env);
}

static void test_inclusive_p1(void **state) {
    run_join("ij-inclusive-p1", 1, (fl_interval){.lower_ms = -30, .upper_ms = 20}, 11);
}

static void test_exclusive_p4(void **state) {
    fl_interval iv = {
        .lower_ms = -30, .upper_ms = 20, .lower_exclusive = true, .upper_exclusive = true};
    run_join("ij-exclusive-p4", 4, iv, 12);
}

static void test_negative_bounds_p4(void **state) {
    fl_interval iv = {.lower_ms = -50, .upper_ms = -10, .lower_exclusive = true};
    run_join("ij-negative-p4", 4, iv, 13);
}

static void test_positive_bounds_p1(void **state) {
    fl_interval iv = {.lower_ms = 5, .upper_ms = 40, .upper_exclusive = true};
    run_join("ij-positive-p1", 1, iv, 14);
}

static void test_equal_times_p4(void **state) {
    run_join("ij-equal-p4", 4, (fl_interval){.lower_ms = 0, .upper_ms = 0}, 15);
}

/* ---- the operator, row by row ---------------------------------------------------------------- */

/* Captured output of the driven operator: (lval, rval, record timestamp). */
static int64_t cap_rows[64][3];
static int n_cap;

static int capture_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    for (uint32_t i = 0; i < in->n; i++) {
        assert_true(n_cap < 64);
        cap_rows[n_cap][0] = fl_row_get_bigint(in->rows[i], 1);
        cap_rows[n_cap][1] = fl_row_get_bigint(in->rows[i], 2);
        cap_rows[n_cap][2] = in->ts[i];
        n_cap++;
    }
    return 0;
}

static const fl_operator_ops capture_ops = {.kind = "capture", .process = capture_process};

/* An interval join operator on a task of its own, outside any job run. */
typedef struct harness {
    fl_env *env;
    fl_run_settings settings;
    fl_job_graph jg;
    fl_execution_graph eg;
    fl_task task;
    fl_operator op, sink;
    fl_output_target target;
    fl_error err;
    fl_row_builder *lb, *rb;
    fl_batch batch;
} harness;

static void harness_open(harness *h, fl_interval iv) {
    memset(h, 0, sizeof *h);
    fl_schema *ls = left_schema(), *rs = right_schema(), *ps = pair_schema();
    h->env = fl_env_create();
    fl_stream *l = fl_env_from_rows(h->env, ls, NULL, 0);
    fl_stream *r = fl_env_from_rows(h->env, rs, NULL, 0);
    fl_stream *j = fl_keyed_interval_join(fl_stream_key_by(l, "lk"), fl_stream_key_by(r, "rk"), iv,
                                          rt_ij_join, ps);
    assert_null(fl_env_error(h->env));
    fl_stream_node *node = h->env->graph->nodes[j->node];
    node->parallelism = 1;
    node->max_parallelism = 128;
    h->jg.stream = h->env->graph;
    h->eg.job = &h->jg;
    h->task.eg = &h->eg;
    h->task.settings = &h->settings;
    h->task.parallelism = 1;
    h->task.name = "driven";
    h->sink = (fl_operator){.ops = &capture_ops, .node = node, .task = &h->task};
    h->sink.out.task = &h->task;
    h->target.chained = &h->sink;
    fl_operator *op = &h->op;
    *op = (fl_operator){.ops = &fl__op_interval_join,
                        .node = node,
                        .task = &h->task,
                        .fn = (void *)rt_ij_join,
                        .watermark = INT64_MIN};
    op->ctx = (fl_context){.task = &h->task, .op = op, .timestamp = INT64_MIN};
    op->out = (fl_output){.task = &h->task, .n_targets = 1, .targets = &h->target};
    fl__batch_init(&op->out.batch, FL_BATCH_ROWS);
    fl__batch_init(&h->batch, 4);
    assert_int_equal(op->ops->open(op, &h->err), 0);
    h->lb = fl_row_builder_create(ls);
    h->rb = fl_row_builder_create(rs);
    fl_schema_unref(ls);
    fl_schema_unref(rs);
    fl_schema_unref(ps);
    n_cap = 0;
}

static void harness_close(harness *h) {
    h->op.ops->close(&h->op);
    fl__batch_fini(&h->op.out.batch);
    fl__batch_fini(&h->batch);
    fl_row_builder_destroy(h->lb);
    fl_row_builder_destroy(h->rb);
    fl_env_destroy(h->env);
}

/* A row of key 1 into input 0 (left) or 1 (right). */
static void feed(harness *h, int input, int64_t ts, int64_t val) {
    fl_row_builder *b = input == 0 ? h->lb : h->rb;
    fl_row_builder_reset(b);
    fl_row_builder_set_bigint(b, input == 0 ? 0 : 1, 1);
    fl_row_builder_set_timestamp(b, input == 0 ? 1 : 0, ts);
    fl_row_builder_set_bigint(b, 2, val);
    h->batch.rows[0] = fl_row_builder_finish(b);
    h->batch.ts[0] = ts;
    h->batch.n = 1;
    assert_int_equal(h->op.ops->process(&h->op, input, &h->batch, &h->err), 0);
    assert_int_equal(fl__op_flush(&h->op), 0);
}

static void watermark(harness *h, int64_t wm) { assert_int_equal(fl__op_watermark(&h->op, wm), 0); }

/* Buffers (one list and one index entry each) and cleanup timers held. */
static void expect_held(harness *h, size_t buckets) {
    fl_keyed_backend *b = h->op.keyed->backend;
    assert_int_equal(fl_keyed_backend_entries(b), 2 * buckets);
    assert_int_equal(fl_timer_count(b, FL_EVENT_TIME), buckets);
}

static int cmp_capture(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Pairs found together come in no particular order: sorts outputs from.. by
 * the right row's value. */
static void sort_captured(int from) {
    qsort(cap_rows[from], (size_t)(n_cap - from), sizeof cap_rows[0], cmp_capture);
}

static void expect_pair(int i, int64_t lval, int64_t rval, int64_t ts) {
    assert_true(i < n_cap);
    if (cap_rows[i][0] != lval || cap_rows[i][1] != rval || cap_rows[i][2] != ts)
        fail_msg("output %d: (%lld, %lld) at %lld, expected (%lld, %lld) at %lld", i,
                 (long long)cap_rows[i][0], (long long)cap_rows[i][1], (long long)cap_rows[i][2],
                 (long long)lval, (long long)rval, (long long)ts);
}

/* Interval [-2, 3]: left t meets right [t - 2, t + 3]; a left bucket goes
 * when the watermark passes t + 3, a right bucket when it passes t + 2. */
static void test_late_rows_and_cleanup(void **state) {
    harness h;
    harness_open(&h, (fl_interval){.lower_ms = -2, .upper_ms = 3});
    feed(&h, 0, 10, 1); /* L1 */
    expect_held(&h, 1);
    feed(&h, 1, 8, 101);  /* R1 meets L1 */
    feed(&h, 1, 13, 102); /* R2 meets L1 (13 = 10 + 3) */
    feed(&h, 1, 14, 103); /* R3 is beyond L1 */
    assert_int_equal(n_cap, 2);
    expect_pair(0, 1, 101, 10);
    expect_pair(1, 1, 102, 13);
    expect_held(&h, 4);

    watermark(&h, 10); /* R1 (8) is kept until the watermark passes 10 */
    expect_held(&h, 4);
    watermark(&h, 13); /* now R1 goes; L1 (10) stays until 13 is passed */
    expect_held(&h, 3);

    feed(&h, 0, 12, 2); /* below the watermark: late, dropped (R2, R3 would match) */
    expect_held(&h, 3);
    feed(&h, 0, 13, 3); /* at the watermark: not late; meets R2 and R3 */
    assert_int_equal(n_cap, 4);
    sort_captured(2);
    expect_pair(2, 3, 102, 13);
    expect_pair(3, 3, 103, 14);
    expect_held(&h, 4);

    watermark(&h, 14); /* L1 (10 + 3 passed) goes */
    expect_held(&h, 3);
    feed(&h, 1, 14, 104); /* joins R3's bucket; meets L3 (13) only */
    assert_int_equal(n_cap, 5);
    expect_pair(4, 3, 104, 14);
    expect_held(&h, 3);
    feed(&h, 1, 13, 105); /* late */
    assert_int_equal(n_cap, 5);

    watermark(&h, INT64_MAX); /* the end: everything goes */
    expect_held(&h, 0);
    assert_int_equal(fl_keyed_backend_bytes(h.op.keyed->backend), 0);
    assert_int_equal(n_cap, 5);
    harness_close(&h);
}

/* A negative upper bound: left t meets right [t - 5, t - 1] and is dropped
 * once the watermark passes t - 1, before its own time. */
static void test_cleanup_negative_upper(void **state) {
    harness h;
    harness_open(&h, (fl_interval){.lower_ms = -5, .upper_ms = -1});
    feed(&h, 1, 96, 101);
    feed(&h, 0, 100, 1); /* meets R (96) */
    assert_int_equal(n_cap, 1);
    expect_pair(0, 1, 101, 100);
    watermark(&h, 98); /* L (100) waits for right rows up to 99 */
    expect_held(&h, 2);
    watermark(&h, 99);
    expect_held(&h, 2);
    watermark(&h, 100); /* L goes (99 passed); R (96) waits for left rows up to 101 */
    expect_held(&h, 1);
    feed(&h, 0, 101, 2); /* meets R */
    assert_int_equal(n_cap, 2);
    expect_pair(1, 2, 101, 101);
    watermark(&h, 102); /* R goes; L (101) too */
    expect_held(&h, 0);
    harness_close(&h);
}

/* ---- errors ------------------------------------------------------------------------------------
 */

static void test_rows_without_timestamps(void **state) {
    static jrow left[N_SIDE];
    gen_side(left, 5, 0);
    fl_row **lrows = to_rows(left, true), **rrows = to_rows(left, false);
    fl_schema *ls = left_schema(), *rs = right_schema(), *ps = pair_schema();
    fl_env *env = rt_env(2, NULL);
    fl_stream *l = fl_env_from_rows(env, ls, (const fl_row *const *)lrows, 10);
    fl_stream *r = fl_env_from_rows(env, rs, (const fl_row *const *)rrows, 10);
    fl_stream_discard(fl_keyed_interval_join(fl_stream_key_by(l, "lk"), fl_stream_key_by(r, "rk"),
                                             (fl_interval){.lower_ms = -1, .upper_ms = 1},
                                             rt_ij_join, ps));
    fl_error err = {0};
    assert_int_not_equal(fl_env_execute(env, "no event time", &err), 0);
    if (!strstr(err.message, "joins in event time") || !strstr(err.message, "no timestamp"))
        fail_msg("unexpected message: %s", err.message);
    fl_env_destroy(env);

    /* An empty interval. */
    env = rt_env(1, NULL);
    l = fl_env_from_rows(env, ls, (const fl_row *const *)lrows, 10);
    fl_keyed_interval_join(fl_stream_key_by(l, "lk"), fl_stream_key_by(l, "lk"),
                           (fl_interval){.lower_ms = 3, .upper_ms = 3, .upper_exclusive = true},
                           rt_ij_join, ps);
    assert_non_null(fl_env_error(env));
    assert_non_null(strstr(fl_env_error(env)->message, "[3, 3) is empty"));
    fl_env_destroy(env);

    free_rows(lrows);
    free_rows(rrows);
    fl_schema_unref(ls);
    fl_schema_unref(rs);
    fl_schema_unref(ps);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inclusive_p1),
        cmocka_unit_test(test_exclusive_p4),
        cmocka_unit_test(test_negative_bounds_p4),
        cmocka_unit_test(test_positive_bounds_p1),
        cmocka_unit_test(test_equal_times_p4),
        cmocka_unit_test(test_late_rows_and_cleanup),
        cmocka_unit_test(test_cleanup_negative_upper),
        cmocka_unit_test(test_rows_without_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
