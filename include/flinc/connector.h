/*
 * flinc/connector.h - how sources and sinks plug into flinc.
 *
 * A connector is one descriptor: a name, a table of options (which gives the
 * docs and the error for an unknown or missing option), and the calls that
 * create, run and close it. The built-in ones (collection, sequence, datagen,
 * filesystem, socket, nexmark, print, blackhole, collect, user-function sink)
 * use only this interface, and a program can register sources of its own
 * (fl_source_connector_register) that jobs then name like the built-in ones.
 *
 * Options are "key=value" strings recorded in the job graph, so a source runs
 * the same in any process. A source runs in its subtask's thread: the runtime
 * calls read() again and again, handling control mail (cancellation, later
 * checkpoints) between calls, so read() must return within a few tens of
 * milliseconds. fl_source_emit blocks while the outputs are full
 * (backpressure) and returns FL_ECANCELED once the job is being canceled.
 *
 * Fault tolerance is optional and lives in the fields at the end of each
 * descriptor: sources that can rewind snapshot and restore their positions as
 * splits; sinks with external effects take part in a two-phase commit. What
 * each built-in connector guarantees is in docs/connectors-fault-tolerance.md.
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

/* ---- splits and transaction handles --------------------------------------------------- */

/* One opaque blob that a connector writes into a checkpoint and reads back on
 * restore: a source split (a part of the input and the position reached in
 * it) or a sink's transaction handle. The bytes are the connector's own
 * portable encoding (fixed-width little-endian, with a tag and a version), so
 * that a savepoint restores in another process. `data` is borrowed from
 * whoever hands the split over (an fl_split_list, the runtime's restored
 * state) and stays valid for the duration of the call it is passed to. */
typedef struct fl_split {
    const void *data;
    size_t len;
} fl_split;

/* A growable list of blobs that owns copies of them; snapshot() and
 * pre_commit() append to one the runtime owns. Out of memory aborts, as every
 * flinc allocation does. Not thread-safe: one thread at a time. */
typedef struct fl_split_list fl_split_list;

/* A new empty list; free with fl_split_list_destroy (NULL is fine there). */
fl_split_list *fl_split_list_create(void);
void fl_split_list_destroy(fl_split_list *l);
/* Forgets every blob (keeps the memory for reuse). */
void fl_split_list_clear(fl_split_list *l);
/* Appends a copy of the len bytes at data (len 0 is a valid, empty blob). */
void fl_split_list_add(fl_split_list *l, const void *data, size_t len);
size_t fl_split_list_count(const fl_split_list *l);
/* The i-th blob (i < count), borrowed: valid until the list is cleared,
 * destroyed or appended to. */
fl_split fl_split_list_get(const fl_split_list *l, size_t i);
/* All blobs as one array of count entries (NULL when empty), borrowed like
 * fl_split_list_get's result; what restore() and recover() take. */
