/*
 * minicluster.c - runs jobs inside the calling process (see minicluster.h).
 *
 * Running jobs are kept in a small process-wide list so that a cancellation
 * request (Ctrl-C in `flinc run`) reaches them from any thread.
 */
#include "minicluster.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "restart.h"
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
static int last_attempts;

int fl_minicluster_last_restarts(void) {
    pthread_mutex_lock(&running_mu);
    int n = last_attempts;
    pthread_mutex_unlock(&running_mu);
    return n;
}

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

/* Waits delay_ms unless the job is canceled meanwhile; false when canceled. */
static bool restart_delay(int64_t delay_ms) {
    int64_t until = fl_clock_monotonic_ns() + delay_ms * 1000000LL;
    pthread_mutex_lock(&running_mu);
    while (!cancel_pending && fl_clock_monotonic_ns() < until) {
        pthread_mutex_unlock(&running_mu);
        int64_t left = until - fl_clock_monotonic_ns();
        fl_sleep_ns(left < 10000000 ? (left > 0 ? left : 0) : 10000000);
        pthread_mutex_lock(&running_mu);
    }
    bool canceled = cancel_pending;
    cancel_pending = 0;
    pthread_mutex_unlock(&running_mu);
    return !canceled;
}

static int read_restart(const fl_job_graph *job, fl_restart_strategy *rs, int64_t *inject_budget,
                        fl_failure_injection *inject, fl_error *err) {
    fl_config *c = fl_config_create();
    const fl_kv *kv = job->stream->config;
    for (size_t i = 0; i < fl_kv_count(kv); i++)
        fl_config_set(c, fl_kv_key(kv, i), fl_kv_value(kv, i));
    int64_t interval = 0, seed = 0;
    double probability = 0;
    int rc = fl_config_get_duration_ms(c, "execution.checkpointing.interval", 0, &interval, err);
    if (rc == 0) rc = fl_restart_strategy_init(rs, c, interval > 0, err);
    if (rc == 0)
        rc = fl_config_get_int(c, "test.failure-injection.max-failures", 0, inject_budget, err);
    if (rc == 0)
        rc = fl_config_get_double(c, "test.failure-injection.probability", 0, &probability, err);
    if (rc == 0) rc = fl_config_get_int(c, "test.failure-injection.seed", 1, &seed, err);
    if (rc == 0 && *inject_budget > 0) {
        const char *points = fl_config_get(c, "test.failure-injection.points");
        inject->probability = probability;
        inject->seed = (uint64_t)seed;
        inject->remaining = inject_budget;
        inject->points = 0;
        if (!points || strstr(points, "process")) inject->points |= FL_INJECT_PROCESS;
        if (!points || strstr(points, "snapshot")) inject->points |= FL_INJECT_SNAPSHOT;
        if (!points || strstr(points, "commit")) inject->points |= FL_INJECT_COMMIT;
    }
    fl_config_destroy(c);
    return rc;
}

int fl_minicluster_execute(fl_job_graph *job, const fl_minicluster_options *o, fl_error *err) {
    const char *name = job->stream->job_name ? job->stream->job_name : "job";
    int slots = o->slots > 0 ? o->slots : job_max_parallelism(job);
    fl_restart_strategy rs;
    int64_t inject_budget = 0;
    fl_job_run_options run_opts = o->run;
    if (read_restart(job, &rs, &inject_budget, &run_opts.inject, err) < 0) {
        fl_job_graph_destroy(job);
        return err->code;
    }
    fl_execution_graph *eg = fl_execution_graph_create(job, slots, err);
    if (!eg) {
        fl_restart_strategy_fini(&rs);
        return err->code;
    }
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        eg->attempt = attempt;
        fl_job_run *r = fl_job_run_create(eg, &run_opts, err);
        if (!r) {
            fl_error_prefix(err, "job \"%s\" could not start", name);
            rc = err->code;
            break;
        }
        fl_info("minicluster",
                "Job \"%s\" (%d tasks, %d subtasks, %d slots%s) switched from CREATED to RUNNING",
                name, job->n_vertices, eg->n_subtasks, slots, attempt ? ", restarted" : "");
        int slot = register_run(r);
        rc = fl_job_run_start(r, err);
        fl_error run_err = {0};
        fl_job_status st = fl_job_run_wait(r, &run_err);
        unregister_run(slot);
        fl_checkpoint_stats cs = fl_job_run_checkpoint_stats(r);
        pthread_mutex_lock(&running_mu);
        last_stats = cs;
        last_attempts = attempt;
        pthread_mutex_unlock(&running_mu);
        fl_job_run_destroy(r);
        fl_info("minicluster", "Job \"%s\" switched from RUNNING to %s", name,
                fl_job_status_name(st));
        if (st == FL_JOB_FINISHED) {
            rc = 0;
            break;
        }
        int64_t delay = 0;
        if (st == FL_JOB_FAILED && fl_restart_strategy_on_failure(&rs, fl_clock_wall_ms(), &delay)) {
            char how[128];
            fl_restart_strategy_describe(&rs, how, sizeof how);
            fl_warn("minicluster", "Job \"%s\" failed (%s); restarting in %lld ms, restart %lld of "
                    "strategy %s", name, run_err.message, (long long)delay, (long long)rs.failures,
                    how);
            if (restart_delay(delay)) continue;
            st = FL_JOB_CANCELED;
            fl_error_clear(&run_err);
            fl_error_set(&run_err, FL_ECANCELED, "the job was canceled while restarting");
        }
        if (st == FL_JOB_FAILED && rs.kind != FL_RESTART_NONE) {
            char how[128];
            fl_restart_strategy_describe(&rs, how, sizeof how);
            fl_error_prefix(&run_err, "restart strategy %s gave up after %lld restarts", how,
                            (long long)rs.failures);
        }
        fl_error_set(err, run_err.code ? run_err.code : FL_ESTATE, "job \"%s\" %s: %s", name,
                     st == FL_JOB_CANCELED ? "was canceled" : "failed", run_err.message);
        rc = err->code;
        break;
    }
    fl_restart_strategy_fini(&rs);
    fl_execution_graph_destroy(eg);
    return rc;
}
