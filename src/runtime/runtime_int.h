/*
 * runtime_int.h - the structures shared by the runtime's files: tasks, their
 * operator chains, outputs, batches, network writers and user contexts.
 *
 * Execution model (DESIGN.md §4): a task is one subtask of a job vertex, run
 * by one thread. Its mailbox (mutex + condition variable) is the only place
 * it waits: input buffers from upstream tasks, a buffer returned to its pool,
 * cancellation. Operators of a chain call each other directly, a batch of
 * rows at a time; the chain's tail writes rows into network buffers of the
 * consumers' channels. Everything below the task lock belongs to the task's
 * thread alone, so operators and their state take no locks.
 */
#ifndef FL_RUNTIME_INT_H
#define FL_RUNTIME_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"
#include "config.h"
#include "flinc/flinc.h"
#include "graph.h"
#include "kv.h"
#include "options.h"
#include "runtime.h"

typedef struct fl_task fl_task;
typedef struct fl_operator fl_operator;
typedef struct fl_record_writer fl_record_writer;

enum { FL_RUNTIME_STREAMING = 0, FL_RUNTIME_BATCH = 1 };
enum { FL_CKPT_EXACTLY_ONCE = 1, FL_CKPT_AT_LEAST_ONCE = 2 };

/* Settings every task of a run reads (from the graph's configuration). */
typedef struct fl_run_settings {
    uint32_t buffer_size;
    int buffers_per_channel;
    int floating_buffers;
    int64_t buffer_timeout_ns; /* < 0: flush only when full */
    int runtime_mode;
    int64_t watermark_interval_ms; /* pipeline.auto-watermark-interval; 0: every record */
    int checkpoint_mode;           /* 0: checkpoints off; FL_CKPT_EXACTLY_ONCE / AT_LEAST_ONCE */
    bool unaligned;                /* execution.checkpointing.unaligned */
    fl_manual_clock *clock;        /* processing time; NULL: the wall clock */
    fl_failure_injection inject;
    struct fl_checkpoint_storage *storage;       /* where checkpoints go, or NULL */
    const struct fl_checkpoint_reader *restore;  /* the checkpoint to restore, or NULL */
    bool restarted;                              /* not the job's first start */
    const char *job_id;
} fl_run_settings;

/* a + b, saturating at INT64_MIN / INT64_MAX: times near the ends of the
 * range stay well defined. */
static inline int64_t fl__sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* ---- batches ----------------------------------------------------------------------- */

#define FL_BATCH_ROWS  512
#define FL_BATCH_BYTES (64u * 1024u)

/* Rows handed from one operator to the next. Rows are either borrowed (they
 * live in the input buffer or in the caller's batch, valid during the
 * process call) or copied into `bytes`. */
typedef struct fl_batch {
    const fl_row **rows;
    int64_t *ts;
    uint32_t n, cap;
    uint8_t *bytes;
    size_t used, bytes_cap;
} fl_batch;

void fl__batch_init(fl_batch *b, uint32_t cap);
void fl__batch_fini(fl_batch *b);

/* ---- outputs ------------------------------------------------------------------------ */

typedef struct fl_output_target {
    fl_operator *chained;     /* a chained operator, or */
    fl_record_writer *writer; /* a network output */
} fl_output_target;

/* Where an operator's rows go: its chained successors and its network
 * outputs. Emitted rows gather in a batch that is pushed on when full and
 * after every process call. */
typedef struct fl_output {
    fl_task *task;
    fl_batch batch;
    int n_targets;
    fl_output_target *targets;
} fl_output;

/* Copies row into the output batch. 0 or a negative error (FL_ECANCELED). */
int fl__output_emit(fl_output *o, const fl_row *row, int64_t ts);
/* Flushes o's batch and grows it, when empty, to hold a row of len bytes.
 * 0 or a negative error. */
int fl__output_make_room(fl_output *o, uint32_t len);
/* Adds a row of len bytes at ts to o's batch (flushing a full batch first)
 * and sets *at to where its bytes go; the caller writes them before
 * anything else touches the batch. 0 or a negative error. */
static inline int fl__output_reserve(fl_output *o, uint32_t len, int64_t ts, uint8_t **at) {
    fl_batch *b = &o->batch;
    if (b->n == b->cap || b->used + len > b->bytes_cap) {
        int rc = fl__output_make_room(o, len);
        if (rc < 0) return rc;
    }
    *at = b->bytes + b->used;
    b->used += len;
    b->rows[b->n] = (const fl_row *)*at;
    b->ts[b->n] = ts;
    b->n++;
    return 0;
}
/* Pushes the batch to every target. */
int fl__output_flush(fl_output *o);
/* Adds a borrowed row that stays valid until the current process call ends
 * (inline: operators that pass rows on call it once per row). */
