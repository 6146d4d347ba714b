/*
 * op_process.c - a process function on a non-keyed stream (Flink's
 * ProcessFunction): any number of rows out through a collector, side outputs
 * through fl_context_output, the current watermark and processing time from
 * the context. Keyed process functions, with state and timers, are
 * op_keyed_process.c.
 */
#include "runtime_int.h"

static int process_open(fl_operator *op, fl_error *err) {
    op->impl = fl__collector_create(op, op->node->schema);
    return 0;
}

static int process_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    return fl__collector_run_batch(op, op->impl, (fl_process_fn)op->fn, in, "process function",
                                   err);
}

static void process_close(fl_operator *op) {
    fl__collector_destroy(op->impl);
    op->impl = NULL;
}

const fl_operator_ops fl__op_process = {
    .kind = "process",
    .open = process_open,
    .process = process_process,
    .close = process_close,
};
