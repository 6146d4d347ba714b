/*
 * minicluster.c - runs jobs inside the calling process (see minicluster.h).
 *
 * Running jobs are kept in a small process-wide list so that a cancellation
 * request (Ctrl-C in `flinc run`) reaches them from any thread.
 */
#include "minicluster.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "mem.h"

#define MAX_RUNNING 64

static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static fl_job_run *running[MAX_RUNNING];
static int cancel_pending; /* a cancel that arrived before the job registered */

static int job_max_parallelism(const fl_job_graph *g) {
    int max = 1;
    for (int i = 0; i < g->n_vertices; i++)
        if (g->vertices[i].parallelism > max) max = g->vertices[i].parallelism;
    return max;
}

static int register_run(fl_job_run *r) {
    pthread_mutex_lock(&running_mu);
    int slot = -1;
    for (int i = 0; i < MAX_RUNNING && slot < 0; i++)
        if (!running[i]) slot = i;
    if (slot >= 0) running[slot] = r;
    int cancel = cancel_pending;
    cancel_pending = 0;
    pthread_mutex_unlock(&running_mu);
    if (cancel) fl_job_run_cancel(r);
    return slot;
}

static void unregister_run(int slot) {
    if (slot < 0) return;
    pthread_mutex_lock(&running_mu);
    running[slot] = NULL;
    pthread_mutex_unlock(&running_mu);
}

static fl_checkpoint_stats last_stats;

fl_checkpoint_stats fl_minicluster_last_checkpoint_stats(void) {
    pthread_mutex_lock(&running_mu);
    fl_checkpoint_stats s = last_stats;
    pthread_mutex_unlock(&running_mu);
    return s;
}

int fl_minicluster_cancel_all(void) {
    int n = 0;
    pthread_mutex_lock(&running_mu);
    for (int i = 0; i < MAX_RUNNING; i++) {
        if (running[i]) {
            fl_job_run_cancel(running[i]);
            n++;
        }
    }
    /* Ctrl-C between building the job and starting it still cancels it. */
    if (n == 0) cancel_pending = 1;
    pthread_mutex_unlock(&running_mu);
    return n;
}

int fl_minicluster_execute(fl_job_graph *job, const fl_minicluster_options *o, fl_error *err) {
    const char *name = job->stream->job_name ? job->stream->job_name : "job";
    int slots = o->slots > 0 ? o->slots : job_max_parallelism(job);
    fl_execution_graph *eg = fl_execution_graph_create(job, slots, err);
    if (!eg) return err->code;
    fl_job_run *r = fl_job_run_create(eg, &o->run, err);
    if (!r) {
        fl_error_prefix(err, "job \"%s\" could not start", name);
        fl_execution_graph_destroy(eg);
        return err->code;
    }
    fl_info("minicluster",
            "Job \"%s\" (%d tasks, %d subtasks, %d slots) switched from CREATED "
            "to RUNNING",
            name, job->n_vertices, eg->n_subtasks, slots);
    int slot = register_run(r);
    int rc = fl_job_run_start(r, err);
    fl_error run_err = {0};
    fl_job_status st = fl_job_run_wait(r, &run_err);
    unregister_run(slot);
    fl_checkpoint_stats cs = fl_job_run_checkpoint_stats(r);
    pthread_mutex_lock(&running_mu);
    last_stats = cs;
    pthread_mutex_unlock(&running_mu);
    fl_info("minicluster", "Job \"%s\" switched from RUNNING to %s", name, fl_job_status_name(st));
    if (st != FL_JOB_FINISHED) {
        fl_error_set(err, run_err.code ? run_err.code : FL_ESTATE, "job \"%s\" %s: %s", name,
                     st == FL_JOB_CANCELED ? "was canceled" : "failed", run_err.message);
        rc = err->code;
    }
    fl_job_run_destroy(r);
    fl_execution_graph_destroy(eg);
    return rc;
}
