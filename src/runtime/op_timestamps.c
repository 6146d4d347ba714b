/*
 * op_timestamps.c - assigns event timestamps and generates watermarks
 * (Flink's TimestampsAndWatermarksOperator with a bounded-out-of-orderness
 * strategy; monotonous timestamps are the case of bound 0).
 *
 * Each row's timestamp comes from a TIMESTAMP or BIGINT field, from a
 * user timestamp assigner, or from a user assigner over the whole batch
 * (fl_timestamp_batch_fn: one call per batch). The watermark is max timestamp seen - bound - 1.
 * It is emitted periodically in processing time
 * (pipeline.auto-watermark-interval, 200 ms by default) when it advanced, or
 * after every row that advances it when the interval is 0. With an idleness
 * timeout, an input that brought no row for that long is marked idle, so that
 * downstream watermarks do not wait for it; the next row marks it active.
 * Watermarks from upstream are ignored, except the final one that ends the
 * input.
 */
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "runtime_int.h"

typedef int64_t (*timestamp_fn)(fl_context *ctx, const fl_row *in, int64_t previous);
typedef int (*timestamp_batch_fn)(fl_context *ctx, uint32_t n, const fl_row *const *rows,
                                  int64_t *timestamps);

typedef struct ts_state {
    int field;            /* timestamp field, or -1 for the assigner */
    int64_t bound;        /* max out-of-orderness, ms */
    int64_t idle_timeout; /* ms; 0: never idle */
    int64_t interval;     /* periodic emission, ms; 0: after every row */
    int64_t max_ts;
    int64_t emitted;      /* last watermark emitted */
    int64_t last_row_at;  /* processing time of the last row */
    bool idle;
    timestamp_batch_fn batch; /* the assigner over batches, or NULL */
    int64_t *stamps;          /* its timestamps for the batch in hand */
    uint32_t stamps_cap;
} ts_state;

static void schedule_next(fl_operator *op, ts_state *st, int64_t now) {
    int64_t period = st->interval > 0 ? st->interval : st->idle_timeout;
    if (period > 0) fl__task_schedule(op->task, op, now + period);
}

static int ts_open(fl_operator *op, fl_error *err) {
    ts_state *st = fl_xcalloc(1, sizeof *st);
    op->impl = st;
    st->field = (int)fl__op_option_int(op, "field", -1);
    st->batch = (timestamp_batch_fn)fl__op_fn(op, "timestamp_batch");
    if (st->field < 0 && !op->fn && !st->batch)
        return fl_error_set(err, FL_EINVAL, "\"%s\" has neither a timestamp field nor an assigner",
                            op->node->name);
    st->bound = fl__op_option_int(op, "out-of-orderness", 0);
    st->idle_timeout = fl__op_option_int(op, "idle-timeout", 0);
    st->interval = op->task->settings->watermark_interval_ms;
    st->max_ts = INT64_MIN;
    st->emitted = INT64_MIN;
    int64_t now = fl__task_now_ms(op->task);
    st->last_row_at = now;
    schedule_next(op, st, now);
    return 0;
}

static int64_t current_watermark(const ts_state *st) {
    if (st->max_ts == INT64_MIN) return INT64_MIN;
    /* Saturating: a timestamp near INT64_MIN must not wrap around. */
    if (st->max_ts < INT64_MIN + st->bound + 1) return INT64_MIN;
    return st->max_ts - st->bound - 1;
}

static int emit_watermark(fl_operator *op, ts_state *st) {
    int64_t wm = current_watermark(st);
    if (wm <= st->emitted) return 0;
    st->emitted = wm;
    return fl__op_forward_watermark(op, wm);
}

static int ts_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    ts_state *st = op->impl;
    int rc = 0;
    if (st->idle_timeout > 0) {
        st->last_row_at = fl__task_now_ms(op->task);
        if (st->idle) {
            st->idle = false;
            rc = fl__op_forward_status(op, false);
            if (rc < 0) return rc;
        }
    }
    if (st->batch && in->n > 0) { /* one call for the batch, each row's previous timestamp in */
        if (in->n > st->stamps_cap) {
            st->stamps_cap = in->n;
            st->stamps = fl_xrealloc(st->stamps, (size_t)in->n * sizeof *st->stamps);
        }
        memcpy(st->stamps, in->ts, (size_t)in->n * sizeof *st->stamps);
        op->ctx.timestamp = FL_NO_TIMESTAMP;
        rc = st->batch(&op->ctx, in->n, in->rows, st->stamps);
        if (rc < 0 || op->ctx.failure)
            return fl__user_failure(op, "batch timestamp assigner", rc, err);
        if (st->interval > 0) { /* periodic watermarks: the batch goes on whole */
            for (uint32_t i = 0; i < in->n; i++)
                if (st->stamps[i] > st->max_ts) st->max_ts = st->stamps[i];
            return fl__output_emit_refs(&op->out, in->rows, st->stamps, in->n);
        }
    }
    for (uint32_t i = 0; i < in->n; i++) {
        const fl_row *row = in->rows[i];
        int64_t ts;
        if (st->batch) {
            ts = st->stamps[i];
        } else if (st->field >= 0) {
            if (fl_row_is_null(row, st->field))
                return fl_error_set(err, FL_EUSER, "\"%s\": the timestamp field \"%s\" is null",
                                    op->node->name,
                                    fl_schema_field_name(op->input_schema, st->field));
            ts = fl_row_get_bigint(row, st->field); /* TIMESTAMP and BIGINT share a slot */
        } else {
            op->ctx.timestamp = in->ts[i];
            ts = ((timestamp_fn)op->fn)(&op->ctx, row, in->ts[i]);
            if (op->ctx.failure) return fl__user_failure(op, "timestamp assigner", -1, err);
        }
        rc = fl__output_emit_ref(&op->out, row, ts);
        if (rc < 0) return rc;
        if (ts > st->max_ts) {
            st->max_ts = ts;
            if (st->interval == 0) {
                rc = emit_watermark(op, st);
                if (rc < 0) return rc;
            }
        }
    }
    return 0;
}

static int ts_on_processing_time(fl_operator *op, int64_t now, fl_error *err) {
    ts_state *st = op->impl;
    int rc = st->interval > 0 ? emit_watermark(op, st) : 0;
    if (rc == 0 && st->idle_timeout > 0 && !st->idle && now - st->last_row_at >= st->idle_timeout) {
        st->idle = true;
        rc = fl__op_forward_status(op, true);
    }
    schedule_next(op, st, now);
    return rc;
}

static int ts_watermark(fl_operator *op, int64_t wm, fl_error *err) {
    /* Only the end of input passes: this operator makes the watermarks. */
    if (wm != INT64_MAX) return 0;
    ts_state *st = op->impl;
    st->emitted = INT64_MAX;
    return fl__op_forward_watermark(op, INT64_MAX);
}

static void ts_close(fl_operator *op) {
    ts_state *st = op->impl;
    if (st) free(st->stamps);
    free(st);
    op->impl = NULL;
}

const fl_operator_ops fl__op_timestamps = {
    .kind = "timestamps",
    .open = ts_open,
    .process = ts_process,
    .watermark = ts_watermark,
    .on_processing_time = ts_on_processing_time,
    .close = ts_close,
};
