/*
 * op_source.c - the head of a source task: runs a source connector.
 *
 * The task loop calls fl__source_read again and again; between calls it
 * handles mail and flushes buffers that waited too long. What the connector
 * emits goes through the source operator's output like any operator's rows.
 */
#include <stdlib.h>

#include "connectors.h"
#include "runtime_int.h"

struct fl_source_ctx {
    fl_operator *op;
    fl_row_builder *builder;
    int64_t idle_until_ns;
};

typedef struct source_state {
    int64_t emitted; /* rows emitted (published to the task after each read) */
    const fl_source_connector *conn;
    fl_options *opts;
    void *state;
    bool opened;
    fl_source_ctx ctx;
} source_state;

int fl_source_subtask_index(const fl_source_ctx *ctx) { return ctx->op->task->subtask; }
int fl_source_parallelism(const fl_source_ctx *ctx) { return ctx->op->task->parallelism; }
bool fl_source_canceled(const fl_source_ctx *ctx) { return fl__task_canceled(ctx->op->task); }
void fl_source_idle_until(fl_source_ctx *ctx, int64_t ns) { ctx->idle_until_ns = ns; }

fl_row_builder *fl_source_builder(fl_source_ctx *ctx) {
    fl_row_builder_reset(ctx->builder);
    return ctx->builder;
}

int fl_source_emit_row(fl_source_ctx *ctx, const fl_row *row, int64_t timestamp) {
    if (fl__task_canceled(ctx->op->task)) return FL_ECANCELED;
    ((source_state *)ctx->op->impl)->emitted++;
    return fl__output_emit(&ctx->op->out, row, timestamp);
}

int fl_source_emit(fl_source_ctx *ctx, int64_t timestamp) {
    const fl_row *row = fl_row_builder_finish(ctx->builder);
    if (!row)
        return fl_error_set(&ctx->op->task->error, FL_EINVAL,
                            "source \"%s\" built an invalid row: %s", ctx->op->node->name,
                            fl_row_builder_error(ctx->builder));
    return fl_source_emit_row(ctx, row, timestamp);
}

static int source_open(fl_operator *op, fl_error *err) {
    source_state *st = calloc(1, sizeof *st);
    if (!st) return fl_error_set(err, FL_ENOMEM, "out of memory");
    op->impl = st;
    st->conn = fl_source_connector_find(op->node->connector);
    if (!st->conn)
        return fl_error_set(err, FL_EINVAL, "unknown source connector \"%s\"",
                            op->node->connector ? op->node->connector : "(none)");
    st->opts = fl__connector_options(op, st->conn->name, st->conn->options, err);
    if (!st->opts) return err->code;
    st->ctx.op = op;
    st->ctx.builder = fl_row_builder_create(op->node->schema);
    int rc = st->conn->open(&st->ctx, st->opts, &st->state, err);
    if (rc < 0) return rc;
    st->opened = true;
    return 0;
}

int fl__source_read(fl_operator *op, int64_t *idle_until_ns, fl_error *err) {
    source_state *st = op->impl;
    st->ctx.idle_until_ns = 0;
    int rc = st->conn->read(st->state, &st->ctx, err);
    if (rc >= 0) {
        int frc = fl__op_flush(op);
        if (frc < 0) return frc;
    }
    *idle_until_ns = st->ctx.idle_until_ns;
    atomic_store_explicit(&op->task->records_emitted, st->emitted, memory_order_relaxed);
    return rc;
}

bool fl__source_can_rewind(const fl_operator *op) {
    const source_state *st = op->impl;
    return st && st->conn->snapshot && st->conn->restore;
}

int fl__source_snapshot(fl_operator *op, fl_split_list *out, fl_error *err) {
    source_state *st = op->impl;
    return st->conn->snapshot ? st->conn->snapshot(st->state, out, err) : 0;
}

int fl__source_restore(fl_operator *op, const fl_split *splits, size_t n, fl_error *err) {
    source_state *st = op->impl;
    if (!st->conn->restore) return 0; /* at-most-once (socket): starts afresh */
    return st->conn->restore(st->state, splits, n, err);
}

static void source_close(fl_operator *op) {
    source_state *st = op->impl;
    if (!st) return;
    if (st->opened && st->conn->close) st->conn->close(st->state);
    if (st->ctx.builder) fl_row_builder_destroy(st->ctx.builder);
    fl_options_destroy(st->opts);
    free(st);
    op->impl = NULL;
}

static int source_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    return fl_error_set(err, FL_ESTATE, "source \"%s\" has no input", op->node->name);
}

const fl_operator_ops fl__op_source = {
    .kind = "source",
    .open = source_open,
    .process = source_process,
    .close = source_close,
};
