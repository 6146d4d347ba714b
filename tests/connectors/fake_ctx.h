/*
 * fake_ctx.h - a stand-in for the runtime's source and sink contexts, so the
 * connector tests can drive a connector's open/read/write/close directly:
 * emitted rows are copied and kept in memory, cancellation and the idle time
 * can be inspected, and the helpers below build options and run a source to
 * its end.
 */
#ifndef FLINC_TESTS_FAKE_CTX_H
#define FLINC_TESTS_FAKE_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flinc/connector.h"
#include "flinc/datastream.h"

struct fl_source_ctx {
    int subtask_index;
    int parallelism;
    fl_row_builder *builder;
    fl_row **rows; /* copies of the emitted rows */
    int64_t *timestamps;
    size_t n_rows, cap_rows;
    int64_t idle_until;  /* last fl_source_idle_until value, or -1 */
    bool canceled;
    size_t cancel_after; /* > 0: emit returns FL_ECANCELED once this many rows are kept */
};

struct fl_sink_ctx {
    int subtask_index;
    int parallelism;
    const fl_schema *schema;
    void *fn;         /* what fl_sink_ctx_resolved_fn returns */
    fl_context *user; /* what fl_sink_ctx_user_context returns */
};

/* A source context for subtask `index` of `parallelism` producing schema s
 * (borrowed; the builder takes a reference). */
fl_source_ctx *fake_source_create(const fl_schema *s, int index, int parallelism);
void fake_source_destroy(fl_source_ctx *ctx);

/* Options from "key=value" strings ending in NULL, checked against defs as
 * the graph builder does; NULL with err filled on an unknown/missing one. */
fl_options *fake_options(const fl_option_def *defs, const char *what, const char *const *kv,
                         fl_error *err);

/* Opens the source and calls read() until END, at most max_calls times,
 * sleeping until the requested time on IDLE when `follow_idle`; closes it.
 * Returns 0, or the first negative code (err filled). */
int fake_source_run(const fl_source_connector *c, const fl_options *o, fl_source_ctx *ctx,
                    int max_calls, bool follow_idle, fl_error *err);

/* Schema check + open + run, for subtask `index` of `p`: returns a new
 * context holding the rows (NULL on failure, err filled). */
fl_source_ctx *fake_source_collect(const char *connector, const fl_schema *declared,
                                   const char *const *kv, int index, int p, fl_error *err);

#endif
