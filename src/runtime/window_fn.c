/*
 * window_fn.c - what a window holds and what runs when it fires: the window
 * contents in keyed state, Flink's evictors, and the window functions
 * (reduce, aggregate, process and their combinations, sum/min/max on a field,
 * and the join / co-group functions of window joins).
 *
 * Incremental functions keep one row per (key, window): sum/min/max of
 * non-merging windows a value state updated in place (one lookup, no row
 * builder, no allocation per element); reduce a reducing state; aggregate an
 * aggregating state. Process functions, evictors and joins keep every
 * element in a list state, each wrapped as (timestamp BIGINT, input INT, row
 * BYTES) so that evictors see timestamps and joins know the element's side;
 * incremental functions with an evictor then run over the list when the
 * window fires, as Flink's EvictingWindowOperator does.
 */
#include <stdlib.h>
#include <string.h>

#include "field_agg.h"
#include "mem.h"
#include "row_int.h"
#include "window_op.h"

#define WRAP_HEADER (FL_ROW_HEADER + 8u + 3u * 8u) /* header, bitmap, 3 slots */

/* ---- built-in aggregations ----------------------------------------------------------------- */

static uint8_t *scratch(fl_win_op *w, size_t n) {
    if (n > w->scratch_cap) {
        size_t cap = w->scratch_cap ? w->scratch_cap : 256;
        while (cap < n) cap *= 2;
        w->scratch = fl_xrealloc(w->scratch, cap);
        w->scratch_cap = cap;
    }
    return w->scratch;
}

/* acc combined with in by sum/min/max on the field (field_agg.h): acc
 * itself when unchanged, else a row in the scratch buffer. */
static const fl_row *combine(fl_win_op *w, const fl_row *acc, const fl_row *in) {
    uint64_t value;
    if (!fl__field_agg_fold(&w->field_agg, acc, in, &value)) return acc;
    /* acc may be the scratch row of the previous fold (evictors): in place. */
    uint8_t *out = (const uint8_t *)acc == w->scratch ? w->scratch : scratch(w, fl__row_len(acc));
    return fl__field_agg_apply(&w->field_agg, out, acc, value);
}

/* The reducing state's function for sum/min/max of merging windows. */
static int builtin_reduce(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_win_op *w = arg;
    fl_row_builder_copy_row(out, combine(w, acc, in));
    return 0;
}

static int user_reduce(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_win_op *w = arg;
    return w->reduce(&w->op->ctx, acc, in, out);
}

/* ---- aggregate functions as a backend aggregate -------------------------------------------- */

static int agg_create(void *arg, fl_row_builder *acc) {
    fl_win_op *w = arg;
    return w->agg.create_accumulator(&w->op->ctx, acc);
}
static int agg_add(void *arg, const fl_row *in, const fl_row *acc, fl_row_builder *out) {
    fl_win_op *w = arg;
    return w->agg.add(&w->op->ctx, in, acc, out);
}
static int agg_result(void *arg, const fl_row *acc, fl_row_builder *out) {
    fl_win_op *w = arg;
    return w->agg.get_result(&w->op->ctx, acc, out);
}
static int agg_merge(void *arg, const fl_row *a, const fl_row *b, fl_row_builder *out) {
    fl_win_op *w = arg;
    if (!w->agg.merge)
        return fl_context_fail(&w->op->ctx,
                               "the aggregate function of \"%s\" has no merge function",
                               w->op->node->name);
    return w->agg.merge(&w->op->ctx, a, b, out);
}

/* ---- opening ------------------------------------------------------------------------------- */

