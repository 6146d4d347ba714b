/*
 * minicluster.c - runs jobs inside the calling process (see minicluster.h).
 *
 * Running jobs are kept in a small process-wide list so that a cancellation
 * request (Ctrl-C in `flinc run`) reaches them from any thread. A caller that
 * waits on a job outside the list's lock (a stop-with-savepoint) holds its
 * slot: the job's run is not destroyed until it lets go.
 */
#include "minicluster.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "restart.h"
#include "storage.h"
#include "mem.h"

#define MAX_RUNNING 64

static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t running_cv = PTHREAD_COND_INITIALIZER; /* a slot was let go */
static fl_job_run *running[MAX_RUNNING];
static int holders[MAX_RUNNING]; /* callers using running[i] outside the lock */
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
        if (!running[i] && !holders[i]) slot = i;
    if (slot >= 0) running[slot] = r;
    int cancel = cancel_pending;
    cancel_pending = 0;
    pthread_mutex_unlock(&running_mu);
    if (cancel) fl_job_run_cancel(r);
    return slot;
}

/* After this the run may be destroyed: nobody holds it any more. */
static void unregister_run(int slot) {
    if (slot < 0) return;
    pthread_mutex_lock(&running_mu);
    running[slot] = NULL;
    while (holders[slot] > 0) pthread_cond_wait(&running_cv, &running_mu);
    pthread_mutex_unlock(&running_mu);
}

static fl_checkpoint_stats last_stats;
static int last_attempts, last_restores;

int fl_minicluster_last_restores(void) {
    pthread_mutex_lock(&running_mu);
    int n = last_restores;
    pthread_mutex_unlock(&running_mu);
    return n;
}

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

int fl_minicluster_savepoint_all(const char *dir, bool stop) {
    int n = 0;
    pthread_mutex_lock(&running_mu);
    for (int i = 0; i < MAX_RUNNING; i++) {
        if (running[i]) {
            fl_job_run_savepoint(running[i], dir, stop);
            n++;
        }
    }
    pthread_mutex_unlock(&running_mu);
    return n;
}

