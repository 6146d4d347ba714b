/*
 * op_co_process.c - the operator of connected streams (Flink's CoMap,
 * CoFlatMap, CoProcess and KeyedCoProcess): rows of input 0 go to function
 * fn1, rows of input 1 to fn2, both building rows of the one output schema.
 * Option "flavour" says whether the functions are map functions (one row
 * out per row in, built in a reused builder) or flat-map / process functions
 * (a collector).
 *
 * On keyed connected streams (the node has key and key2) the operator is a
 * keyed operator: before each row the backend's key is set from that row's
 * side's key, so both functions share keyed state and timers per key, and
 * on_timer runs when a timer fires with the timer's key set. The watermark
 * reaching the operator is the minimum over both inputs (the task combines
 * its channels); event-time timers fire on it before it is passed on.
 */
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "runtime_int.h"

typedef struct co_state {
    /* the keyed part used when the node is keyed; the collector of
     * flat_map, process and on_timer functions */
    fl_keyed_process_op base;
    bool is_keyed;
    bool map;                /* map functions, else flat-map / process */
    void *fn[2];             /* per input */
    fl_row_builder *builder; /* map */
} co_state;

static int co_open(fl_operator *op, fl_error *err) {
    co_state *st = fl_xcalloc(1, sizeof *st);
    op->impl = st;
    const char *flavour = fl_kv_get(op->node->options, "flavour");
    st->map = flavour && strcmp(flavour, "map") == 0;
    st->fn[0] = fl__op_fn(op, "fn1");
    st->fn[1] = fl__op_fn(op, "fn2");
    if (!st->fn[0] || !st->fn[1])
        return fl_error_set(err, FL_EINVAL, "\"%s\" needs a function for each input",
                            op->node->name);
    if (st->map) st->builder = fl_row_builder_create(op->node->schema);
    st->base.out = fl__collector_create(op, op->node->schema);
    st->base.on_timer = (fl_on_timer_fn)fl__op_fn(op, "on_timer");
    if (!op->node->key) return 0;
    st->is_keyed = true;
    st->base.keyed.on_timer = fl__keyed_process_on_timer;
    return fl__keyed_open(op, &st->base.keyed, err);
}

static int map_row(fl_operator *op, co_state *st, fl_map_fn fn, const fl_row *row, int64_t ts,
                   fl_error *err) {
    fl_row_builder_reset(st->builder);
    const fl_row *out =
        fl__user_row(op, st->builder, fn(&op->ctx, row, st->builder), "map function", err);
    return out ? fl__output_emit(&op->out, out, ts) : FL_EUSER;
}

static int collect_row(fl_operator *op, co_state *st, fl_process_fn fn, const fl_row *row,
                       int64_t ts, fl_error *err) {
    return fl__collector_run_row(op, st->base.out, fn, row, ts, "process function", err);
}

static int co_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    co_state *st = op->impl;
    void *fn = st->fn[input == 1 ? 1 : 0];
    for (uint32_t i = 0; i < in->n; i++) {
        int rc = 0;
        if (st->is_keyed) rc = fl__keyed_set_key(op, input, in->rows[i], err);
        if (rc < 0) return rc;
        op->ctx.timestamp = in->ts[i];
        rc = st->map ? map_row(op, st, (fl_map_fn)fn, in->rows[i], in->ts[i], err)
                     : collect_row(op, st, (fl_process_fn)fn, in->rows[i], in->ts[i], err);
        if (rc < 0) return rc;
    }
    return 0;
}

static int co_watermark(fl_operator *op, int64_t wm, fl_error *err) {
    co_state *st = op->impl;
    return st->is_keyed ? fl__keyed_watermark(op, wm, err) : fl__op_forward_watermark(op, wm);
}

static int co_processing_time(fl_operator *op, int64_t now, fl_error *err) {
    co_state *st = op->impl;
    return st->is_keyed ? fl__keyed_processing_time(op, now, err) : 0;
}

static void co_close(fl_operator *op) {
    co_state *st = op->impl;
    if (!st) return;
    if (st->base.keyed.backend) fl__keyed_close(&st->base.keyed);
    if (st->builder) fl_row_builder_destroy(st->builder);
    fl__collector_destroy(st->base.out);
    free(st);
    op->impl = NULL;
    op->keyed = NULL;
}

const fl_operator_ops fl__op_co_process = {
    .kind = "co_process",
    .open = co_open,
    .process = co_process,
    .watermark = co_watermark,
    .on_processing_time = co_processing_time,
    .close = co_close,
};
