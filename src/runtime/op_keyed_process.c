/*
 * op_keyed_process.c - a process function on a keyed stream (Flink's
 * KeyedProcessFunction): keyed state and timers for the key of every row, and
 * on_timer when a timer fires, with the timer's key set and the timer's time
 * as the timestamp of what it emits.
 */
#include <stdlib.h>

#include "mem.h"
#include "runtime_int.h"

typedef struct kp_state {
    fl_keyed_op keyed;
    fl_collector *out;
    fl_on_timer_fn on_timer;
} kp_state;

static int kp_on_timer(fl_operator *op, int domain, const void *ns, uint32_t ns_len, int64_t time,
                       fl_error *err) {
    kp_state *st = op->impl;
    return fl__collector_run_timer(op, st->out, st->on_timer, time, err);
}

static int kp_open(fl_operator *op, fl_error *err) {
    kp_state *st = fl_xcalloc(1, sizeof *st);
    op->impl = st;
    st->out = fl__collector_create(op, op->node->schema);
    st->on_timer = (fl_on_timer_fn)fl__op_fn(op, "on_timer");
    st->keyed.on_timer = kp_on_timer;
    return fl__keyed_open(op, &st->keyed, err);
}

static int kp_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    kp_state *st = op->impl;
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

static int kp_watermark(fl_operator *op, int64_t wm, fl_error *err) {
    return fl__keyed_watermark(op, wm, err);
}

static int kp_processing_time(fl_operator *op, int64_t now, fl_error *err) {
    return fl__keyed_processing_time(op, now, err);
}

static void kp_close(fl_operator *op) {
    kp_state *st = op->impl;
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
    .watermark = kp_watermark,
    .on_processing_time = kp_processing_time,
    .close = kp_close,
};