static inline int fl__output_emit_ref(fl_output *o, const fl_row *row, int64_t ts) {
    fl_batch *b = &o->batch;
    if (b->n == b->cap) {
        int rc = fl__output_flush(o);
        if (rc < 0) return rc;
    }
    b->rows[b->n] = row;
    b->ts[b->n] = ts;
    b->n++;
    return 0;
}
/* fl__output_emit_ref for n rows and their timestamps. */
int fl__output_emit_refs(fl_output *o, const fl_row *const *rows, const int64_t *ts, uint32_t n);
/* Flushes, then passes a watermark to every target. */
int fl__output_watermark(fl_output *o, int64_t watermark);
/* Flushes, then tells every target that the stream became idle (true) or
 * active again (false). */
int fl__output_status(fl_output *o, bool idle);

/* The same for all outputs of an operator (main and side outputs). */
int fl__op_flush(fl_operator *op);
int fl__op_forward_watermark(fl_operator *op, int64_t watermark);
int fl__op_forward_status(fl_operator *op, bool idle);
/* A watermark reaches op: records it, runs ops->watermark (default: forward)
 * and flushes. */
int fl__op_watermark(fl_operator *op, int64_t watermark);
/* All input reached op: runs ops->end_input, then ends every output. */
int fl__op_end(fl_operator *op);
/* Flushes, then ends every target (chained: end_input; network: end of
 * partition). */
int fl__output_end(fl_output *o);

/* ---- operators ---------------------------------------------------------------------- */

/* The contract every operator implements (one operator per file). Calls
 * return 0 or a negative code with err filled; a user function's failure is
 * FL_EUSER with the function's message. */
typedef struct fl_operator_ops {
    const char *kind;
    int (*open)(fl_operator *op, fl_error *err);
    /* A batch of input rows; input is the index of the node's input edge. */
    int (*process)(fl_operator *op, int input, const fl_batch *in, fl_error *err);
    /* NULL: forward the watermark unchanged. */
    int (*watermark)(fl_operator *op, int64_t watermark, fl_error *err);
    /* All input has arrived (bounded inputs); may emit final results. NULL: nothing. */
    int (*end_input)(fl_operator *op, fl_error *err);
    /* A processing-time callback the operator scheduled with fl__task_schedule
     * is due; now is the current processing time. NULL: never scheduled. */
    int (*on_processing_time)(fl_operator *op, int64_t now, fl_error *err);
    void (*close)(fl_operator *op);
    /* A checkpoint's barrier is about to go on: emit what must precede it
     * (Flink's prepareSnapshotPreBarrier). NULL: nothing. */
    int (*prepare_snapshot)(fl_operator *op, int64_t checkpoint_id, fl_error *err);
} fl_operator_ops;

/* The context user functions see (public as fl_context). */
struct fl_context {
    fl_task *task;
    fl_operator *op;
    const void *arg;
    size_t arg_len;
    void *user;
    int64_t timestamp;
    char *failure; /* message given by fl_context_fail, or NULL */
};

struct fl_operator {
    const fl_operator_ops *ops;
    const fl_stream_node *node;
    fl_task *task;
    int index;                     /* position in the task's chain */
    const fl_schema *input_schema; /* schema of the first input (NULL for sources) */
    fl_output out;
    int n_side_outs;
    struct fl_side_out {
        const char *tag; /* borrowed from the node */
        fl_output out;
    } *side_outs;
    int64_t watermark; /* the last watermark that reached this operator */
    fl_context ctx;
    void *fn;           /* resolved user function or NULL */
    int n_fns;          /* more functions, from the node's "fn.<role>" options */
    struct fl_op_fn {
        const char *role; /* borrowed from the node's options */
        void *fn;
    } *fns;
    struct fl_keyed_op *keyed;       /* keyed operators: key, state and timers; else NULL */
    /* A broadcast-process operator's broadcast state, a backend it owns:
     * snapshotted whole by every subtask (role "broadcast"); else NULL. */
    struct fl_keyed_backend *broadcast_state;
    struct fl_user_state *op_states; /* operator (non-keyed) states */
    struct fl_user_state *restored_states; /* restored, not declared again yet */
    void *key_selector; /* resolved key selector of node->key, or NULL */
    fl_open_fn open_hook;
    fl_close_fn close_hook;
    bool hooks_opened;
    void *impl; /* the operator's own state */
};