int fl__win_fn_open(fl_win_op *w, fl_error *err) {
    fl_win_fn_kind k = w->fn_kind;
    const fl_schema *in = w->op->input_schema;
    fl_state_desc d = {.name = "__window.contents", .value_schema = in};
    bool builtin = k == FL_WIN_SUM || k == FL_WIN_MIN || k == FL_WIN_MAX;
    if (k == FL_WIN_PROCESS || k == FL_WIN_JOIN || k == FL_WIN_COGROUP ||
        w->evictor.kind != FL_EVICTOR_NONE) {
        w->contents_kind = FL_WIN_LIST;
        w->wrap_schema = fl_schema_of(3, "timestamp", FL_BIGINT, "input", FL_INT, "row", FL_BYTES);
        d.kind = FL_STATE_LIST;
        d.value_schema = w->wrap_schema;
    } else if (builtin && !w->merging) {
        w->contents_kind = FL_WIN_VALUE;
        d.kind = FL_STATE_VALUE;
    } else if (builtin || k == FL_WIN_REDUCE || k == FL_WIN_REDUCE_PROCESS) {
        w->contents_kind = FL_WIN_REDUCING;
        d.kind = FL_STATE_REDUCING;
        d.reduce = builtin ? builtin_reduce : user_reduce;
        d.reduce_arg = w;
    } else {
        w->contents_kind = FL_WIN_AGGREGATING;
        w->backend_agg = (fl_state_aggregate){.acc_schema = w->agg.acc_schema,
                                              .create = agg_create,
                                              .add = agg_add,
                                              .result = agg_result,
                                              .merge = agg_merge,
                                              .arg = w};
        d.kind = FL_STATE_AGGREGATING;
        d.aggregate = &w->backend_agg;
        d.result_schema = w->agg.out_schema;
    }
    w->contents = fl_keyed_backend_state(w->keyed.backend, &d, err);
    if (!w->contents) return err->code;
    /* Folding over a list (evictors) alternates two builders. */
    if (k == FL_WIN_REDUCE || k == FL_WIN_REDUCE_PROCESS) {
        w->acc_a = fl_row_builder_create(in);
        w->acc_b = fl_row_builder_create(in);
    }
    if (k == FL_WIN_AGGREGATE || k == FL_WIN_AGGREGATE_PROCESS) {
        w->acc_a = fl_row_builder_create(w->agg.acc_schema);
        w->acc_b = fl_row_builder_create(w->agg.acc_schema);
        w->result_b = fl_row_builder_create(w->agg.out_schema);
        if (w->acc_input) w->acc_in = fl_row_builder_create(w->agg.acc_schema);
    }
    w->out = fl__collector_create(w->op, w->op->node->schema);
    return 0;
}

void fl__win_fn_close(fl_win_op *w) {
    fl_row_builder_destroy(w->acc_a);
    fl_row_builder_destroy(w->acc_b);
    fl_row_builder_destroy(w->result_b);
    fl_row_builder_destroy(w->acc_in);
    fl__collector_destroy(w->out);
    fl_schema_unref(w->wrap_schema);
    free(w->scratch);
    free(w->rows);
    free(w->side[0]);
    free(w->side[1]);
    free(w->kept);
}

/* ---- adding -------------------------------------------------------------------------------- */

/* The element as a (timestamp, input, row) row, in the scratch buffer. */
static const fl_row *wrap(fl_win_op *w, int input, const fl_row *row, int64_t ts) {
    uint32_t len = fl__row_len(row), total = WRAP_HEADER + len;
    uint8_t *p = scratch(w, total);
    memset(p, 0, WRAP_HEADER);
    uint16_t n = 3;
    memcpy(p, &total, 4);
    memcpy(p + 6, &n, 2);
    uint8_t *slots = p + FL_ROW_HEADER + 8;
    memcpy(slots, &ts, 8);
    uint32_t in32 = (uint32_t)input, off = WRAP_HEADER;
    memcpy(slots + 8, &in32, 4);
    memcpy(slots + 16, &off, 4);
    memcpy(slots + 20, &len, 4);
    memcpy(p + WRAP_HEADER, row, len);
    return (const fl_row *)p;
}

