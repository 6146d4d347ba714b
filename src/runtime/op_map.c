/*
 * op_map.c - map: one output row per input row, built by the user function
 * into a reused builder. The output keeps the input's timestamp.
 */
#include <stdlib.h>

#include "runtime_int.h"

static int map_open(fl_operator *op, fl_error *err) {
    op->impl = fl_row_builder_create(op->node->schema);
    return 0;
}

static int map_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    fl_row_builder *b = op->impl;
    fl_map_fn fn = (fl_map_fn)op->fn;
    for (uint32_t i = 0; i < in->n; i++) {
        fl_row_builder_reset(b);
        op->ctx.timestamp = in->ts[i];
        const fl_row *row = fl__user_row(op, b, fn(&op->ctx, in->rows[i], b), "map function", err);
        if (!row) return FL_EUSER;
        int rc = fl__output_emit(&op->out, row, in->ts[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

static void map_close(fl_operator *op) {
    if (op->impl) fl_row_builder_destroy(op->impl);
    op->impl = NULL;
}

const fl_operator_ops fl__op_map = {
    .kind = "map",
    .open = map_open,
    .process = map_process,
    .close = map_close,
};
