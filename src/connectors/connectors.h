/*
 * connectors.h - the interface of the built-in connectors module beyond the
 * descriptors that fl_source_connector_find / fl_sink_connector_find return.
 *
 * It holds three things: the connector documentation printer (for docs and
 * `--help`), the process-wide registries that the blackhole and collect sinks
 * report into (the embedded cluster runs in the caller's process, so tests and
 * the DataStream API read results from them), and two accessors on
 * fl_sink_ctx that the runtime implements for the user-function sink, so that
 * this module never has to resolve symbols itself.
 */
#ifndef FL_CONNECTORS_H
#define FL_CONNECTORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flinc/connector.h"
#include "flinc/datastream.h"

/* Prints every built-in source and sink with its options, their defaults and
 * descriptions, as plain text; then the sources the program registered. */
void fl_connectors_describe(FILE *out);

/* ---- blackhole counters ------------------------------------------------------------------ */

/* The number of rows the blackhole sinks with option counter=ID have counted
 * (summed over subtasks; each subtask adds its count when it finishes or
 * closes). 0 for an id never seen. Thread-safe. */
int64_t fl_connector_counter_get(const char *id);
/* Sets the counter ID back to 0 (forgets it). Thread-safe. */
void fl_connector_counter_reset(const char *id);

/* ---- collect registry -------------------------------------------------------------------- */

/* Starts (or restarts, dropping earlier rows) the entry ID that collect sinks
 * with option id=ID append to. A sink writing to an id that was never opened
 * creates the entry; fl_collect_registry_close frees it either way. */
void fl_collect_registry_open(const char *id);
/* Rows appended to ID so far (0 for an unknown id). */
size_t fl_collect_registry_count(const char *id);
/* The i-th row of ID (NULL when out of range); borrowed, valid until the
 * entry is closed or reopened. The rows of one subtask are in the order the
 * subtask received them; subtasks append whole chunks at a time. */
const fl_row *fl_collect_registry_row(const char *id, size_t i);
/* Frees ID and its rows. Unknown ids are ignored. */
void fl_collect_registry_close(const char *id);

/* ---- implemented by the runtime ---------------------------------------------------------- */

/* The user function that the sink's option fn names, resolved by the runtime
 * (an fl_sink_fn), or NULL when there is none. */
void *fl_sink_ctx_resolved_fn(const fl_sink_ctx *ctx);
/* The context handed to the user function (subtask, parameters, failure
 * message); owned by the runtime. */
fl_context *fl_sink_ctx_user_context(fl_sink_ctx *ctx);

#endif