int fl__win_fn_add(fl_win_op *w, int input, const fl_row *row, int64_t ts, bool *was_empty) {
    fl_kstate *s = w->contents;
    int rc;
    switch (w->contents_kind) {
    case FL_WIN_VALUE: {
        const fl_row *acc = fl_kstate_value_get(s);
        *was_empty = acc == NULL;
        const fl_row *next = acc ? combine(w, acc, row) : row;
        rc = next == acc ? 0 : fl_kstate_value_update(s, next);
        break;
    }
    case FL_WIN_LIST:
        *was_empty = fl_kstate_is_empty(s);
        rc = fl_kstate_list_add(s, wrap(w, input, row, ts));
        break;
    default:
        *was_empty = fl_kstate_is_empty(s);
        w->op->ctx.timestamp = ts;
        if (w->acc_input) {
            /* (key fields, accumulator): the accumulator merges in. */
            fl_row_builder *b = w->acc_in;
            fl_row_builder_reset(b);
            int m = fl_schema_num_fields(w->agg.acc_schema);
            for (int j = 0; j < m; j++) fl_row_builder_copy_field(b, j, row, w->n_key_fields + j);
            const fl_row *acc = fl_row_builder_finish(b);
            rc = acc ? fl_kstate_merge_in(s, acc) : FL_EINVAL;
        } else {
            rc = fl_kstate_add(s, row);
        }
        break;
    }
    if (rc < 0 || w->op->ctx.failure)
        return fl__win_user_failure(w,
                                    w->contents_kind == FL_WIN_AGGREGATING ? "aggregate function"
                                    : w->contents_kind == FL_WIN_REDUCING  ? "reduce function"
                                                                           : "window state",
                                    rc);
    return 0;
}

/* ---- firing -------------------------------------------------------------------------------- */

/* How a call that emitted through w->out (it returned rc) went: 0,
 * FL_ECANCELED, or its failure (context.c's collector_outcome, with the
 * window's failure messages). */
static int call_outcome(fl_win_op *w, int rc, const char *what) {
    int crc = fl__collector_status(w->out);
    if (crc == FL_ECANCELED) return crc;
    if (rc < 0 || crc < 0 || w->op->ctx.failure)
        return fl__win_user_failure(w, what, rc < 0 ? rc : crc);
    return 0;
}

static int call_process(fl_win_op *w, const fl_window *win, const fl_row *const *rows, size_t n) {
    fl_operator *op = w->op;
    int64_t ts = fl__win_max_ts(win);
    uint8_t ns[FL_WIN_NS_LEN];
    fl__win_ns(win, ns);
    op->ctx.timestamp = ts;
    fl__collector_begin(w->out, ts);
    /* The context's state calls use the window's namespace. */
    w->keyed.ns = ns;
    w->keyed.ns_len = FL_WIN_NS_LEN;
    int rc = w->process(&op->ctx, win, rows, n, w->out);
    w->keyed.ns = NULL;
    w->keyed.ns_len = 0;
    return call_outcome(w, rc, "process window function");
}

/* One result row (incremental functions): emitted, or handed to the process function. */
static int emit_single(fl_win_op *w, const fl_window *win, const fl_row *r) {
    if (w->fn_kind == FL_WIN_REDUCE_PROCESS || w->fn_kind == FL_WIN_AGGREGATE_PROCESS)
        return call_process(w, win, &r, 1);
    return fl__output_emit(&w->op->out, r, fl__win_max_ts(win));
}

/* The row a function built in b once its failure was checked
 * (fl__win_user_failure): NULL with the invalid row reported. */
static const fl_row *finish(fl_win_op *w, fl_row_builder *b, const char *what) {
    return fl__user_row(w->op, b, 0, what, w->err);
}

/* An incremental function folded over the rows (with an evictor); NULL
 * result and 0 when there are none. */
