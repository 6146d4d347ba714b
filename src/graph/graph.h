/*
 * graph.h - the three plans of a job: StreamGraph -> JobGraph -> ExecutionGraph.
 *
 * Plans are data. The API builds a StreamGraph (one node per transformation,
 * edges carrying their partitioning); the JobGraph chains nodes into tasks;
 * the ExecutionGraph splits each task into subtasks bound to slots. All three
 * serialize to JSON and read back identically, because the cluster ships them
 * between processes; nothing in them points into a process (user functions
 * are symbol names, arguments are bytes). A running task keeps its mutable
 * state beside the plan, never inside it.
 *
 * Ownership: a JobGraph owns the StreamGraph it was built from; an
 * ExecutionGraph owns its JobGraph. Every string and array is owned by the
 * structure that holds it.
 */
#ifndef FL_GRAPH_H
#define FL_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flinc/error.h"
#include "flinc/row.h"
#include "kv.h"

/* ---- partitioning --------------------------------------------------------------- */

typedef enum fl_partitioner {
    FL_PART_FORWARD = 0,
    FL_PART_REBALANCE,
    FL_PART_RESCALE,
    FL_PART_SHUFFLE,
    FL_PART_BROADCAST,
    FL_PART_GLOBAL,
    FL_PART_HASH,   /* key_by: key group -> subtask */
    FL_PART_CUSTOM, /* user function on the key */
} fl_partitioner;

/* "FORWARD", "REBALANCE", "RESCALE", "SHUFFLE", "BROADCAST", "GLOBAL", "HASH",
 * "CUSTOM"; parse is case-insensitive. */
const char *fl_partitioner_name(fl_partitioner p);
int fl_partitioner_parse(const char *name, fl_partitioner *out);

/* Which consumer subtasks a producer subtask sends to, and which producers a
 * consumer hears from, for an edge between parallelisms P (producer) and Q
 * (consumer). FORWARD: i <-> i (P == Q). RESCALE (pointwise, Flink's rule):
 * when P >= Q producer i sends to consumer i * Q / P; when P < Q producer i
 * round-robins over consumers [i * Q / P, (i + 1) * Q / P). Every other
 * partitioner is all-to-all. Results are contiguous ranges [first, first+count). */
void fl_edge_consumers(fl_partitioner p, int P, int Q, int producer, int *first, int *count);
void fl_edge_producers(fl_partitioner p, int P, int Q, int consumer, int *first, int *count);

/* ---- keys ------------------------------------------------------------------------ */

typedef struct fl_key_spec {
    int n_fields;          /* > 0: key is the row of these input fields */
    int *fields;           /* indices into the input schema */
    char *selector;        /* else: symbol of an fl_key_selector_fn */
    fl_schema *key_schema; /* schema of the key row (always set) */
} fl_key_spec;

fl_key_spec *fl_key_spec_clone(const fl_key_spec *k);
void fl_key_spec_destroy(fl_key_spec *k);

/* ---- StreamGraph -------------------------------------------------------------------- */

typedef enum fl_chaining {
    FL_CHAIN_ALWAYS = 0, /* may chain to its predecessor and successors */
    FL_CHAIN_HEAD,       /* starts a new chain (start_new_chain) */
    FL_CHAIN_NEVER,      /* runs alone (disable_chaining) */
} fl_chaining;

typedef struct fl_stream_edge {
    int source_id;              /* producing node */
    fl_partitioner partitioner;
    bool partitioner_explicit;  /* set by the user; false: FORWARD when the
                                   parallelisms match, REBALANCE otherwise */
    fl_key_spec *key;           /* HASH and CUSTOM, else NULL */
    char *partition_fn;         /* CUSTOM: symbol of an fl_partition_fn */
    char *side_output;          /* the producer's side output this edge reads, or
                                   NULL for its main output */
    int input;                  /* logical input of a two-input operator: 0 or 1
                                   (every input of a one-input operator is 0) */
} fl_stream_edge;

/* A side output an operator may emit to (Flink's OutputTag). */
typedef struct fl_side_output {
    char *tag;
    fl_schema *schema;
} fl_side_output;

typedef struct fl_stream_node {
    int id;                     /* index in fl_stream_graph.nodes */
    char *op;                   /* operator kind: "source", "map", "flat_map",
                                   "filter", "reduce", "aggregate", "sink" */
    char *name;                 /* display name, e.g. "Source: Sequence", "Map" */
    char *uid;                  /* NULL when none was given */
    int parallelism;            /* >= 1 */
    int max_parallelism;        /* >= parallelism */
    fl_chaining chaining;
    fl_schema *schema;          /* output schema (NULL for sinks) */
    char *fn;                   /* user function symbol or NULL */
    char *open_fn, *close_fn;   /* hook symbols or NULL */
    void *arg;                  /* bytes handed to the functions, or NULL */
    size_t arg_len;
    char *connector;            /* sources and sinks: connector name */
    fl_kv *options;             /* operator or connector settings (never NULL) */
    fl_key_spec *key;           /* keyed operators: key of an input row (of input 0) */
    fl_key_spec *key2;          /* keyed two-input operators: key of input 1 */
    int n_side_outputs;
    fl_side_output *side_outputs;
    int n_inputs;
    fl_stream_edge *inputs;
} fl_stream_node;