/* The function of option "fn.<role>" of op's node, resolved before the job
 * started; NULL when the node has none. */
void *fl__op_fn(const fl_operator *op, const char *role);

/* Integer option `key` of op's node; dflt when the node has none or it is
 * not an integer. */
int64_t fl__op_option_int(const fl_operator *op, const char *key, int64_t dflt);
/* The same for an option the operator cannot do without: 0, or FL_EINVAL
 * with err filled when it is missing or not an integer. */
int fl__op_option_int_required(const fl_operator *op, const char *key, int64_t *out, fl_error *err);
/* Whether option `key` of op's node is "true". */
bool fl__op_option_true(const fl_operator *op, const char *key);

/* The ops of a node kind ("map", "source", ...), or NULL. */
const fl_operator_ops *fl__operator_ops(const char *kind);

extern const fl_operator_ops fl__op_source;
extern const fl_operator_ops fl__op_map;
extern const fl_operator_ops fl__op_flat_map;
extern const fl_operator_ops fl__op_filter;
extern const fl_operator_ops fl__op_reduce;
extern const fl_operator_ops fl__op_aggregate;
extern const fl_operator_ops fl__op_sink;
extern const fl_operator_ops fl__op_timestamps;
extern const fl_operator_ops fl__op_process;
extern const fl_operator_ops fl__op_keyed_process;
extern const fl_operator_ops fl__op_window;
extern const fl_operator_ops fl__op_window_local;
extern const fl_operator_ops fl__op_co_process;
extern const fl_operator_ops fl__op_broadcast_process;
extern const fl_operator_ops fl__op_interval_join;

/* Turns a failed user call into FL_EUSER with the function's message (or
 * "<what> returned <rc>"), and resets the context's failure. */
int fl__user_failure(fl_operator *op, const char *what, int rc, fl_error *err);

/* The row a user function that returned rc built in b; NULL with err
 * filled when the function failed (fl__user_failure, naming `what`) or
 * built an invalid row ("<what> of "<node>" built an invalid row: ..."). */
const fl_row *fl__user_row_failed(fl_operator *op, fl_row_builder *b, int rc, const char *what,
                                  fl_error *err);
static inline const fl_row *fl__user_row(fl_operator *op, fl_row_builder *b, int rc,
                                         const char *what, fl_error *err) {
    const fl_row *row = rc < 0 || op->ctx.failure ? NULL : fl_row_builder_finish(b);
    return row ? row : fl__user_row_failed(op, b, rc, what, err);
}

/* The options of a source or sink operator's connector, checked against
 * its table; NULL with err filled when one is wrong. */
fl_options *fl__connector_options(const fl_operator *op, const char *connector,
                                  const fl_option_def *defs, fl_error *err);

/* The collector handed to flat_map functions. */
fl_collector *fl__collector_create(fl_operator *op, const fl_schema *schema);
void fl__collector_destroy(fl_collector *c);
void fl__collector_begin(fl_collector *c, int64_t ts);
int fl__collector_status(const fl_collector *c);
/* Runs fn (a flat_map or process function) on one row through collector c. */
int fl__collector_run_row(fl_operator *op, fl_collector *c, fl_process_fn fn, const fl_row *row,
                          int64_t ts, const char *what, fl_error *err);
/* Runs fn (a flat_map or process function) on every row of a batch through
 * collector c; a failure names `what`. */
int fl__collector_run_batch(fl_operator *op, fl_collector *c, fl_process_fn fn,
                            const fl_batch *in, const char *what, fl_error *err);
/* Runs an on_timer function (NULL: nothing) for a timer at `time`. */
int fl__collector_run_timer(fl_operator *op, fl_collector *c, fl_on_timer_fn fn, int64_t time,
                            fl_error *err);

/* Checkpointing of connector-backed operators (see connector.h). */
bool fl__source_can_rewind(const fl_operator *op);
int fl__source_snapshot(fl_operator *op, fl_split_list *out, fl_error *err);
int fl__source_restore(fl_operator *op, const fl_split *splits, size_t n, fl_error *err);
bool fl__sink_is_transactional(const fl_operator *op);
int fl__sink_pre_commit(fl_operator *op, int64_t id, fl_split_list *out, fl_error *err);
int fl__sink_commit(fl_operator *op, int64_t id, fl_error *err);
int fl__sink_recover(fl_operator *op, const fl_split *handles, size_t n, fl_error *err);
void fl__sink_abort(fl_operator *op);

