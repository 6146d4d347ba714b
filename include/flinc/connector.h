/*
 * flinc/connector.h - how sources and sinks plug into flinc.
 *
 * A connector is one descriptor: a name, a table of options (which gives the
 * docs and the error for an unknown or missing option), and the calls that
 * create, run and close it. The built-in ones (collection, sequence, datagen,
 * filesystem, socket, print, blackhole, collect, user-function sink) use only
 * this interface.
 *
 * Options are "key=value" strings recorded in the job graph, so a source runs
 * the same in any process. A source runs in its subtask's thread: the runtime
 * calls read() again and again, handling control mail (cancellation, later
 * checkpoints) between calls, so read() must return within a few tens of
 * milliseconds. fl_source_emit blocks while the outputs are full
 * (backpressure) and returns FL_ECANCELED once the job is being canceled.
 */
#ifndef FLINC_CONNECTOR_H
#define FLINC_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flinc/error.h"
#include "flinc/row.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_option_def {
    const char *key;           /* e.g. "rows-per-second"; "fields.#.min" for per-field keys */
    const char *default_value; /* NULL: no default */
    bool required;
    const char *description; /* one line, for docs and errors */
} fl_option_def;

/* The resolved options of one connector instance (defaults applied). */
typedef struct fl_options fl_options;

/* Borrowed value or NULL when unset and without default. */
const char *fl_options_get(const fl_options *o, const char *key);
/* Typed getters: missing -> dflt; malformed -> FL_ECONFIG naming the option. */
int fl_options_get_int64(const fl_options *o, const char *key, int64_t dflt, int64_t *out,
                         fl_error *err);
int fl_options_get_double(const fl_options *o, const char *key, double dflt, double *out,
                          fl_error *err);
int fl_options_get_bool(const fl_options *o, const char *key, bool dflt, bool *out, fl_error *err);

/* ---- sources -------------------------------------------------------------------- */

typedef struct fl_source_ctx fl_source_ctx;

enum {
    FL_SOURCE_MORE = 1, /* call read() again */
    FL_SOURCE_END = 2,  /* this subtask's input is exhausted (bounded) */
    FL_SOURCE_IDLE = 3, /* nothing now; call again after fl_source_idle_until's time */
};

#define FL_NO_TIMESTAMP INT64_MIN

int fl_source_subtask_index(const fl_source_ctx *ctx);
int fl_source_parallelism(const fl_source_ctx *ctx);
/* A reset builder for the source's output schema. */
fl_row_builder *fl_source_builder(fl_source_ctx *ctx);
/* Emits the builder's row with an event timestamp (FL_NO_TIMESTAMP when none).
 * 0, FL_ECANCELED (stop reading and return), or an error. */
int fl_source_emit(fl_source_ctx *ctx, int64_t timestamp);
/* Emits an already built row of the output schema. */
int fl_source_emit_row(fl_source_ctx *ctx, const fl_row *row, int64_t timestamp);
/* With FL_SOURCE_IDLE: the monotonic time (fl_clock_monotonic_ns) to call
 * read() again at the latest; earlier if mail arrives. */
void fl_source_idle_until(fl_source_ctx *ctx, int64_t monotonic_ns);
/* True once the job is being canceled: a long read loop should return. */
bool fl_source_canceled(const fl_source_ctx *ctx);

typedef struct fl_source_connector {
    const char *name;
    const char *description;
    const fl_option_def *options; /* ends with a {NULL} entry */
    bool parallel;                /* false: parallelism is forced to 1 */
    /* Graph time: checks the options and returns the output schema (new
     * reference). `declared` is the schema the user gave, or NULL. */
    fl_schema *(*schema)(const fl_options *opts, const fl_schema *declared, fl_error *err);
    /* Whether the source ends by itself with these options. */
    bool (*bounded)(const fl_options *opts);
    /* Run time, in the subtask's thread. */
    int (*open)(fl_source_ctx *ctx, const fl_options *opts, void **state, fl_error *err);
    /* Emits some rows; returns FL_SOURCE_MORE/END/IDLE or a negative error. */
    int (*read)(void *state, fl_source_ctx *ctx, fl_error *err);
    void (*close)(void *state);
} fl_source_connector;

/* ---- sinks ------------------------------------------------------------------------ */

typedef struct fl_sink_ctx fl_sink_ctx;

int fl_sink_subtask_index(const fl_sink_ctx *ctx);
int fl_sink_parallelism(const fl_sink_ctx *ctx);
const fl_schema *fl_sink_schema(const fl_sink_ctx *ctx);

typedef struct fl_sink_connector {
    const char *name;
    const char *description;
    const fl_option_def *options;
    /* Graph time: checks the options against the input schema. */
    int (*validate)(const fl_options *opts, const fl_schema *input, fl_error *err);
    int (*open)(fl_sink_ctx *ctx, const fl_options *opts, void **state, fl_error *err);
    /* A batch of rows with their timestamps. */
    int (*write)(void *state, const fl_row *const *rows, const int64_t *timestamps, size_t n,
                 fl_error *err);
    /* All input has arrived (bounded jobs): flush. */
    int (*finish)(void *state, fl_error *err);
    void (*close)(void *state);
} fl_sink_connector;

/* Built-in and registered connectors. NULL when unknown. */
const fl_source_connector *fl_source_connector_find(const char *name);
const fl_sink_connector *fl_sink_connector_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
