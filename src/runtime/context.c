/*
 * context.c - what a user function can ask of the engine: which subtask it
 * runs in, job parameters, its argument bytes, its user pointer, and how to
 * fail with a message. Also the collector of flat_map functions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"

int fl_context_subtask_index(const fl_context *ctx) { return ctx->task->subtask; }
int fl_context_parallelism(const fl_context *ctx) { return ctx->task->parallelism; }
int fl_context_max_parallelism(const fl_context *ctx) { return ctx->op->node->max_parallelism; }
int fl_context_attempt(const fl_context *ctx) { return ctx->task->eg->attempt; }
const char *fl_context_task_name(const fl_context *ctx) { return ctx->task->name; }

const char *fl_context_param(const fl_context *ctx, const char *key) {
    return fl_kv_get(fl__task_params(ctx->task), key);
}

const void *fl_context_arg(const fl_context *ctx, size_t *len) {
    if (len) *len = ctx->arg_len;
    return ctx->arg;
}

void *fl_context_user(const fl_context *ctx) { return ctx->user; }
void fl_context_set_user(fl_context *ctx, void *user) { ctx->user = user; }
int64_t fl_context_timestamp(const fl_context *ctx) { return ctx->timestamp; }

int64_t fl_context_current_watermark(const fl_context *ctx) { return ctx->op->watermark; }
int64_t fl_context_current_processing_time(const fl_context *ctx) {
    return fl__task_now_ms(ctx->task);
}

int fl_context_output(fl_context *ctx, const char *tag, const fl_row *row) {
    fl_operator *op = ctx->op;
    for (int i = 0; i < op->n_side_outs; i++) {
        if (strcmp(op->side_outs[i].tag, tag) != 0) continue;
        const fl_schema *s = fl_stream_node_side_output_schema(op->node, tag);
        if (fl_row_num_fields(row) != fl_schema_num_fields(s))
            return fl_context_fail(ctx, "%s: a row of %d fields for side output \"%s\" of %d",
                                   op->node->name, fl_row_num_fields(row), tag,
                                   fl_schema_num_fields(s));
        return fl__output_emit(&op->side_outs[i].out, row, ctx->timestamp);
    }
    return 0; /* nobody reads this tag: dropped, as in Flink */
}

int fl_context_fail(fl_context *ctx, const char *fmt, ...) {
    if (!ctx->failure) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&ctx->failure, fmt, ap) < 0) ctx->failure = NULL;
        va_end(ap);
        if (!ctx->failure) ctx->failure = fl_xstrdup("user function failed");
    }
    return FL_EUSER;
}

int fl__user_failure(fl_operator *op, const char *what, int rc, fl_error *err) {
    fl_context *ctx = &op->ctx;
    if (ctx->failure) {
        fl_error_set(err, FL_EUSER, "%s", ctx->failure);
        free(ctx->failure);
        ctx->failure = NULL;
    } else {
        fl_error_set(err, FL_EUSER, "%s of \"%s\" returned %d", what, op->node->name, rc);
    }
    return FL_EUSER;
}

const fl_row *fl__user_row_failed(fl_operator *op, fl_row_builder *b, int rc, const char *what,
                                  fl_error *err) {
    if (rc < 0 || op->ctx.failure)
        fl__user_failure(op, what, rc, err);
    else
        fl_error_set(err, FL_EUSER, "%s of \"%s\" built an invalid row: %s", what, op->node->name,
                     fl_row_builder_error(b));
    return NULL;
}

/* ---- the flat_map collector ---------------------------------------------------------- */

struct fl_collector {
    fl_operator *op;
    fl_row_builder *builder;
    int64_t ts;
    int rc;
};

fl_collector *fl__collector_create(fl_operator *op, const fl_schema *schema) {
    fl_collector *c = fl_xcalloc(1, sizeof *c);
    c->op = op;
    c->builder = fl_row_builder_create(schema);
    return c;
}

void fl__collector_destroy(fl_collector *c) {
    if (!c) return;
    fl_row_builder_destroy(c->builder);
    free(c);
}

void fl__collector_begin(fl_collector *c, int64_t ts) {
    c->ts = ts;
    c->rc = 0;
}

int fl__collector_status(const fl_collector *c) { return c->rc; }

fl_row_builder *fl_collector_builder(fl_collector *out) {
    fl_row_builder_reset(out->builder);
    return out->builder;
}

/* The row is laid out straight into the output batch (what fl__output_emit
 * would otherwise copy out of the builder's buffer): where the batch has
 * room, or else once a full batch went on (fl__output_reserve flushes it). */
