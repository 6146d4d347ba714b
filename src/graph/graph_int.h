/*
 * graph_int.h - what the files of src/graph share and nobody else sees:
 * the defaults of a new StreamGraph, the JSON pieces that the three
 * serializers nest inside each other (an ExecutionGraph's JSON holds its
 * JobGraph's, which holds its StreamGraph's), and small naming helpers.
 */
#ifndef FL_GRAPH_INT_H
#define FL_GRAPH_INT_H

#include <jansson.h>

#include "graph.h"

#define FL_GRAPH_DEFAULT_MAX_PARALLELISM 128
#define FL_GRAPH_DEFAULT_BUFFER_TIMEOUT_MS 100
/* Flink's upper bound for max parallelism (key groups fit in 15 bits). */
#define FL_GRAPH_MAX_PARALLELISM_LIMIT 32768

/* The node's name, else its operator kind; never NULL. Borrowed. */
const char *fl__node_display_name(const fl_stream_node *n);

/* Max parallelism a node runs with: its own, or the job's when it has none. */
int fl__node_max_parallelism(const fl_stream_graph *g, const fl_stream_node *n);

/* JSON values (new references) of a stream graph and a job graph. */
json_t *fl__stream_graph_to_jobj(const fl_stream_graph *g);
json_t *fl__job_graph_to_jobj(const fl_job_graph *g);

/* Compact, order-preserving text of j (new string, free()); takes j. */
char *fl__json_dump(json_t *j);

/* Read back and validate what the functions above wrote. path names the
 * value in error messages ("job", "job.stream"); errors are FL_EFORMAT.
 * Borrow j; return a new graph or NULL. */
fl_stream_graph *fl__stream_graph_from_jobj(json_t *j, const char *path, fl_error *err);
fl_job_graph *fl__job_graph_from_jobj(json_t *j, const char *path, fl_error *err);

/* Parses text into a JSON value (new reference) or fills err (FL_EFORMAT)
 * naming what, the line and the column. */
json_t *fl__json_load(const char *text, const char *what, fl_error *err);

#endif
