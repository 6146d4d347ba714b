/*
 * fake_ctx.c - the in-memory source and sink contexts of the connector tests
 * (see fake_ctx.h): the runtime functions of flinc/connector.h and
 * connectors.h implemented over plain structs.
 */
#include "fake_ctx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "connectors.h"
#include "kv.h"
#include "mem.h"
#include "options.h"

/* ---- source context ---------------------------------------------------------------------- */

fl_source_ctx *fake_source_create(const fl_schema *s, int index, int parallelism) {
    fl_source_ctx *ctx = fl_xcalloc(1, sizeof *ctx);
    ctx->subtask_index = index;
    ctx->parallelism = parallelism;
    ctx->builder = fl_row_builder_create(s);
    ctx->idle_until = -1;
    return ctx;
}

void fake_source_destroy(fl_source_ctx *ctx) {
    if (ctx == NULL)
        return;
    for (size_t i = 0; i < ctx->n_rows; i++)
        free(ctx->rows[i]);
    free(ctx->rows);
    free(ctx->timestamps);
    fl_row_builder_destroy(ctx->builder);
    free(ctx);
}

int fl_source_subtask_index(const fl_source_ctx *ctx) { return ctx->subtask_index; }
int fl_source_parallelism(const fl_source_ctx *ctx) { return ctx->parallelism; }

fl_row_builder *fl_source_builder(fl_source_ctx *ctx) {
    fl_row_builder_reset(ctx->builder);
    return ctx->builder;
}

int fl_source_emit_row(fl_source_ctx *ctx, const fl_row *row, int64_t timestamp) {
    if (ctx->canceled || (ctx->cancel_after > 0 && ctx->n_rows >= ctx->cancel_after)) {
        ctx->canceled = true;
        return FL_ECANCELED;
    }
    /* Every emitted row must be well formed for the output schema. */
    fl_error err = {0};
    if (fl_row_validate(row, fl_row_size(row), fl_row_builder_schema(ctx->builder), &err) < 0)
        return FL_EFORMAT;
    if (ctx->n_rows == ctx->cap_rows) {
        ctx->cap_rows = ctx->cap_rows ? ctx->cap_rows * 2 : 64;
        ctx->rows = fl_xrealloc(ctx->rows, ctx->cap_rows * sizeof *ctx->rows);
        ctx->timestamps = fl_xrealloc(ctx->timestamps, ctx->cap_rows * sizeof *ctx->timestamps);
    }
    ctx->rows[ctx->n_rows] = fl_row_copy(row);
    ctx->timestamps[ctx->n_rows] = timestamp;
    ctx->n_rows++;
    return 0;
}

int fl_source_emit(fl_source_ctx *ctx, int64_t timestamp) {
    const fl_row *row = fl_row_builder_finish(ctx->builder);
    if (row == NULL)
        return FL_EINVAL;
    return fl_source_emit_row(ctx, row, timestamp);
}

void fl_source_idle_until(fl_source_ctx *ctx, int64_t monotonic_ns) {
    ctx->idle_until = monotonic_ns;
}

bool fl_source_canceled(const fl_source_ctx *ctx) { return ctx->canceled; }

/* ---- sink context ------------------------------------------------------------------------ */

int fl_sink_subtask_index(const fl_sink_ctx *ctx) { return ctx->subtask_index; }
int fl_sink_parallelism(const fl_sink_ctx *ctx) { return ctx->parallelism; }
const fl_schema *fl_sink_schema(const fl_sink_ctx *ctx) { return ctx->schema; }
void *fl_sink_ctx_resolved_fn(const fl_sink_ctx *ctx) { return ctx->fn; }
fl_context *fl_sink_ctx_user_context(fl_sink_ctx *ctx) { return ctx->user; }

/* ---- helpers ----------------------------------------------------------------------------- */

fl_options *fake_options(const fl_option_def *defs, const char *what, const char *const *kv,
                         fl_error *err) {
    fl_kv *given = fl_kv_create();
    for (size_t i = 0; kv != NULL && kv[i] != NULL; i++) {
        const char *eq = strchr(kv[i], '=');
        char *key = fl_xstrndup(kv[i], eq ? (size_t)(eq - kv[i]) : strlen(kv[i]));
        fl_kv_set(given, key, eq ? eq + 1 : "");
        free(key);
    }
    fl_options *o = fl_options_create(defs, given, what, err);
    fl_kv_destroy(given);
    return o;
}

int fake_source_run(const fl_source_connector *c, const fl_options *o, fl_source_ctx *ctx,
                    int max_calls, bool follow_idle, fl_error *err) {
    void *state = NULL;
    int rc = c->open(ctx, o, &state, err);
    if (rc < 0)
        return rc;
    rc = FL_SOURCE_MORE;
    for (int calls = 0; calls < max_calls; calls++) {
        rc = c->read(state, ctx, err);
        if (rc < 0 || rc == FL_SOURCE_END)
            break;
        if (rc == FL_SOURCE_IDLE && follow_idle) {
            int64_t wait = ctx->idle_until - fl_clock_monotonic_ns();
            if (wait > 0)
                fl_sleep_ns(wait);
        }
    }
    c->close(state);
    return rc < 0 ? rc : 0;
}

fl_source_ctx *fake_source_collect(const char *connector, const fl_schema *declared,
                                   const char *const *kv, int index, int p, fl_error *err) {
    const fl_source_connector *c = fl_source_connector_find(connector);
    if (c == NULL)
        return NULL;
    char what[128];
    snprintf(what, sizeof what, "connector \"%s\"", connector);
    fl_options *o = fake_options(c->options, what, kv, err);
    if (o == NULL)
        return NULL;
    fl_schema *s = c->schema(o, declared, err);
    if (s == NULL) {
        fl_options_destroy(o);
        return NULL;
    }
    fl_source_ctx *ctx = fake_source_create(s, index, p);
    fl_schema_unref(s);
    int rc = fake_source_run(c, o, ctx, 1 << 30, true, err);
    fl_options_destroy(o);
    if (rc < 0) {
        fake_source_destroy(ctx);
        return NULL;
    }
    return ctx;
}

int fake_source_read_until(const fl_source_connector *c, void *state, fl_source_ctx *ctx,
                           size_t limit, fl_error *err) {
    if (ctx->n_rows >= limit)
        return FL_SOURCE_MORE;
    ctx->cancel_after = limit == SIZE_MAX ? 0 : limit;
    int rc;
    for (;;) {
        rc = c->read(state, ctx, err);
        if (rc == FL_ECANCELED && ctx->n_rows >= limit) {
            rc = FL_SOURCE_MORE;
            break;
        }
        if (rc < 0 || rc == FL_SOURCE_END || ctx->n_rows >= limit)
            break;
        if (rc == FL_SOURCE_IDLE) {
            int64_t wait = ctx->idle_until - fl_clock_monotonic_ns();
            if (wait > 0)
                fl_sleep_ns(wait);
        }
    }
    ctx->cancel_after = 0;
    ctx->canceled = false;
    return rc;
}

void fake_even_split(size_t count, int p, int i, size_t *first, size_t *n) {
    size_t base = count / (size_t)p, extra = count % (size_t)p;
    size_t idx = (size_t)i;
    *first = idx * base + (idx < extra ? idx : extra);
    *n = base + (idx < extra ? 1 : 0);
}