static int fold(fl_win_op *w, const fl_row *const *rows, size_t n, const fl_row **result) {
    fl_context *ctx = &w->op->ctx;
    *result = NULL;
    if (n == 0) return 0;
    switch (w->fn_kind) {
    case FL_WIN_SUM:
    case FL_WIN_MIN:
    case FL_WIN_MAX: {
        const fl_row *acc = rows[0];
        for (size_t i = 1; i < n; i++) acc = combine(w, acc, rows[i]);
        *result = acc;
        return 0;
    }
    case FL_WIN_REDUCE:
    case FL_WIN_REDUCE_PROCESS: {
        const fl_row *acc = rows[0];
        for (size_t i = 1; i < n; i++) {
            fl_row_builder *b = i % 2 ? w->acc_a : w->acc_b;
            fl_row_builder_reset(b);
            int rc = w->reduce(ctx, acc, rows[i], b);
            if (rc < 0 || ctx->failure) return fl__win_user_failure(w, "reduce function", rc);
            if (!(acc = finish(w, b, "reduce function"))) return FL_EUSER;
        }
        *result = acc;
        return 0;
    }
    default: { /* aggregate */
        fl_row_builder_reset(w->acc_a);
        int rc = w->agg.create_accumulator(ctx, w->acc_a);
        if (rc < 0 || ctx->failure) return fl__win_user_failure(w, "create_accumulator", rc);
        const fl_row *acc = finish(w, w->acc_a, "create_accumulator");
        for (size_t i = 0; acc && i < n; i++) {
            fl_row_builder *b = i % 2 ? w->acc_a : w->acc_b;
            fl_row_builder_reset(b);
            rc = w->agg.add(ctx, rows[i], acc, b);
            if (rc < 0 || ctx->failure) return fl__win_user_failure(w, "aggregate function", rc);
            acc = finish(w, b, "aggregate function");
        }
        if (!acc) return FL_EUSER;
        fl_row_builder_reset(w->result_b);
        rc = w->agg.get_result(ctx, acc, w->result_b);
        if (rc < 0 || ctx->failure) return fl__win_user_failure(w, "get_result", rc);
        *result = finish(w, w->result_b, "get_result");
        return *result ? 0 : FL_EUSER;
    }
    }
}

/* Evicts rows (Flink's CountEvictor / TimeEvictor) from the arrays; returns
 * the number left. */
static size_t evict(fl_win_op *w, const fl_row **wrapped, size_t n) {
    size_t drop_first = 0;
    if (w->evictor.kind == FL_EVICTOR_COUNT) {
        if (n <= (size_t)w->evictor.count) return n;
        drop_first = n - (size_t)w->evictor.count;
        memmove(wrapped, wrapped + drop_first, (n - drop_first) * sizeof *wrapped);
        return n - drop_first;
    }
    int64_t max = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = fl_row_get_bigint(wrapped[i], 0);
        if (ts > max) max = ts;
    }
    if (max == INT64_MIN) return n; /* no timestamps */
    int64_t cutoff;
    if (__builtin_sub_overflow(max, w->evictor.keep_ms, &cutoff)) cutoff = INT64_MIN;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (fl_row_get_bigint(wrapped[i], 0) > cutoff) wrapped[kept++] = wrapped[i];
    return kept;
}

static void reserve_rows(fl_win_op *w, size_t n) {
    if (n <= w->rows_cap) return;
    size_t cap = w->rows_cap ? w->rows_cap : 64;
    while (cap < n) cap *= 2;
    w->rows = fl_xrealloc(w->rows, cap * sizeof *w->rows);
    w->side[0] = fl_xrealloc(w->side[0], cap * sizeof *w->side[0]);
    w->side[1] = fl_xrealloc(w->side[1], cap * sizeof *w->side[1]);
    w->kept = fl_xrealloc(w->kept, cap * sizeof *w->kept);
    w->rows_cap = cap;
}

static const fl_row *unwrap(const fl_row *wrapped) {
    uint32_t len;
    return fl_row_get_bytes(wrapped, 2, &len);
}

