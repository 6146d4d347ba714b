/*
 * window_util.h - what the window tests share: a bit mixer for generated
 * values, rows of (BIGINT, TIMESTAMP "ts", BIGINT) from three generator
 * functions, one timestamp assigner ahead of the windows (so every window
 * subtask sees the watermark of the rows before each of its rows), the
 * keyed state a window operator left when it closed, and results compared
 * as multisets.
 */
#ifndef FL_TEST_WINDOW_UTIL_H
#define FL_TEST_WINDOW_UTIL_H

#include "rt_util.h"

int64_t fl__keyed_state_bytes_at_close(const char *operator_name);

/* Bytes operator `name` held at close, beyond `before` (a reading taken
 * before the job; negative: none). */
static inline int64_t state_left(const char *name, int64_t before) {
    return fl__keyed_state_bytes_at_close(name) - (before < 0 ? 0 : before);
}

static inline uint32_t mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static inline fl_row **make_rows(const fl_schema *s, int n, int64_t (*a)(int),
                                 int64_t (*ts)(int), int64_t (*b)(int)) {
    fl_row **rows = calloc((size_t)n, sizeof *rows);
    fl_row_builder *rb = fl_row_builder_create(s);
    for (int i = 0; i < n; i++) {
        fl_row_builder_reset(rb);
        fl_row_builder_set_bigint(rb, 0, a(i));
        fl_row_builder_set_timestamp(rb, 1, ts(i));
        fl_row_builder_set_bigint(rb, 2, b(i));
        rows[i] = fl_row_copy(fl_row_builder_finish(rb));
    }
    fl_row_builder_destroy(rb);
    return rows;
}

static inline void free_rows(fl_row **rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i]);
    free(rows);
}

static inline fl_stream *timed(fl_env *env, const fl_schema *s, fl_row **rows, int n,
                               int64_t bound) {
    fl_watermark_strategy ws = {.max_out_of_orderness_ms = bound, .timestamp_field = "ts"};
    return fl_stream_set_parallelism(
        fl_stream_assign_timestamps_and_watermarks(
            fl_env_from_rows(env, s, (const fl_row *const *)rows, (size_t)n), &ws),
        1);
}

/* ---- results ---------------------------------------------------------------------------------- */

/* One result row as integers -- key, the result's timestamp (window end - 1),
 * value, something extra, and the window's start where it matters --
 * compared as a multiset. */
typedef struct result {
    int64_t key, ts, value, extra, start;
} result;

static inline int cmp_result(const void *a, const void *b) {
    const result *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return (x->extra > y->extra) - (x->extra < y->extra);
}

typedef struct results {
    result *v;
    size_t n, cap;
} results;

static inline void push5(results *r, int64_t key, int64_t start, int64_t ts, int64_t value,
                         int64_t extra) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = (result){key, ts, value, extra, start};
}

static inline void push(results *r, int64_t key, int64_t ts, int64_t value, int64_t extra) {
    push5(r, key, 0, ts, value, extra);
}

/* Compares as multisets; fails with the first difference (RT_WIN_DUMP=1
 * prints every difference first). Frees both. */
static inline void expect_results(results *want, results *got, const char *what) {
    qsort(want->v, want->n, sizeof *want->v, cmp_result);
    qsort(got->v, got->n, sizeof *got->v, cmp_result);
    if (getenv("RT_WIN_DUMP")) {
        size_t i = 0, j = 0;
        while (i < want->n || j < got->n) {
            int c = i == want->n ? 1 : j == got->n ? -1 : cmp_result(&want->v[i], &got->v[j]);
            const result *r = c <= 0 ? &want->v[i] : &got->v[j];
            if (c != 0)
                printf("%s k %lld start %lld ts %lld v %lld x %lld\n",
                       c < 0 ? "missing" : "extra  ", (long long)r->key, (long long)r->start,
                       (long long)r->ts, (long long)r->value, (long long)r->extra);
            if (c <= 0) i++;
            if (c >= 0) j++;
        }
    }
    size_t n = want->n < got->n ? want->n : got->n;
    for (size_t i = 0; i < n; i++) {
        if (cmp_result(&want->v[i], &got->v[i]) != 0)
            fail_msg("%s: result %zu is (k %lld, start %lld, ts %lld, v %lld, x %lld), expected (k "
                     "%lld, start %lld, ts %lld, v %lld, x %lld)",
                     what, i, (long long)got->v[i].key, (long long)got->v[i].start,
                     (long long)got->v[i].ts, (long long)got->v[i].value,
                     (long long)got->v[i].extra, (long long)want->v[i].key,
                     (long long)want->v[i].start, (long long)want->v[i].ts,
                     (long long)want->v[i].value, (long long)want->v[i].extra);
    }
    if (want->n != got->n) fail_msg("%s: %zu results, expected %zu", what, got->n, want->n);
    free(want->v);
    free(got->v);
}

/* Collected rows as results: key field 0, timestamp field 1, value field
 * value_field, extra field extra_field (-1: 0). */
static inline results rt_results(const fl_collect *c, int value_field, int extra_field) {
    results r = {0};
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *row = fl_collect_row(c, i);
        push(&r, fl_row_get_bigint(row, 0), fl_row_get_bigint(row, 1),
             fl_row_get_bigint(row, value_field),
             extra_field >= 0 ? fl_row_get_bigint(row, extra_field) : 0);
    }
    return r;
}

/* process (k, ts, v) -> (k, timestamp of the row, v): the result timestamp.
 * Found by symbol name, so defined here once per test program. */
int rt_win_stamp(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(in, 0));
    fl_row_builder_set_bigint(b, 1, fl_context_timestamp(ctx));
    fl_row_builder_set_bigint(b, 2, fl_row_get_bigint(in, 2));
    return fl_collector_emit(out);
}

static inline fl_schema *stamped_schema(void) {
    return fl_schema_of(3, "k", FL_BIGINT, "t", FL_BIGINT, "v", FL_BIGINT);
}

#endif