int fl_collector_emit(fl_collector *out) {
    if (out->rc < 0) return out->rc;
    fl_row_builder *b = out->builder;
    fl_output *o = &out->op->out;
    fl_batch *batch = &o->batch;
    size_t room = batch->n < batch->cap ? batch->bytes_cap - batch->used : 0;
    uint32_t len = fl__row_builder_lay_out(b, room ? batch->bytes + batch->used : NULL, room);
    if (len == 0) {
        fl_context_fail(&out->op->ctx, "%s: invalid output row: %s", out->op->node->name,
                        fl_row_builder_error(b));
        return out->rc = FL_EUSER;
    }
    uint8_t *at;
    int rc = fl__output_reserve(o, len, out->ts, &at); /* where it was laid out, if it fit */
    if (rc < 0) return out->rc = rc;
    if (len > room) fl__row_builder_lay_out(b, at, len);
    return 0;
}

/* The rows share everything but the value: each is the builder's row up to
 * the value, copied in the same number of words every time, then its
 * length, the value's slot and the value -- written straight into the
 * output batch, with no per-row call. A row the shortcut cannot take (the
 * field is not the row's last value, a NULL value with a length, a value
 * too long for a row) goes the general way, which also reports the error. */
int fl_collector_emit_strings(fl_collector *out, int field, uint32_t n, const char *const *values,
                              const uint32_t *lens) {
    if (out->rc < 0) return out->rc;
    if (n == 0) return 0;
    fl_row_builder *b = out->builder;
    fl_output *o = &out->op->out;
    uint32_t off = 0, slot_at = 0;
    const uint8_t *base = NULL;
    if (fl_schema_field_type(fl_row_builder_schema(b), field) == FL_STRING)
        base = fl__row_builder_var_tail(b, field, values[0], lens[0], &off, &slot_at);
    for (uint32_t k = 0; k < n; k++) {
        const char *v = values[k];
        uint32_t len = lens[k];
        if (!base || (!v && len > 0) || len > UINT32_MAX - 64 - off) {
            fl_row_builder_set_string(b, field, v, len);
            int rc = fl_collector_emit(out);
            if (rc < 0) return rc;
            base = NULL; /* the builder's row changed under it */
            continue;
        }
        uint32_t total = off + fl__align8(len);
        uint8_t *at;
        int rc = fl__output_reserve(o, total, out->ts, &at);
        if (rc < 0) return out->rc = rc;
        switch (off) { /* the same every time: fixed-size moves */
        case 24:
            memcpy(at, base, 24);
            break;
        case 32:
            memcpy(at, base, 32);
            break;
        case 40:
            memcpy(at, base, 40);
            break;
        case 48:
            memcpy(at, base, 48);
            break;
        default:
            fl__copy_words(at, base, off);
        }
        memcpy(at, &total, 4);
        uint64_t slot = (uint64_t)off | (uint64_t)len << 32;
        memcpy(at + slot_at, &slot, 8);
        fl__copy_padded(at + off, v, len);
    }
    if (base) fl_row_builder_set_string(b, field, values[n - 1], lens[n - 1]); /* keeps the last */
    return 0;
}

int fl_collector_emit_row(fl_collector *out, const fl_row *row) {
    if (out->rc < 0) return out->rc;
    if (fl_row_num_fields(row) != fl_schema_num_fields(fl_row_builder_schema(out->builder))) {
        fl_context_fail(&out->op->ctx, "%s: emitted a row of %d fields; the output schema has %d",
                        out->op->node->name, fl_row_num_fields(row),
                        fl_schema_num_fields(fl_row_builder_schema(out->builder)));
        return out->rc = FL_EUSER;
    }
    int rc = fl__output_emit(&out->op->out, row, out->ts);
    if (rc < 0) out->rc = rc;
    return rc;
}

/* ---- calling collector-style user functions ---------------------------------------------- */

/* The outcome of one call that emitted through c: 0, FL_ECANCELED, or
 * FL_EUSER with the function's message. */
static int collector_outcome(fl_operator *op, fl_collector *c, int rc, const char *what,
                             fl_error *err) {
    int crc = fl__collector_status(c);
    if (crc == FL_ECANCELED) return crc;
    if (rc < 0 || crc < 0 || op->ctx.failure)
        return fl__user_failure(op, what, rc < 0 ? rc : crc, err);
    return 0;
}

int fl__collector_run_row(fl_operator *op, fl_collector *c, fl_process_fn fn, const fl_row *row,
                          int64_t ts, const char *what, fl_error *err) {
    op->ctx.timestamp = ts;
    fl__collector_begin(c, ts);
    return collector_outcome(op, c, fn(&op->ctx, row, c), what, err);
}

int fl__collector_run_batch(fl_operator *op, fl_collector *c, fl_process_fn fn, const fl_batch *in,
                            const char *what, fl_error *err) {
    for (uint32_t i = 0; i < in->n; i++) {
        int rc = fl__collector_run_row(op, c, fn, in->rows[i], in->ts[i], what, err);
        if (rc < 0) return rc;
    }
    return 0;
}

int fl__collector_run_timer(fl_operator *op, fl_collector *c, fl_on_timer_fn fn, int64_t time,
                            fl_error *err) {
    if (!fn) return 0;
    op->ctx.timestamp = time;
    fl__collector_begin(c, time);
    return collector_outcome(op, c, fn(&op->ctx, time, c), "on_timer function", err);
}
