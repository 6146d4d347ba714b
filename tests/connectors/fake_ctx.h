/*
 * fake_ctx.h - a stand-in for the runtime's source and sink contexts, so the
 * connector tests can drive a connector's open/read/write/close directly:
 * emitted rows are copied and kept in memory, cancellation and the idle time
 * can be inspected, and the helpers below build options, run a source to
 * its end or to a given row count (to snapshot it there), and split
 * checkpointed splits over subtasks as the runtime does.
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

/* Calls read() on an open source until the context holds `limit` rows or the
 * source ends, sleeping until the requested time on IDLE. The limit cuts a
 * batch in the middle: the emit after the limit-th row fails with
 * FL_ECANCELED (as on a cancel), then the context is made usable again, so
 * this also checks that a failed emit leaves the source's position right.
 * SIZE_MAX: read to the end. Returns FL_SOURCE_END, FL_SOURCE_MORE (limit
 * reached) or the source's negative code (err filled). */
int fake_source_read_until(const fl_source_connector *c, void *state, fl_source_ctx *ctx,
                           size_t limit, fl_error *err);

/* Flink's even split of operator list state: the concatenated list `all`
 * cut into p contiguous runs, the first (count % p) one longer. The run of
 * subtask i starts at *first and has *n entries. */
void fake_even_split(size_t count, int p, int i, size_t *first, size_t *n);

#endif