/* Sources: the task loop calls read repeatedly (see connector.h). */
int fl__source_read(fl_operator *op, int64_t *idle_until_ns, fl_error *err);

/* ---- keys ------------------------------------------------------------------------------ */

/* Computes the key row of an input row and its hash (by fields or by a
 * selector function). */
typedef struct fl_key_extractor {
    const fl_key_spec *spec;
    fl_row_builder *builder;
    fl_key_selector_fn selector;
    fl_context *ctx;
    uint8_t *buf; /* the projected key row (fields keys) */
    uint32_t cap;
} fl_key_extractor;

int fl__key_extractor_init(fl_key_extractor *kx, const fl_key_spec *spec, void *selector,
                           fl_context *ctx);
void fl__key_extractor_fini(fl_key_extractor *kx);
/* The key row (valid until the next call) and its hash; NULL on failure
 * (err filled). */
const fl_row *fl__key_extract(fl_key_extractor *kx, const fl_row *row, uint64_t *hash,
                              fl_operator *op, fl_error *err);

/* ---- keyed operators ------------------------------------------------------------------- */

/* What every keyed operator shares: the key of the record being processed,
 * the subtask's keyed state backend (its key-group range), and the timers,
 * fired on watermarks and processing time through on_timer. */
typedef struct fl_keyed_op {
    fl_key_extractor key[2]; /* per input (two-input operators have key2) */
    struct fl_keyed_backend *backend;
    int64_t scheduled;       /* processing time the task will call us at */
    /* The operator's timer callback; the backend's current key is the timer's. */
    int (*on_timer)(fl_operator *op, int domain, const void *ns, uint32_t ns_len, int64_t time,
                    fl_error *err);
    int firing_domain;       /* domain of the timer being fired, -1 otherwise */
    const void *ns;          /* namespace of user state accesses (windows) */
    uint32_t ns_len;
    struct fl_user_state *states; /* handles given to user functions */
} fl_keyed_op;

/* Opens op's keyed state: its key extractors, and the backend over the
 * subtask's key-group range with the state of those key groups restored
 * from the job's checkpoint or savepoint, if any. */
int fl__keyed_open(fl_operator *op, fl_keyed_op *k, fl_error *err);
/* The same for a non-keyed operator that keeps keyed state (window_all):
 * one constant key (the empty row) for everything, set once here, which
 * needs parallelism 1. */
int fl__keyed_open_unkeyed(fl_operator *op, fl_keyed_op *k, fl_error *err);
void fl__keyed_close(fl_keyed_op *k);
/* Sets the backend's current key to the key of row (of input 0 or 1). */
int fl__keyed_set_key(fl_operator *op, int input, const fl_row *row, fl_error *err);
/* Fires event-time timers up to wm, then forwards the watermark. */
int fl__keyed_watermark(fl_operator *op, int64_t wm, fl_error *err);
/* Fires due processing-time timers and schedules the next. */
int fl__keyed_processing_time(fl_operator *op, int64_t now, fl_error *err);
/* After registering processing-time timers: makes sure the task calls back. */
void fl__keyed_schedule(fl_operator *op);
/* Registers (add) or deletes a timer (domain: fl_time_domain) of the
 * backend's current key in namespace ns; registering a processing-time
 * timer makes sure the task calls back. */
void fl__keyed_timer(fl_operator *op, int domain, int64_t time, const void *ns, uint32_t ns_len,
                     bool add);
/* The clock of keyed state backends (state TTL): processing time of the
 * task `task` (an fl_task). */
int64_t fl__state_clock(void *task);

/* Keyed operators whose timers run the user's on_timer function (keyed
 * process functions, keyed co-process functions): op->impl starts with
 * this. */
typedef struct fl_keyed_process_op {
    fl_keyed_op keyed;
    fl_collector *out;       /* what the user functions emit through */
    fl_on_timer_fn on_timer; /* NULL: timers fire without a call */
} fl_keyed_process_op;
/* Their fl_keyed_op.on_timer: runs on_timer through out. */
int fl__keyed_process_on_timer(fl_operator *op, int domain, const void *ns, uint32_t ns_len,
                               int64_t time, fl_error *err);
/* Frees user state handles (non-keyed operators too: operator state). */
void fl__user_states_free(struct fl_user_state **list);
/* Clears the current key's entry of every keyed user state in namespace
 * k->ns (a window's per-window state, when the window goes). */
