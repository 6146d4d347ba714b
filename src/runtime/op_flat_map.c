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
    return fl__collector_run_batch(op, op->impl, (fl_process_fn)op->fn, in, "flat_map function",
                                   err);
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
