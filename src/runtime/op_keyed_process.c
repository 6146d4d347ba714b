/*
 * op_keyed_process.c - a process function on a keyed stream (Flink's
 * KeyedProcessFunction): keyed state and timers for the key of every row, and
 * on_timer when a timer fires, with the timer's key set and the timer's time
 * as the timestamp of what it emits.
 */
#include <stdlib.h>

#include "mem.h"
#include "runtime_int.h"

static int kp_open(fl_operator *op, fl_error *err) {
    fl_keyed_process_op *st = fl_xcalloc(1, sizeof *st);
    op->impl = st;
    st->out = fl__collector_create(op, op->node->schema);
    st->on_timer = (fl_on_timer_fn)fl__op_fn(op, "on_timer");
    st->keyed.on_timer = fl__keyed_process_on_timer;
    return fl__keyed_open(op, &st->keyed, err);
}

static int kp_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    fl_keyed_process_op *st = op->impl;
    fl_process_fn fn = (fl_process_fn)op->fn;
    for (uint32_t i = 0; i < in->n; i++) {
        int rc = fl__keyed_set_key(op, input, in->rows[i], err);
        if (rc == 0)
            rc = fl__collector_run_row(op, st->out, fn, in->rows[i], in->ts[i], "process function",
                                       err);
        if (rc < 0) return rc;
    }
    return 0;
}

static void kp_close(fl_operator *op) {
    fl_keyed_process_op *st = op->impl;
    if (!st) return;
    if (st->keyed.backend) fl__keyed_close(&st->keyed);
    fl__collector_destroy(st->out);
    free(st);
    op->impl = NULL;
    op->keyed = NULL;
}

const fl_operator_ops fl__op_keyed_process = {
    .kind = "keyed_process",
    .open = kp_open,
    .process = kp_process,
    .watermark = fl__keyed_watermark,
    .on_processing_time = fl__keyed_processing_time,
    .close = kp_close,
};