/* The function over the (wrapped) rows. */
static int apply(fl_win_op *w, const fl_window *win, const fl_row *const *wrapped, size_t n) {
    fl_win_fn_kind k = w->fn_kind;
    if (k == FL_WIN_JOIN || k == FL_WIN_COGROUP) {
        size_t nl = 0, nr = 0;
        for (size_t i = 0; i < n; i++) {
            if (fl_row_get_int(wrapped[i], 1) == 0)
                w->side[0][nl++] = unwrap(wrapped[i]);
            else
                w->side[1][nr++] = unwrap(wrapped[i]);
        }
        fl_operator *op = w->op;
        int64_t ts = fl__win_max_ts(win);
        op->ctx.timestamp = ts;
        fl__collector_begin(w->out, ts);
        int rc = 0;
        if (k == FL_WIN_COGROUP) {
            rc = w->cogroup(&op->ctx, w->side[0], nl, w->side[1], nr, w->out);
        } else {
            for (size_t i = 0; rc >= 0 && !op->ctx.failure && i < nl; i++) {
                for (size_t j = 0; rc >= 0 && !op->ctx.failure && j < nr; j++) {
                    rc = w->join(&op->ctx, w->side[0][i], w->side[1][j],
                                 fl_collector_builder(w->out));
                    if (rc >= 0 && !op->ctx.failure) rc = fl_collector_emit(w->out);
                }
            }
        }
        return call_outcome(w, rc, k == FL_WIN_JOIN ? "join function" : "co-group function");
    }
    for (size_t i = 0; i < n; i++) w->rows[i] = unwrap(wrapped[i]);
    if (k == FL_WIN_PROCESS) return call_process(w, win, w->rows, n);
    const fl_row *r;
    int rc = fold(w, w->rows, n, &r);
    if (rc < 0 || !r) return rc;
    return emit_single(w, win, r);
}

static int fire_list(fl_win_op *w, const fl_window *win) {
    size_t n;
    const fl_row *const *list = fl_kstate_list_get(w->contents, &n);
    if (n == 0) return 0;
    reserve_rows(w, n);
    /* Our own copy of the element pointers: eviction compacts them. */
    const fl_row **kept = w->kept;
    memcpy(kept, list, n * sizeof *kept);
    size_t k = n;
    bool has_evictor = w->evictor.kind != FL_EVICTOR_NONE;
    if (has_evictor && !w->evictor.after) k = evict(w, kept, k);
    int rc = 0;
    if (k > 0 || w->fn_kind == FL_WIN_PROCESS || w->fn_kind == FL_WIN_COGROUP)
        rc = apply(w, win, kept, k);
    if (rc == 0 && has_evictor && w->evictor.after) k = evict(w, kept, k);
    if (rc == 0 && k < n) {
        rc = fl_kstate_list_update(w->contents, kept, k);
        if (rc < 0) rc = fl__win_user_failure(w, "window state", rc);
    }
    return rc;
}

int fl__win_fn_fire(fl_win_op *w, const fl_window *win) {
    const fl_row *r = NULL;
    int rc = 0;
    switch (w->contents_kind) {
    case FL_WIN_LIST:
        return fire_list(w, win);
    case FL_WIN_VALUE:
        r = fl_kstate_value_get(w->contents);
        break;
    case FL_WIN_REDUCING:
    case FL_WIN_AGGREGATING:
        rc = fl_kstate_get_checked(w->contents, &r);
        if (rc < 0 || w->op->ctx.failure) return fl__win_user_failure(w, "get_result", rc);
        break;
    }
    return r ? emit_single(w, win, r) : 0;
}

int fl__win_fn_fire_slices(fl_win_op *w, const fl_window *win) {
    int64_t slide = w->assigner.slide_ms;
    for (size_t i = 0; i < w->n_slices; i++) {
        w->slices[i].start = win->start + (int64_t)i * slide;
        w->slices[i].end = w->slices[i].start + slide;
    }
    const uint32_t *lens;
    const void *const *ns = fl__win_merge_sources(w, w->slices, w->n_slices, &lens);
    const fl_row *r;
    int rc = fl_kstate_get_merged(w->contents, ns, lens, w->n_slices, &r);
    if (rc < 0 || w->op->ctx.failure) return fl__win_user_failure(w, "get_result", rc);
    return r ? emit_single(w, win, r) : 0;
}