void fl__user_states_clear_current(fl_keyed_op *k);
/* Bytes of keyed state still held when the keyed operators named
 * operator_name closed, summed over their subtasks and over every run in
 * this process since the first; -1 when none of that name has closed. A
 * process-wide gauge for tests that check state is freed. */
int64_t fl__keyed_state_bytes_at_close(const char *operator_name);

/* The broadcast state (op_broadcast_process.c): a user map-state handle on
 * kstate ks of a backend the operator owns (outside keyed state), added to
 * *list (freed with fl__user_states_free). Writes through it fail, naming
 * the state, unless it was made writable. */
struct fl_kstate;
struct fl_user_state *fl__broadcast_state_create(fl_operator *op, struct fl_kstate *ks,
                                                 const char *name, struct fl_user_state **list);
void fl__broadcast_state_set_writable(struct fl_user_state *u, bool writable);

/* ---- network output ----------------------------------------------------------------------- */

typedef struct fl_subpartition {
    fl_buffer *current;
    fl_task *consumer;
    int consumer_channel;
} fl_subpartition;

struct fl_record_writer {
    fl_task *task;
    const fl_job_edge *edge;
    fl_partitioner partitioner;
    int n_subs;
    fl_subpartition *subs; /* the consumers this subtask sends to */
    int consumer_parallelism;
    int max_parallelism; /* of the consumer (key groups) */
    int first_consumer;
    fl_key_extractor key; /* HASH and CUSTOM */
    fl_partition_fn custom;
    fl_operator *owner;    /* the operator whose rows these are (for contexts) */
    uint32_t next_channel; /* round robin */
    uint64_t rng;          /* shuffle */
};

int fl__writer_write_batch(fl_record_writer *w, const fl_batch *b, fl_error *err);
int fl__writer_broadcast_control(fl_record_writer *w, uint8_t tag, int64_t value, fl_error *err);
/* Sends every partly filled buffer. */
int fl__writer_flush(fl_record_writer *w, fl_error *err);
void fl__writer_fini(fl_record_writer *w);

/* ---- tasks ---------------------------------------------------------------------------------- */

typedef struct fl_input_channel {
    int64_t watermark;
    bool ended;
    bool idle;
    int input;              /* logical input of the head operator */
    /* checkpoint alignment */
    bool barrier_seen;      /* delivered the barrier being aligned */
    bool blocked;           /* exactly-once: waits for the other channels */
    fl_buffer_queue parked; /* buffers that arrived while blocked */
    uint32_t parked_offset; /* where processing resumes in the first one */
    /* unaligned checkpoints: in-flight buffers to record as channel state */
    bool capture_all;       /* every buffer until this channel's barrier */
    int capture_remaining;  /* the next n buffers (they preceded the barrier) */
} fl_input_channel;

/* Control mail to a task, handled in its thread between records. */
enum {
    FL_MAIL_TRIGGER_CHECKPOINT = 1, /* sources: take checkpoint `id`, emit its barrier */
    FL_MAIL_CHECKPOINT_COMPLETE,    /* checkpoint `id` completed: commit (2PC sinks) */
    FL_MAIL_CHECKPOINT_ABORTED,     /* checkpoint `id` will not complete */
};

typedef struct fl_mail {
    int kind;
    int64_t id;
    struct fl_mail *next;
} fl_mail;

struct fl_task {
    fl_job_run *run;
    const fl_execution_graph *eg;
    const fl_job_vertex *vertex;
    int subtask;
    int parallelism;
    char *name; /* "Source: Sequence -> Map (1/2)" */
    const fl_run_settings *settings;
    pthread_t thread;
    bool started;

    /* mailbox: guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fl_buffer_queue inbox;
    bool buffer_returned;
    atomic_bool canceled;
    fl_mail *mail_head, *mail_tail;
    atomic_bool has_mail;   /* mail_head != NULL, readable without the lock */

