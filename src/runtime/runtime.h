/*
 * runtime.h - running an ExecutionGraph: the interface the cluster layer uses.
 *
 * A job run creates one task (a thread with a mailbox loop) per subtask of the
 * execution graph, wires their in-process channels, and reports how the job
 * ended. It resolves every user function by symbol name before any task
 * starts, so an unresolvable function fails the submission, not a worker.
 * The cluster layer decides where (slots) and when; the runtime does not know
 * what the tasks compute.
 */
#ifndef FL_RUNTIME_H
#define FL_RUNTIME_H

#include <stdint.h>

#include "flinc/datastream.h"
#include "flinc/error.h"
#include "graph.h"

typedef struct fl_job_run fl_job_run;

typedef enum fl_job_status {
    FL_JOB_CREATED = 0,
    FL_JOB_RUNNING,
    FL_JOB_FINISHED,
    FL_JOB_FAILED,
    FL_JOB_CANCELED,
} fl_job_status;

const char *fl_job_status_name(fl_job_status s); /* "RUNNING", ... */

/* Finds a user function by symbol name (dlsym in the job's shared object and
 * the program); NULL when there is none. */
typedef void *(*fl_symbol_resolver)(void *arg, const char *symbol);

/* Failures injected on purpose, for fault-tolerance tests: each task draws
 * at its injection points (after a batch of rows, while snapshotting, after a
 * checkpoint completed and before sinks commit) and fails with probability
 * `probability`, while the shared budget `remaining` lasts (it spans the
 * restarts of one job). */
typedef struct fl_failure_injection {
    double probability;
    uint64_t seed;
    int64_t *remaining;     /* atomic; NULL: no injection */
    unsigned points;        /* FL_INJECT_* bits */
} fl_failure_injection;

enum {
    FL_INJECT_PROCESS = 1,  /* after a batch of rows (or a source read) */
    FL_INJECT_SNAPSHOT = 2, /* while a task takes a checkpoint */
    FL_INJECT_COMMIT = 4,   /* after a checkpoint completed, before commit hooks run */
};

typedef struct fl_job_run_options {
    fl_symbol_resolver resolve;
    void *resolve_arg;
    const char *job_file; /* named in resolution errors ("wordcount.so") */
    fl_manual_clock *clock; /* processing time for tests; NULL: the wall clock */
    fl_failure_injection inject;
    /* Checkpoints: where they go (NULL: no state is kept), the checkpoint to
     * restore (NULL: none), whether this is a restart of the job. */
    struct fl_checkpoint_storage *storage;
    const struct fl_checkpoint_reader *restore;
    bool restarted;
    const char *job_id;
} fl_job_run_options;

/* Checks the plan and resolves its functions; creates the tasks without
 * starting them. Borrows eg, which must outlive the run. NULL + err on a bad
 * plan, an unresolvable function or an invalid setting. */
fl_job_run *fl_job_run_create(const fl_execution_graph *eg, const fl_job_run_options *o,
                              fl_error *err);
/* Starts every task's thread. */
int fl_job_run_start(fl_job_run *r, fl_error *err);
/* Asks every task to stop (any thread, also from a signal-handling thread);
 * the job ends CANCELED unless it already ended. */
void fl_job_run_cancel(fl_job_run *r);
/* Waits until every task has ended; returns the final status and, for FAILED
 * or CANCELED, fills err (the first failure: subtask and cause). */
fl_job_status fl_job_run_wait(fl_job_run *r, fl_error *err);
fl_job_status fl_job_run_status(fl_job_run *r);

/* Checkpoints of a run so far. */
typedef struct fl_checkpoint_stats {
    int64_t triggered;
    int64_t completed;
    int64_t aborted;
    int64_t last_completed_id;
    int64_t max_alignment_ns; /* longest barrier alignment of a completed checkpoint */
    char savepoint[1024];     /* directory of the last completed savepoint, or "" */
    bool stopped;             /* the job stopped with that savepoint */
} fl_checkpoint_stats;
fl_checkpoint_stats fl_job_run_checkpoint_stats(fl_job_run *r);
/* Takes a savepoint under dir (NULL: the configured savepoint directory) and,
 * with stop, stops the job with it (as fl_job_run_stop_with_savepoint, without
 * waiting; drain as flinc.savepoint-drain says). Any thread. */
void fl_job_run_savepoint(fl_job_run *r, const char *dir, bool stop);
/* Stop-with-savepoint: the sources emit nothing after the savepoint's barrier
 * (with drain, the maximum watermark goes first, so that every event-time
 * window and timer fires), and the job ends FINISHED once it completed.
 * Waits for it (any thread but a task's): 0 and the savepoint's directory in
 * path (size bytes, may be NULL), or an error code and err when it failed or
 * could not start (then the job keeps running). */
int fl_job_run_stop_with_savepoint(fl_job_run *r, const char *dir, bool drain, char *path,
                                   size_t size, fl_error *err);
void fl_job_run_destroy(fl_job_run *r);

#endif
