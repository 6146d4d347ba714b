/*
 * op_sink.c - the end of a chain: runs a sink connector on batches of rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors.h"
#include "runtime_int.h"

struct fl_sink_ctx {
    fl_operator *op;
};

typedef struct sink_state {
    const fl_sink_connector *conn;
    fl_options *opts;
    void *state;
    bool opened;
    fl_sink_ctx ctx;
} sink_state;

int fl_sink_subtask_index(const fl_sink_ctx *ctx) { return ctx->op->task->subtask; }
int fl_sink_parallelism(const fl_sink_ctx *ctx) { return ctx->op->task->parallelism; }
const fl_schema *fl_sink_schema(const fl_sink_ctx *ctx) { return ctx->op->input_schema; }
void *fl_sink_ctx_resolved_fn(const fl_sink_ctx *ctx) { return ctx->op->fn; }
fl_context *fl_sink_ctx_user_context(fl_sink_ctx *ctx) { return &ctx->op->ctx; }

/* A failing user sink function's own message beats the connector's. */
static int sink_failed(fl_operator *op, int rc, fl_error *err) {
    if (op->ctx.failure) {
        fl_error_clear(err);
        return fl__user_failure(op, "sink function", rc, err);
    }
    if (!err->code)
        fl_error_set(err, rc, "sink \"%s\" failed: %s", op->node->name, fl_strerror(rc));
    return rc;
}

static int sink_open(fl_operator *op, fl_error *err) {
    sink_state *st = calloc(1, sizeof *st);
    if (!st) return fl_error_set(err, FL_ENOMEM, "out of memory");
    op->impl = st;
    st->conn = fl_sink_connector_find(op->node->connector);
    if (!st->conn)
        return fl_error_set(err, FL_EINVAL, "unknown sink connector \"%s\"",
                            op->node->connector ? op->node->connector : "(none)");
    st->opts = fl__connector_options(op, st->conn->name, st->conn->options, err);
    if (!st->opts) return err->code;
    st->ctx.op = op;
    int rc = st->conn->open(&st->ctx, st->opts, &st->state, err);
    if (rc < 0) return sink_failed(op, rc, err);
    st->opened = true;
    return 0;
}

static int sink_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    sink_state *st = op->impl;
    int rc = st->conn->write(st->state, in->rows, in->ts, in->n, err);
    return rc < 0 ? sink_failed(op, rc, err) : 0;
}

static int sink_end_input(fl_operator *op, fl_error *err) {
    sink_state *st = op->impl;
    if (!st->conn->finish) return 0;
    int rc = st->conn->finish(st->state, err);
    return rc < 0 ? sink_failed(op, rc, err) : 0;
}

bool fl__sink_is_transactional(const fl_operator *op) {
    const sink_state *st = op->impl;
    return op->ops == &fl__op_sink && st && st->conn->pre_commit && st->conn->commit &&
           st->conn->recover;
}

int fl__sink_pre_commit(fl_operator *op, int64_t id, fl_split_list *out, fl_error *err) {
    sink_state *st = op->impl;
    int rc = st->conn->pre_commit(st->state, id, out, err);
    return rc < 0 ? sink_failed(op, rc, err) : 0;
}

int fl__sink_commit(fl_operator *op, int64_t id, fl_error *err) {
    sink_state *st = op->impl;
    int rc = st->conn->commit(st->state, id, err);
    return rc < 0 ? sink_failed(op, rc, err) : 0;
}

int fl__sink_recover(fl_operator *op, const fl_split *handles, size_t n, fl_error *err) {
    sink_state *st = op->impl;
    int rc = st->conn->recover(st->state, handles, n, err);
    return rc < 0 ? sink_failed(op, rc, err) : 0;
}

void fl__sink_abort(fl_operator *op) {
    sink_state *st = op->impl;
    if (st && st->opened && st->conn->abort) st->conn->abort(st->state);
}

static void sink_close(fl_operator *op) {
    sink_state *st = op->impl;
    if (!st) return;
    if (st->opened && st->conn->close) st->conn->close(st->state);
    fl_options_destroy(st->opts);
    free(st);
    op->impl = NULL;
}

const fl_operator_ops fl__op_sink = {
    .kind = "sink",
    .open = sink_open,
    .process = sink_process,
    .end_input = sink_end_input,
    .close = sink_close,
};