    /* checkpoints */
    int64_t aligning;       /* checkpoint whose barriers are being aligned, 0: none */
    int barriers_missing;   /* live channels that have not delivered it yet */
    int64_t last_checkpoint; /* highest checkpoint this task took */
    int64_t align_start_ns; /* when the first barrier of `aligning` arrived */
    int64_t deferred_trigger; /* aligned: a trigger to take once the inputs drained */
    bool aligning_unaligned; /* `aligning` is an unaligned checkpoint (barriers overtook data) */
    int64_t last_completed;  /* highest checkpoint the coordinator said completed */
    int64_t last_aborted;    /* highest checkpoint the coordinator said failed */
    bool stopped;            /* a stop-with-savepoint completed: the task ends as it is */
    uint64_t inject_rng;    /* failure injection draws */
    int snapshots_in_flight; /* queued to the snapshot writer (guarded by mu) */
    atomic_llong records_emitted; /* source tasks: rows read so far */
    atomic_bool has_priority;     /* a priority event waits at the inbox's front */
    fl_buffer *local;             /* the rest of the inbox being processed */
    struct fl_task_snapshot *unaligned_snap; /* operator state of `aligning` */
    uint8_t *channel_state;       /* captured in-flight data: (u32 channel, u32 len, bytes)* */
    size_t channel_state_len, channel_state_cap;

    /* inputs */
    int n_channels;
    fl_input_channel *channels;
    int n_ended;
    int64_t watermark; /* combined input watermark forwarded so far */
    bool idle;         /* every live input channel is idle (forwarded) */
    fl_batch in_batch;

    /* processing-time callbacks: a min-heap on time */
    int n_ptimers, cap_ptimers;
    struct fl_ptimer {
        int64_t time;
        fl_operator *op;
    } *ptimers;
    int clock_listener; /* id on a manual clock, or -1 */

    /* outputs */
    fl_buffer_pool *pool;
    int n_writers;
    fl_record_writer *writers;
    int64_t pending_since_ns; /* oldest unflushed write, 0 when none */

    /* chain */
    int n_ops;
    fl_operator *ops; /* [0] is the head */

    fl_error error; /* why this task failed */
};

/* Current processing time in milliseconds (the job's clock). */
int64_t fl__task_now_ms(const fl_task *t);
/* Calls op->ops->on_processing_time once processing time reaches time_ms
 * (in the task's thread; an equal pending (op, time) is not added twice). */
void fl__task_schedule(fl_task *t, fl_operator *op, int64_t time_ms);

/* ---- the checkpoint coordinator ---- */

typedef struct fl_checkpoint_settings {
    int mode;               /* FL_CKPT_EXACTLY_ONCE / FL_CKPT_AT_LEAST_ONCE; 0: off */
    int64_t interval_ms;    /* execution.checkpointing.interval; 0: no periodic checkpoints */
    int64_t timeout_ms;     /* execution.checkpointing.timeout */
    int64_t min_pause_ms;   /* execution.checkpointing.min-pause */
    int max_concurrent;     /* execution.checkpointing.max-concurrent-checkpoints */
    int tolerable_failures; /* execution.checkpointing.tolerable-failed-checkpoints */
    struct fl_checkpoint_storage *storage; /* NULL: checkpoints carry no state */
    const char *job_id, *job_name;
    /* stop-with-savepoint once the sources read this many rows / after this
     * long (flinc run --savepoint-at); 0: never */
    int64_t savepoint_at_rows;
    int64_t savepoint_at_ms;
    const char *savepoint_dir; /* NULL: the configured savepoint directory */
    bool savepoint_drain;      /* those stops drain (flinc.savepoint-drain, flinc run --drain) */
} fl_checkpoint_settings;

typedef struct fl_coordinator fl_coordinator;
fl_coordinator *fl__coordinator_create(fl_job_run *r, fl_task *tasks, int n_tasks,
                                       const fl_checkpoint_settings *s);
void fl__coordinator_start(fl_coordinator *c);
void fl__coordinator_stop(fl_coordinator *c);
void fl__coordinator_destroy(fl_coordinator *c);
void fl__coordinator_ack(fl_coordinator *c, fl_task *t, int64_t id, int64_t align_ns);
void fl__coordinator_task_finished(fl_coordinator *c, fl_task *t);
void fl__coordinator_trigger_now(fl_coordinator *c);
/* Triggers a savepoint under dir (NULL: the configured one); with stop it is
 * a stop-with-savepoint (see below) that does not wait for the outcome. */
void fl__coordinator_savepoint(fl_coordinator *c, const char *dir, bool stop);
/* Stop-with-savepoint (Flink's synchronous savepoint): every source takes
 * the savepoint's barrier and then emits nothing (with drain, the maximum
 * watermark goes before the barrier), every task waits after its snapshot;
 * when the savepoint completes the tasks end and the job FINISHES, when it
 * fails they go on. Waits for the outcome (any thread but a task's): 0 and
 * the savepoint's directory in path (size bytes, may be NULL), or an error
 * code and err (the job keeps running). */
int fl__coordinator_stop_with_savepoint(fl_coordinator *c, const char *dir, bool drain, char *path,
                                        size_t size, fl_error *err);