int fl_minicluster_stop_with_savepoint(const char *dir, bool drain, char *path, size_t size,
                                       fl_error *err) {
    int slots[MAX_RUNNING], n = 0;
    pthread_mutex_lock(&running_mu);
    for (int i = 0; i < MAX_RUNNING; i++)
        if (running[i]) {
            holders[i]++;
            slots[n++] = i;
        }
    pthread_mutex_unlock(&running_mu);
    if (n == 0) return fl_error_set(err, FL_ESTATE, "no job is running to stop with a savepoint");
    int rc = 0;
    for (int k = 0; k < n; k++) {
        /* running[] only changes under the lock, and not to another run
         * while the slot is held. */
        pthread_mutex_lock(&running_mu);
        fl_job_run *r = running[slots[k]];
        pthread_mutex_unlock(&running_mu);
        fl_error e = {0};
        if (r && fl_job_run_stop_with_savepoint(r, dir, drain, path, size, &e) < 0 && rc == 0) {
            rc = e.code;
            fl_error_set(err, e.code, "%s", e.message);
        }
    }
    pthread_mutex_lock(&running_mu);
    for (int k = 0; k < n; k++) holders[slots[k]]--;
    pthread_cond_broadcast(&running_cv);
    pthread_mutex_unlock(&running_mu);
    return rc;
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

static int read_restart(const fl_config *c, fl_restart_strategy *rs, int64_t *inject_budget,
                        fl_failure_injection *inject, fl_error *err) {
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
    return rc;
}

/* ---- checkpoints of one execution ------------------------------------------------------------ */

typedef struct ckpt_ctx {
    fl_checkpoint_storage *storage;
    char *temp_dir;                     /* made here when none was configured */
    fl_checkpoint_reader *initial;      /* execution.state-recovery.path */
    char job_id[33];
} ckpt_ctx;

/* Every operator state in the restored checkpoint must belong to an
 * operator of the job, unless the user allows dropping it. */
static int check_claimed(const fl_checkpoint_reader *rd, const fl_job_graph *job,
                         const fl_config *c, fl_error *err) {
    bool allow = false;
    const char *v = fl_config_get(c, "execution.state-recovery.ignore-unclaimed-state");
    if (!v) v = fl_config_get(c, "execution.savepoint.ignore-unclaimed-state");
    if (v) fl_parse_bool(v, &allow);
    const fl_checkpoint_metadata *md = fl_checkpoint_reader_metadata(rd);
    for (int i = 0; i < md->n_operators; i++) {
        const char *uid = md->operators[i]->uid;
        bool found = false;
        for (int n = 0; n < job->stream->n_nodes && !found; n++) {
            char *own = fl_stream_node_state_uid(job->stream->nodes[n]);
            found = !strcmp(own, uid);
            free(own);
        }
        bool has_state = false;
        for (int s = 0; s < md->operators[i]->parallelism; s++)
            has_state |= md->operators[i]->subtasks[s].n_files > 0;
        if (!found && has_state && !allow)
            return fl_error_set(err, FL_ESTATE,
                                "the state of operator \"%s\" in \"%s\" matches no operator of the "
                                "job (by uid); set uids to match, or allow dropping it with "
                                "--allow-non-restored-state",
                                uid, fl_checkpoint_reader_dir(rd));
    }
    return 0;
}

static int ckpt_open(ckpt_ctx *k, const fl_config *cfg, const fl_job_graph *job, fl_error *err) {
    memset(k, 0, sizeof *k);
    fl_fs_random_hex(k->job_id, 32);
    const char *path = fl_config_get(cfg, "execution.state-recovery.path");
    if (!path) path = fl_config_get(cfg, "execution.savepoint.path");
    if (path) {
        k->initial = fl_checkpoint_reader_open(path, 0, err);
        if (!k->initial) {
            fl_error_prefix(err, "could not restore from \"%s\"", path);
            return err->code;
        }
        int rc = check_claimed(k->initial, job, cfg, err);
        if (rc < 0) return rc;
        fl_info("minicluster", "restoring from %s", fl_checkpoint_reader_dir(k->initial));
    }
    int64_t interval = 0;
    fl_config_get_duration_ms(cfg, "execution.checkpointing.interval", 0, &interval, NULL);
    bool on_interrupt = false;
    const char *oi = fl_config_get(cfg, "flinc.savepoint-on-interrupt");
    if (oi) fl_parse_bool(oi, &on_interrupt);
    bool savepoints = fl_config_get(cfg, "flinc.savepoint-at") || on_interrupt;
    /* The storage's own lookup: older key names count, empty values do not. */
    bool savepoint_dir = fl_checkpoint_config_get(cfg, FL_CONF_SAVEPOINTS_DIR, NULL) != NULL;
    if (savepoints && !savepoint_dir)
        return fl_error_set(err, FL_ECONFIG,
                            "a savepoint needs a directory: set " FL_CONF_SAVEPOINTS_DIR
                            " (or --savepoint-dir DIR)");
    if (interval <= 0 && !savepoints && !savepoint_dir) return 0;
    fl_config *c = fl_config_clone(cfg);
    if (!fl_checkpoint_config_get(c, FL_CONF_CHECKPOINTS_DIR, NULL)) {
        /* Flink keeps checkpoints in the JobManager's memory by default; the
         * embedded cluster keeps them in a private directory for the run. */
        char tmpl[] = "/tmp/flinc-checkpoints-XXXXXX";
        char *d = mkdtemp(tmpl);
        if (!d) {
            fl_config_destroy(c);
            return fl_error_set(err, FL_EIO, "could not create a checkpoint directory in /tmp");
        }
        k->temp_dir = fl_xstrdup(d);
        fl_config_set(c, FL_CONF_CHECKPOINTS_DIR, d);
    }
    k->storage = fl_checkpoint_storage_create(c, k->job_id, err);
    fl_config_destroy(c);
    return k->storage ? 0 : err->code;
}

static void ckpt_close(ckpt_ctx *k, fl_job_end how) {
    if (k->storage) {
        fl_error e = {0};
        fl_checkpoint_storage_job_ended(k->storage, how, &e);
        fl_checkpoint_storage_destroy(k->storage);
    }
    fl_checkpoint_reader_close(k->initial);
    if (k->temp_dir) {
        fl_fs_remove_tree(k->temp_dir, NULL);
        free(k->temp_dir);
    }
}

/* What attempt `attempt` restores: the latest completed checkpoint of this
 * execution, else the initial one (-s). *owned is the reader to close. */
static const fl_checkpoint_reader *restore_point(ckpt_ctx *k, int attempt,
                                                 fl_checkpoint_reader **owned) {
    *owned = NULL;
    if (attempt > 0 && k->storage && fl_checkpoint_storage_retained(k->storage, NULL, 0) > 0) {
        fl_error e = {0};
        *owned = fl_checkpoint_reader_open_latest(fl_checkpoint_storage_job_dir(k->storage), 0, &e);
        if (*owned) return *owned;
        fl_warn("minicluster", "no usable checkpoint to restore: %s", e.message);
    }
    return k->initial;
}

int fl_minicluster_execute(fl_job_graph *job, const fl_minicluster_options *o, fl_error *err) {
    const char *name = job->stream->job_name ? job->stream->job_name : "job";
    int slots = o->slots > 0 ? o->slots : job_max_parallelism(job);
    fl_restart_strategy rs;
    int64_t inject_budget = 0;
    fl_job_run_options run_opts = o->run;
    fl_config *cfg = fl_config_from_kv(job->stream->config);
    ckpt_ctx ck;
    if (read_restart(cfg, &rs, &inject_budget, &run_opts.inject, err) < 0) {
        fl_config_destroy(cfg);
        fl_job_graph_destroy(job);
        return err->code;
    }
    if (ckpt_open(&ck, cfg, job, err) < 0) {
        fl_config_destroy(cfg);
        ckpt_close(&ck, FL_JOB_END_FAILED);
        fl_restart_strategy_fini(&rs);
        fl_job_graph_destroy(job);
        return err->code;
    }
    fl_config_destroy(cfg);
    run_opts.storage = ck.storage;
    run_opts.job_id = ck.job_id;
    fl_job_end how = FL_JOB_END_FAILED;
    fl_execution_graph *eg = fl_execution_graph_create(job, slots, err);
    if (!eg) {
        ckpt_close(&ck, how);
        fl_restart_strategy_fini(&rs);
        return err->code;
    }
    int rc = 0, restores = 0;
    for (int attempt = 0;; attempt++) {
        eg->attempt = attempt;
        fl_checkpoint_reader *owned_reader;
        run_opts.restore = restore_point(&ck, attempt, &owned_reader);
        run_opts.restarted = attempt > 0;
        if (run_opts.restore) restores++;
        fl_job_run *r = fl_job_run_create(eg, &run_opts, err);
        if (!r) {
            fl_checkpoint_reader_close(owned_reader);
            fl_error_prefix(err, "job \"%s\" could not start", name);
            rc = err->code;
            break;
        }
        fl_info("minicluster",
                "Job \"%s\" (%d tasks, %d subtasks, %d slots%s) switched from CREATED to RUNNING",
                name, job->n_vertices, eg->n_subtasks, slots, attempt ? ", restarted" : "");
        /* Started (its coordinator made) before others can find it to ask
         * for a savepoint. */
        rc = fl_job_run_start(r, err);
        int slot = register_run(r);
        fl_error run_err = {0};
        fl_job_status st = fl_job_run_wait(r, &run_err);
        unregister_run(slot);
        fl_checkpoint_stats cs = fl_job_run_checkpoint_stats(r);
        pthread_mutex_lock(&running_mu);
        last_stats = cs;
        last_attempts = attempt;
        last_restores = restores;
        pthread_mutex_unlock(&running_mu);
        fl_job_run_destroy(r);
        fl_checkpoint_reader_close(owned_reader);
        fl_info("minicluster", "Job \"%s\" switched from RUNNING to %s", name,
                fl_job_status_name(st));
        if (st == FL_JOB_FINISHED) {
            how = FL_JOB_END_FINISHED;
            rc = 0;
            break;
        }
        if (st == FL_JOB_CANCELED) how = FL_JOB_END_CANCELED;
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
    ckpt_close(&ck, how);
    fl_restart_strategy_fini(&rs);
    fl_execution_graph_destroy(eg);
    return rc;
}
