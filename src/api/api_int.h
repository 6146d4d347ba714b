/*
 * api_int.h - the environment and stream handles shared by env.c, stream.c
 * and sink.c.
 *
 * A handle (fl_stream) is what the next transformation will read: one or
 * more inputs, each a producing node and the partitioning of the edge from
 * it (a union has several inputs, a partitioning call changes the edges'
 * partitioner). Transformations append nodes to the environment's
 * StreamGraph; the graph is the plan, the handles are only for building.
 */
#ifndef FL_API_INT_H
#define FL_API_INT_H

#include <stdio.h>

#include "api.h"
#include "graph.h"

typedef struct fl_input_ref {
    int node;
    fl_partitioner partitioner;
    bool explicit_partitioner;
    fl_key_spec *key;   /* owned */
    char *partition_fn; /* owned */
    char *side_output;  /* owned; NULL: the main output */
} fl_input_ref;

struct fl_stream {
    fl_env *env;
    int node; /* the operator this handle is, or -1 (union, partitioning) */
    int n_inputs;
    fl_input_ref *inputs; /* what a consumer of this handle reads */
    const fl_schema *schema;
    char *registry_id; /* discard counter / collect id of a sink */
    struct fl_stream *next_handle;
};

struct fl_keyed_stream {
    fl_stream *stream; /* inputs partitioned by HASH with the key */
    fl_key_spec *key;  /* borrowed from stream->inputs[0].key */
};

struct fl_collect {
    fl_env *env;
    char *id;
    struct fl_collect *next;
};

struct fl_env {
    fl_config *config;
    fl_kv *params;
    fl_stream_graph *graph;
    fl_error error;     /* first building error */
    fl_stream *handles; /* every handle, to free */
    fl_collect *collects;
    void *library;
    char *library_path;
    FILE *plan_out;
    int executions;
    fl_error last_error; /* of the last execute() */
    int poison_node;     /* a node returned by failed calls */
    fl_manual_clock *clock; /* borrowed; NULL: the wall clock */
    void **kept;            /* fl__env_keep's blocks (keyed, windowed handles, ...) */
    int n_kept, cap_kept;
};

/* Records the first building error; always returns a usable handle. */
fl_stream *fl__env_fail(fl_env *env, fl_stream *fallback, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A handle reading node's output through a FORWARD (implicit) edge. */
fl_stream *fl__stream_of_node(fl_env *env, int node);
/* A new node fed by every input of s (edges copied). */
fl_stream_node *fl__add_node(fl_stream *s, const char *op, const char *name);
/* The exported symbol name of a user function (new string), or NULL after
 * recording an error naming role. */
char *fl__symbol_name(fl_env *env, void *fn, const char *role);
/* Records fn's symbol in n's option "fn.<role>" (the runtime resolves it by
 * that name); false after recording an error (`what` names fn in it). */
bool fl__set_fn_option(fl_env *env, fl_stream_node *n, const char *role, void *fn,
                       const char *what);
/* Whether a building error was recorded (later calls then do nothing). */
bool fl__failed(const fl_env *env);
/* Records the error and returns a poison handle of schema. */
fl_stream *fl__fail(fl_env *env, const fl_schema *schema, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A key spec from "a,b" over schema s (what names it in errors), or NULL
 * after recording an error. */
fl_key_spec *fl__key_of_fields(fl_env *env, const fl_schema *s, const char *fields,
                               const char *what);
/* A keyed operator node of kind op reading k (edges HASH by k's key; node key
 * set; output schema = input schema until the caller changes it). */
fl_stream *fl__keyed_node(fl_keyed_stream *k, const char *op, const char *name);
/* A node of kind op fed by every input of `first` (input 0) and of `second`
 * (input 1; BROADCAST edges when broadcast_second), starting a chain
 * (connect_api.c). */
fl_stream_node *fl__two_input_node(fl_stream *first, fl_stream *second, const char *op,
                                   const char *name, bool broadcast_second);
/* Whether two keys have the same field types: the key rows' bytes, hence
 * hashes and key groups, are then equal for equal values whatever the fields
 * are called (connect_api.c). */
bool fl__same_key_types(const fl_key_spec *k1, const fl_key_spec *k2);
/* The planner's two-phase window aggregation (window_api.c): puts a local
 * pre-aggregation (op_window_local.c) in front of the key_by of every keyed
 * window sum/min/max or merging aggregate over tumbling or sliding
 * event-time windows, unless pipeline.window.local-aggregation is false. On
 * the plan about to run. */
int fl__window_plan_local_aggregation(fl_stream_graph *g, fl_error *err);
/* A handle for a failed call: a valid stream of the given schema. */
fl_stream *fl__poison(fl_env *env, const fl_schema *schema);
fl_stream *fl__new_handle(fl_env *env);
/* Frees block (one allocation owning nothing else, e.g. a connected-streams
 * handle) with the environment; returns block. */
void *fl__env_keep(fl_env *env, void *block);

#endif