/* Whether checkpoint id is a stop-with-savepoint, and whether it drains
 * (drain may be NULL; any thread). */
bool fl__coordinator_is_stop(fl_coordinator *c, int64_t id, bool *drain);
/* Marks the run as stopped with a savepoint: it ends FINISHED. */
void fl__job_run_stop(fl_job_run *r);
fl_checkpoint_stats fl__coordinator_stats(fl_coordinator *c);
/* Fails the whole job (any thread), e.g. too many failed checkpoints. */
void fl__job_run_fail(fl_job_run *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fails the task on purpose at `point` when failure injection says so:
 * returns FL_EUSER with "injected failure ..." in the task's error, else 0. */
int fl__task_maybe_fail(fl_task *t, unsigned point);

/* ---- snapshots and restore (snapshot.c) ---- */

typedef struct fl_task_snapshot fl_task_snapshot;
typedef struct fl_snapshot_writer fl_snapshot_writer;
struct fl_checkpoint_writer;

/* State files a task wrote for a checkpoint, by operator uid. */
typedef struct fl_ckpt_files {
    int n, cap;
    struct fl_ckpt_file {
        char *uid;
        int subtask;
        char *path, *role;
        uint64_t size, checksum;
    } *items;
} fl_ckpt_files;
void fl__ckpt_files_fini(fl_ckpt_files *f);

/* The chain's state parts at checkpoint id (task thread); sync: serialize
 * keyed state at once (final states). NULL with err on failure. */
fl_task_snapshot *fl__task_snapshot_take(fl_task *t, int64_t id, bool sync, fl_error *err);
int64_t fl__task_snapshot_id(const fl_task_snapshot *s);
fl_task *fl__task_snapshot_task(const fl_task_snapshot *s);
void fl__task_snapshot_set_align(fl_task_snapshot *s, int64_t align_ns);
int64_t fl__task_snapshot_align(const fl_task_snapshot *s);
/* Writes the parts into a checkpoint, adding the files to `files`. */
int fl__task_snapshot_write(fl_task_snapshot *s, struct fl_checkpoint_writer *w,
                            fl_ckpt_files *files, fl_error *err);
void fl__task_snapshot_free(fl_task_snapshot *s);
fl_snapshot_writer *fl__snapshot_writer_start(fl_job_run *r);
void fl__snapshot_writer_submit(fl_snapshot_writer *sw, fl_task_snapshot *s);
void fl__snapshot_writer_stop(fl_snapshot_writer *sw);
fl_snapshot_writer *fl__job_run_snapshot_writer(fl_job_run *r);
fl_coordinator *fl__job_run_coordinator(fl_job_run *r);
/* Writes a task's snapshot into its checkpoint and acknowledges it
 * (snapshot writer thread); drops it when the checkpoint was abandoned. */
void fl__coordinator_write_snapshot(fl_coordinator *c, fl_task_snapshot *s);
/* A task ended; its final state (taken, may be NULL) goes into every later
 * checkpoint. waits: the task waits for the next completed checkpoint. */
void fl__coordinator_task_final(fl_coordinator *c, fl_task *t, fl_task_snapshot *final,
                                bool waits);

/* Restore: keyed state of the key groups of this subtask (in keyed open),
 * and the rest of an operator's state after its open (task thread). */
int fl__restore_keyed(fl_operator *op, struct fl_keyed_backend *b, fl_error *err);
/* Broadcast state into b (in broadcast-process open): the copy of old
 * subtask (this subtask % old parallelism); nothing when the restored
 * checkpoint has none. */
int fl__restore_broadcast(fl_operator *op, struct fl_keyed_backend *b, fl_error *err);
int fl__restore_operator(fl_operator *op, fl_error *err);
/* Operator list states (state_api.c). */
void fl__op_states_encode(const fl_operator *op, uint8_t **out, size_t *len);
struct fl_user_state *fl__restored_list(fl_operator *op, const char *name, bool union_lists);
void fl__user_list_append(struct fl_user_state *u, const fl_row *row);
void fl__restored_lists_cut(fl_operator *op, int subtask, int parallelism);

/* ---- unaligned checkpoints (unaligned.c) ---- */

/* Delivers a barrier to consumer channel as a priority event: it goes to the
 * front of the inbox and records how many buffers of that channel it
 * overtook (any thread). */
void fl__task_deliver_barrier_priority(fl_task *consumer, int channel, int64_t id);
/* A barrier reached an input channel in unaligned mode (task thread). 0 or
 * a negative error. */
int fl__unaligned_on_barrier(fl_task *t, fl_input_channel *ch, int64_t id, int64_t overtaken,
                             bool in_local);
/* Before a buffer of ch is processed: records it when it is in-flight data. */
void fl__unaligned_capture(fl_task *t, const fl_buffer *b);
/* After a buffer (or end of partition): completes the checkpoint once all
 * channel state is recorded. */
int fl__unaligned_maybe_complete(fl_task *t);
/* A source's or a task's barrier, forwarded on every output ahead of the
 * queued data (flushes first). */
int fl__unaligned_forward_barrier(fl_task *t, int64_t id);
/* Gives up the unaligned checkpoint in progress (a newer one overtook it). */
void fl__unaligned_abandon(fl_task *t);
/* Replays restored channel state before new input (task thread). */
int fl__unaligned_replay(fl_task *t, int (*dispatch)(fl_task *, fl_buffer *), fl_error *err);
void fl__unaligned_fini(fl_task *t);
/* Adds raw bytes as a part of the snapshot (uid of op, role). */
void fl__task_snapshot_add_bytes(struct fl_task_snapshot *s, const fl_operator *op,
                                 const char *role, const void *data, size_t len);
/* Reads the restored parts of `role` of op's uid for this subtask index only. */
int fl__restore_own_part(fl_operator *op, const char *role, void **data, size_t *len,
                         fl_error *err);

/* Posts mail to a task (any thread). */
void fl__task_post(fl_task *t, int kind, int64_t id);
/* Takes a checkpoint in the task's thread: snapshots the chain, forwards
 * the barrier downstream and acknowledges to the coordinator. */
int fl__task_checkpoint(fl_task *t, int64_t id, int64_t align_ns);
/* Its parts: user hooks and the synchronous snapshot (*out NULL without
 * checkpoint storage), and handing the snapshot to the writer (or acking). */
int fl__task_checkpoint_begin(fl_task *t, int64_t id, struct fl_task_snapshot **out);
int fl__task_checkpoint_submit(fl_task *t, struct fl_task_snapshot *snap, int64_t id,
                               int64_t align_ns);
/* Checkpoint `id` completed: sinks commit, completion hooks run (task thread). */
void fl__task_checkpoint_complete(fl_task *t, int64_t id);
/* Whether checkpoint id is a stop-with-savepoint (drain may be NULL). */
bool fl__task_is_stop(const fl_task *t, int64_t id, bool *drain);
/* After the snapshot of stop-with-savepoint id: handles only mail until the
 * coordinator says how it ended; t->stopped when it completed. 0, or
 * FL_ECANCELED / a commit's error. */
int fl__task_await_stop(fl_task *t, int64_t id);
bool fl__task_has_transactional_sink(const fl_task *t);
/* After the end of input, before close (task thread): final state, and the
 * final commit of two-phase-commit sinks. */
int fl__task_finish(fl_task *t);
/* The coordinator's side of a task's acknowledgement (any thread). */
void fl__job_run_ack(fl_job_run *r, fl_task *t, int64_t id, int64_t align_ns);

/* Blocks for a free output buffer, handling mail; NULL when canceled. */
fl_buffer *fl__task_take_buffer(fl_task *t);
/* Hands a filled buffer to a consumer's mailbox (any thread). */
void fl__task_deliver(fl_task *consumer, int channel, fl_buffer *b);
/* Notes that a writer holds unflushed data (starts the buffer timeout). */
/* A finished task with a two-phase-commit sink: commits what each
 * checkpoint completing meanwhile covers, until one holding its final state
 * completes (the coordinator names it FL_CHECKPOINT_ID_FINAL); then commits
 * the last transaction. 0, FL_ECANCELED, or the commit's error. */
int fl__task_await_final_commit(fl_task *t);
/* Waits until the snapshot writer wrote (and the coordinator took) every
 * snapshot this task queued. */
void fl__task_await_snapshots(fl_task *t);
void fl__task_note_pending(fl_task *t);
bool fl__task_canceled(const fl_task *t);
const fl_kv *fl__task_params(const fl_task *t);
void *fl__task_thread_main(void *arg);

/* The run's record of the first failure (thread-safe). */
void fl__job_run_task_failed(fl_job_run *r, fl_task *t, const fl_error *err);
/* The task's thread ended without failing: at the end of its input
 * (reached_end), or canceled. */
void fl__job_run_task_finished(fl_job_run *r, fl_task *t, bool reached_end);

#endif