typedef struct fl_stream_graph {
    char *job_name;
    int max_parallelism;        /* job default (pipeline.max-parallelism) */
    int64_t buffer_timeout_ms;  /* execution.buffer-timeout */
    bool chaining_enabled;      /* pipeline.operator-chaining */
    fl_kv *params;              /* job parameters */
    fl_kv *config;              /* effective configuration the job runs with */
    int n_nodes;
    fl_stream_node **nodes;
} fl_stream_graph;

fl_stream_graph *fl_stream_graph_create(void);
void fl_stream_graph_destroy(fl_stream_graph *g);
/* Appends a zeroed node (id set, options empty, chaining ALWAYS). */
fl_stream_node *fl_stream_graph_add_node(fl_stream_graph *g, const char *op, const char *name);
/* Appends an input edge to node n; the edge's key is taken (owned). */
fl_stream_edge *fl_stream_node_add_input(fl_stream_node *n, int source_id,
                                         fl_partitioner p, bool explicit_p);
/* Declares side output `tag` of node n (schema referenced); returns its index,
 * or the existing one's when the tag is declared already. */
int fl_stream_node_add_side_output(fl_stream_node *n, const char *tag, const fl_schema *schema);
/* The schema of side output `tag` of n, or NULL. */
const fl_schema *fl_stream_node_side_output_schema(const fl_stream_node *n, const char *tag);
/* The uid a node's state is stored under: its uid, or "node-<id>" when none was
 * given (the caller frees it). */
char *fl_stream_node_state_uid(const fl_stream_node *n);
/* The schema an edge delivers: the producer's main or side output schema. */
const fl_schema *fl_stream_edge_schema(const fl_stream_graph *g, const fl_stream_edge *e);

/* Ids of the nodes that consume node id's output, in node order. */
int fl_stream_graph_consumers(const fl_stream_graph *g, int id, int *out, int max);

/* ---- JobGraph --------------------------------------------------------------------------- */

typedef struct fl_job_edge {
    int id;                    /* index in fl_job_graph.edges */
    int source_vertex, target_vertex;
    int source_node, target_node; /* stream nodes at either end */
    int target_input;          /* index of this input among the target node's inputs */
    fl_partitioner partitioner; /* resolved (never an implicit FORWARD across
                                   different parallelisms) */
} fl_job_edge;

typedef struct fl_job_vertex {
    int id;
    char *name;                /* chained names joined by " -> " */
    int parallelism, max_parallelism;
    int n_nodes;
    int *nodes;                /* stream node ids; [0] is the head; topological */
    int n_inputs, *inputs;     /* job edge ids */
    int n_outputs, *outputs;   /* job edge ids */
} fl_job_vertex;

typedef struct fl_job_graph {
    fl_stream_graph *stream;   /* owned */
    int n_vertices;
    fl_job_vertex *vertices;   /* topological order: producers first */
    int n_edges;
    fl_job_edge *edges;
    int *vertex_of_node;       /* stream node id -> vertex id */
} fl_job_graph;

/* Chains the stream graph (which it takes) into a job graph. Two nodes chain
 * when: the consumer has exactly this one input edge, it is FORWARD (explicit
 * or implicit) with equal parallelism, chaining is enabled for the job,
 * neither node is NEVER and the consumer is not HEAD. A producer may chain to
 * several consumers (a chain is a tree). Errors (FL_EINVAL): an explicit
 * FORWARD between different parallelisms, a cycle, a node without inputs that
 * is not a source. On error the stream graph is destroyed. */
fl_job_graph *fl_job_graph_create(fl_stream_graph *stream, fl_error *err);
void fl_job_graph_destroy(fl_job_graph *g);

/* ---- ExecutionGraph ------------------------------------------------------------------------ */

typedef struct fl_execution_vertex {
    int vertex;    /* job vertex id */
    int subtask;   /* 0-based */
    int slot;      /* slot index on the cluster */
} fl_execution_vertex;

typedef struct fl_execution_graph {
    fl_job_graph *job;           /* owned */
    int attempt;                 /* restart attempt, 0 first */
    int n_slots;                 /* slots the job occupies */
    int n_subtasks;
    fl_execution_vertex *subtasks; /* by vertex, then subtask index */
    int *first_subtask;          /* job vertex id -> index of its subtask 0 */
} fl_execution_graph;

/* Splits every job vertex into its subtasks and binds them to slots with slot
 * sharing (one subtask of each vertex per slot, subtask i in slot i), so the
 * job needs as many slots as its highest parallelism. FL_ERESOURCE, naming
 * both numbers, when available_slots is smaller. Takes the job graph (also on
 * error). */
fl_execution_graph *fl_execution_graph_create(fl_job_graph *job, int available_slots,
                                              fl_error *err);
void fl_execution_graph_destroy(fl_execution_graph *g);

/* ---- serialization ------------------------------------------------------------------------ */

/* Compact JSON (new string, free()). Deterministic: the same graph gives the
 * same bytes, so round trips can be compared as strings. */
char *fl_stream_graph_to_json(const fl_stream_graph *g);
fl_stream_graph *fl_stream_graph_from_json(const char *json, fl_error *err);
char *fl_job_graph_to_json(const fl_job_graph *g);
fl_job_graph *fl_job_graph_from_json(const char *json, fl_error *err);
char *fl_execution_graph_to_json(const fl_execution_graph *g);
fl_execution_graph *fl_execution_graph_from_json(const char *json, fl_error *err);

/* The plan as `flinc info` prints it: tasks with their chained operators,
 * parallelism, and edges with their partitioning. Returns a new string. */
char *fl_job_graph_describe(const fl_job_graph *g);

#endif