const fl_split *fl_split_list_items(const fl_split_list *l);

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

    /* ---- checkpoints (optional; added after the fields above) ----
     *
     * A source that can rewind describes its position as SPLITS (Flink's
     * model): each split is one independent part of the input together with
     * the position reached in it, e.g. a range of a sequence and its next
     * number, or a byte range of a file and the offset of its next line.
     *
     * snapshot: appends the subtask's current splits to `out` (borrowed, owned
     * by the runtime), one blob per split that still has input left; zero
     * blobs when everything is read (also after read() returned
     * FL_SOURCE_END). The rows emitted before the call are before the
     * position, the rows of later read() calls after it. Called in the
     * source's thread between read() calls (the runtime guarantees it), when
     * the checkpoint barrier is injected, so it needs no locking and must not
     * block. 0 or a negative code (err filled).
     *
     * restore: called after open() and before the first read() when the job
     * restores from a checkpoint or savepoint, with the splits this subtask
     * receives (borrowed for the call; copy what is kept). The source then
     * reads exactly those splits, from their recorded positions, instead of
     * the assignment open() computed from (subtask index, parallelism). The
     * runtime keeps the splits of all subtasks as operator list state and
     * redistributes them with Flink's even split (the concatenated list of
     * every subtask's splits is cut into `parallelism` contiguous runs whose
     * lengths differ by at most one), so a subtask may receive any number of
     * splits -- zero included, after which it emits nothing and returns
     * FL_SOURCE_END -- written by any subtask of any earlier parallelism. A
     * split the source cannot decode is FL_EFORMAT. Called in the source's
     * thread. Not called on a restart before any checkpoint completed: the
     * source then starts afresh from open()'s assignment. The rows emitted
     * after restore() follow the restored positions; a source that keeps
     * several splits may interleave them in any order.
     *
     * A source with snapshot == NULL (socket) cannot rewind: on restore it
     * starts afresh, so what it read between the checkpoint and the failure
     * is lost (at-most-once). */
    int (*snapshot)(void *state, fl_split_list *out, fl_error *err);
    int (*restore)(void *state, const fl_split *splits, size_t n, fl_error *err);
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

    /* ---- two-phase commit (optional; all four set or all NULL) ----
     *
     * A sink with external effects makes them exactly-once by writing each
     * checkpoint interval into a transaction that becomes visible only when
     * the checkpoint that covers it completes. Every call below runs in the
     * sink's own thread (the task thread), between write() calls, never
     * concurrently with each other or with write().
     *
     * pre_commit: the checkpoint barrier `checkpoint_id` has reached the sink
     * (aligned: every row before it was written, none after it). Flush,
     * make the current transaction durable and pending (it can no longer be
     * lost and can be committed by another process), and append to `out`
     * (borrowed, owned by the runtime) the handles of EVERY transaction that
     * is pending and not yet committed -- this one and earlier ones whose
     * commit has not happened, because a completion notice can be lost.
     * Writing continues after the call in a new (or the continued)
     * transaction. The runtime stores the handles in the checkpoint, as the
     * sink operator's list state. 0 or a negative code: the checkpoint fails.
     *
     * commit: checkpoint `checkpoint_id` completed (every task acknowledged).
     * Make visible every pending transaction pre-committed at a checkpoint
     * <= checkpoint_id. Idempotent: committing what is already committed is
     * success. Notices may be lost or arrive for an older id than the last
     * pre_commit; a later one covers the earlier ones.
     *
     * abort: the task fails or is canceled; called before close() instead of
     * finish(). Discard the open transaction (what was written since the last
     * pre_commit). Pending transactions stay: their checkpoint may still
     * complete, and recover() decides about them. close() after a failure
     * without abort() must behave the same; close() never commits.
     *
     * recover: called after open() and before the first write() whenever the
     * job restarts -- from a checkpoint or savepoint with its handles, or
     * before any checkpoint completed with n == 0 -- but never on a job's
     * first start. The handles are UNION list state: every subtask receives
     * the handles of all subtasks of the restored checkpoint (borrowed for
     * the call), whatever the old and new parallelism. Commit the pending
     * transactions they name (idempotently: they may already be committed),
     * then discard the leftovers of failed attempts: whatever this sink wrote
     * that no handle names. A sink must share that work out so that no two
     * subtasks touch the same transaction and none touches what another
     * subtask of the new attempt writes (e.g. by the old subtask index a
     * transaction carries, modulo the new parallelism).
     *
     * End of input: after finish() the runtime completes one more checkpoint
     * (pre_commit at its barrier, commit when it completes) before close();
     * a job that runs without checkpoints gets pre_commit and commit with
     * FL_CHECKPOINT_ID_FINAL right after finish(), and no recovery.
     *
     * What a sink guarantees for exactly-once end to end (with rewinding
     * sources and a deterministic pipeline): (1) rows written between
     * barriers N-1 and N become visible only through commit(M >= N) or
     * recover() from a checkpoint >= N, never earlier; (2) pre_commit(N)
     * leaves them durable and committable from the handles alone; (3) commit
     * and recover are idempotent and never lose a transaction a handle names;
     * (4) after recover() nothing of a failed attempt's unnamed work is
     * visible, and nothing written later by the new attempt is touched. */
    int (*pre_commit)(void *state, int64_t checkpoint_id, fl_split_list *out, fl_error *err);
    int (*commit)(void *state, int64_t checkpoint_id, fl_error *err);
    void (*abort)(void *state);
    int (*recover)(void *state, const fl_split *handles, size_t n, fl_error *err);
} fl_sink_connector;

/* The checkpoint id of the final pre_commit/commit of a job without
 * checkpoints: it commits everything. */
#define FL_CHECKPOINT_ID_FINAL INT64_MAX

/* Makes a source written by the program (Flink's addSource with a user
 * SourceFunction) available by name to fl_env_add_source, like a built-in
 * one. Borrows c: the descriptor and everything it points to must stay valid
 * for as long as a job may use it (a static descriptor, in practice). Needs a
 * name, schema, open, read and close; snapshot and restore both or neither.
 * A name that is taken, built in or registered earlier, is FL_EINVAL naming
 * the connector; the registry holds 64 sources per process, after which it is
 * FL_ERESOURCE. Registrations are process-wide and last until the process
 * exits, so they serve the jobs run in the same process (the embedded
 * cluster). Thread-safe. */
int fl_source_connector_register(const fl_source_connector *c, fl_error *err);

/* Built-in and registered connectors (the built-in ones first). NULL when
 * unknown. Thread-safe. */
const fl_source_connector *fl_source_connector_find(const char *name);
const fl_sink_connector *fl_sink_connector_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
