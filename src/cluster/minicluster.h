/*
 * minicluster.h - the embedded local cluster: a JobManager's job lifecycle
 * and a TaskManager's slots inside the calling process.
 *
 * execute() takes a JobGraph, binds its subtasks to the cluster's slots,
 * runs it (and runs it again after a failure, as the restart strategy
 * allows) and waits for the end, logging each state change as Flink does
 * ("switched from RUNNING to FINISHED"). Jobs running in the process can be
 * canceled from another thread (the CLI's signal thread uses this for Ctrl-C).
 */
#ifndef FL_MINICLUSTER_H
#define FL_MINICLUSTER_H

#include "graph.h"
#include "runtime.h"

typedef struct fl_minicluster_options {
    int slots;              /* <= 0: as many as the job's highest parallelism */
    fl_job_run_options run; /* function resolution */
} fl_minicluster_options;

/* Runs the job (takes it) to completion. 0 when it FINISHED; otherwise the
 * error names the failing subtask and cause, or says it was canceled. */
int fl_minicluster_execute(fl_job_graph *job, const fl_minicluster_options *o, fl_error *err);

/* How many times the job that ended last in this process was restarted. */
int fl_minicluster_last_restarts(void);
/* How many of its attempts started from a checkpoint or savepoint. */
int fl_minicluster_last_restores(void);
/* Checkpoint figures of the job that ended last in this process. */
fl_checkpoint_stats fl_minicluster_last_checkpoint_stats(void);

/* A savepoint of every running job into dir (NULL: the configured savepoint
 * directory); with stop they stop once it completed. Returns how many.
 * Thread-safe. */
int fl_minicluster_savepoint_all(const char *dir, bool stop);

/* Stops every running job with a savepoint into dir (NULL: the configured
 * savepoint directory), draining first with drain, and waits for each (see
 * fl_job_run_stop_with_savepoint). 0 when all stopped, path holding the last
 * savepoint's directory (size bytes, may be NULL); else the first error, and
 * the jobs whose savepoint failed keep running. Thread-safe; not from a
 * task's thread. */
int fl_minicluster_stop_with_savepoint(const char *dir, bool drain, char *path, size_t size,
                                       fl_error *err);

/* Cancels every job running in this process; returns how many. Thread-safe. */
int fl_minicluster_cancel_all(void);

#endif
