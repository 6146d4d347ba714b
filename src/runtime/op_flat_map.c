/*
 * op_flat_map.c - flat_map: zero or more output rows per input row, emitted
 * through a collector; every output row keeps the input's timestamp.
 */
#include "runtime_int.h"

static int flat_map_open(fl_operator *op, fl_error *err) {
    op->impl = fl__collector_create(op, op->node->schema);
    return 0;
}

static int flat_map_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    fl_collector *c = op->impl;
    fl_flat_map_fn fn = (fl_flat_map_fn)op->fn;
    for (uint32_t i = 0; i < in->n; i++) {
        op->ctx.timestamp = in->ts[i];
        fl__collector_begin(c, in->ts[i]);
        int rc = fn(&op->ctx, in->rows[i], c);
        int crc = fl__collector_status(c);
        if (crc == FL_ECANCELED) return crc;
        if (rc < 0 || crc < 0 || op->ctx.failure)
            return fl__user_failure(op, "flat_map function", rc < 0 ? rc : crc, err);
    }
    return 0;
}

static void flat_map_close(fl_operator *op) {
    fl__collector_destroy(op->impl);
    op->impl = NULL;
}

const fl_operator_ops fl__op_flat_map = {
    .kind = "flat_map",
    .open = flat_map_open,
    .process = flat_map_process,
    .close = flat_map_close,
};
