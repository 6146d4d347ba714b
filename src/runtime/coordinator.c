/*
 * coordinator.c - the checkpoint coordinator of a job run (Flink's
 * CheckpointCoordinator): triggers numbered checkpoints at the sources every
 * execution.checkpointing.interval, collects every task's acknowledgement,
 * completes a checkpoint when all tasks acknowledged it, tells the tasks (so
 * two-phase-commit sinks commit), and aborts checkpoints that time out.
 *
 * A task that has finished acknowledges every later checkpoint implicitly:
 * its state no longer changes. Too many failed checkpoints in a row
 * (execution.checkpointing.tolerable-failed-checkpoints) fail the job;
 * failed savepoints do not count (as in Flink).
 *
 * A stop-with-savepoint is a synchronous savepoint: each task waits after
 * its snapshot (sources emit nothing past the barrier) until the coordinator
 * says how the savepoint ended. While one is in flight no other checkpoint
 * starts; when it completes the tasks end and the job FINISHES, when it
 * fails the tasks go on and periodic checkpoints resume.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "mem.h"
#include "runtime_int.h"
#include "storage.h"

typedef struct pending {
    int64_t id;
    int64_t started_ns;
    int64_t max_align_ns;
    bool *acked;                   /* per task */
    fl_checkpoint_writer *writer;  /* NULL without checkpoint storage */
    fl_checkpoint_metadata *md;
    bool savepoint, stop;
} pending;

struct fl_coordinator {
    fl_job_run *run;
    fl_task *tasks;
    int n_tasks;
    fl_checkpoint_settings settings;
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool *finished; /* per task */
    int n_finished;
    fl_task_snapshot **final; /* per task: its state when it ended */
    bool *waiting;            /* per task: waits for a checkpoint with its final state */
    fl_checkpoint_storage *storage;
    const char *job_id, *job_name;
    pending *pend;
    int n_pend, cap_pend;
    int64_t next_id;
    int64_t last_completed_ns;
    int failures_in_row;
    fl_checkpoint_stats stats;
    int64_t started_ns;
    bool savepoint_at_done;

    /* stop-with-savepoint */
    int64_t stop_pending; /* the one in flight, 0: none */
    bool stop_done;       /* one completed: the job is stopping, nothing new starts */
    bool finals_triggered; /* the checkpoint of every task's final state was started */
    struct stop_outcome { /* how the last one ended, for fl__coordinator_stop_with_savepoint */
        int64_t id;
        fl_error err; /* code 0: completed */
        char path[1024];
    } outcome;
    /* Every stop-with-savepoint of the run (tasks ask whether a barrier is
     * one); its own lock, so that asking never waits for a snapshot write. */
    pthread_mutex_t stops_mu;
    struct stop_request {
        int64_t id;
        bool drain;
    } *stops;
    int n_stops;
};

fl_coordinator *fl__coordinator_create(fl_job_run *r, fl_task *tasks, int n_tasks,
                                       const fl_checkpoint_settings *s) {
    fl_coordinator *c = fl_xcalloc(1, sizeof *c);
    c->run = r;
    c->tasks = tasks;
    c->n_tasks = n_tasks;
    c->settings = *s;
    c->finished = fl_xcalloc((size_t)n_tasks + 1, sizeof *c->finished);
    c->final = fl_xcalloc((size_t)n_tasks + 1, sizeof *c->final);
    c->waiting = fl_xcalloc((size_t)n_tasks + 1, sizeof *c->waiting);
    c->storage = s->storage;
    c->job_id = s->job_id ? s->job_id : "job";
    c->job_name = s->job_name;
    if (c->storage) c->next_id = fl_checkpoint_storage_max_id(c->storage);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->stops_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    return c;
}

/* Forgets pending checkpoint i; an unfinished one is abandoned on disk. */
static void drop_pending(fl_coordinator *c, int i) {
    if (c->pend[i].writer) fl_checkpoint_writer_abort(c->pend[i].writer);
    fl_checkpoint_metadata_destroy(c->pend[i].md);
    free(c->pend[i].acked);
    c->pend[i] = c->pend[--c->n_pend];
}

/* The stop-with-savepoint id ended (err->code 0: completed, with its
 * directory); wakes whoever waits for it. Called with c->mu held. */
static void stop_ended(fl_coordinator *c, int64_t id, const fl_error *err, const char *path) {
    c->stop_pending = 0;
    c->outcome.id = id;
    fl_error_clear(&c->outcome.err);
    if (err->code) fl_error_set(&c->outcome.err, err->code, "%s", err->message);
    snprintf(c->outcome.path, sizeof c->outcome.path, "%s", path);
    pthread_cond_broadcast(&c->cv);
}

/* Pending checkpoint i failed (why): it is dropped, the tasks are told, and
 * a checkpoint (not a savepoint) counts toward the tolerable failures. A
 * failed stop-with-savepoint lets the tasks go on. Called with c->mu held. */
static void fail_pending(fl_coordinator *c, int i, const fl_error *why) {
    int64_t id = c->pend[i].id;
    bool stop = c->pend[i].stop;
    c->stats.aborted++;
    if (!c->pend[i].savepoint) c->failures_in_row++;
    drop_pending(c, i);
    for (int t = 0; t < c->n_tasks; t++)
        if (!c->finished[t]) fl__task_post(&c->tasks[t], FL_MAIL_CHECKPOINT_ABORTED, id);
    if (stop) {
        fl_warn("checkpoint", "stop-with-savepoint %lld failed, the job keeps running: %s",
                (long long)id, why->message);
        stop_ended(c, id, why, "");
    }
}

static void add_files(pending *p, const fl_ckpt_files *files) {
    for (int i = 0; i < files->n; i++) {
        const struct fl_ckpt_file *f = &files->items[i];
        fl_checkpoint_operator *op = fl_checkpoint_metadata_find(p->md, f->uid);
        if (!op || f->subtask >= op->parallelism) continue;
        fl_state_file sf = {.path = f->path, .role = f->role, .size = f->size,
                            .checksum = f->checksum};
        fl_checkpoint_subtask_add_file(&op->subtasks[f->subtask], &sf);
    }
}

/* The final states of the tasks that finished without taking checkpoint p
 * go into it. A task that took p (acknowledged it) and finished since has
 * its state at p's barrier there already: its final state, past the
 * barrier, must not join it (as in Flink, only tasks finished before the
 * checkpoint contribute their final state). Called with mu held. */
static int write_finals(fl_coordinator *c, pending *p, fl_error *err) {
    if (!p->writer) return 0;
    for (int t = 0; t < c->n_tasks; t++) {
        if (!c->final[t] || p->acked[t]) continue;
        fl_ckpt_files files = {0};
        int rc = fl__task_snapshot_write(c->final[t], p->writer, &files, err);
        if (rc == 0) add_files(p, &files);
        fl__ckpt_files_fini(&files);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Called with c->mu held. */
static void complete(fl_coordinator *c, int i) {
    pending *p = &c->pend[i];
    int64_t id = p->id;
    char sp_dir[1024] = "";
    bool stop = p->stop;
    if (p->writer && p->savepoint)
        snprintf(sp_dir, sizeof sp_dir, "%s", fl_checkpoint_writer_dir(p->writer));
    if (p->writer) {
        fl_error err = {0};
        int rc = write_finals(c, p, &err);
        fl_checkpoint_writer *w = p->writer;
        p->writer = NULL; /* complete takes it, also on failure */
        if (rc == 0) rc = fl_checkpoint_writer_complete(w, p->md, &err);
        else fl_checkpoint_writer_abort(w);
        if (rc < 0) {
            fl_warn("checkpoint", "checkpoint %lld could not be completed: %s", (long long)id,
                    err.message);
            fail_pending(c, i, &err);
            return;
        }
    }
    int64_t took_ms = (fl_clock_monotonic_ns() - p->started_ns) / 1000000;
    c->stats.completed++;
    c->stats.last_completed_id = id;
    if (p->max_align_ns > c->stats.max_alignment_ns) c->stats.max_alignment_ns = p->max_align_ns;
    c->last_completed_ns = fl_clock_monotonic_ns();
    c->failures_in_row = 0;
    fl_info("checkpoint", "completed %s %lld (%lld ms, alignment up to %.3f ms)",
            p->savepoint ? "savepoint" : "checkpoint", (long long)id, (long long)took_ms,
            (double)p->max_align_ns / 1e6);
    if (sp_dir[0]) {
        snprintf(c->stats.savepoint, sizeof c->stats.savepoint, "%s", sp_dir);
        fl_info("checkpoint", "Savepoint completed. Path: %s", sp_dir);
    }
    /* Who took it outlives it: a waiting task that did not holds its final
     * state here (write_finals). */
    bool *acked = p->acked;
    p->acked = NULL;
    drop_pending(c, i);
    /* Older pending checkpoints are subsumed. */
    for (int k = c->n_pend - 1; k >= 0; k--)
        if (c->pend[k].id < id) {
            c->stats.aborted++;
            drop_pending(c, k);
        }
    if (stop) {
        /* Before the tasks hear of it: the last one to end finds the run
         * stopped, and so FINISHED. */
        c->stats.stopped = true;
        c->stop_done = true;
        fl__job_run_stop(c->run);
        stop_ended(c, id, &(fl_error){0}, sp_dir);
    }
    /* The running tasks commit (sinks) and, after a stop, end. A finished
     * task waiting for its last commit commits everything when the
     * checkpoint holds its final state (FL_CHECKPOINT_ID_FINAL), else what
     * it pre-committed up to this one, and waits on. */
    for (int t = 0; t < c->n_tasks; t++) {
        if (c->waiting[t] && !acked[t]) {
            fl__task_post(&c->tasks[t], FL_MAIL_CHECKPOINT_COMPLETE, FL_CHECKPOINT_ID_FINAL);
            c->waiting[t] = false;
        } else if (!c->finished[t] || c->waiting[t]) {
            fl__task_post(&c->tasks[t], FL_MAIL_CHECKPOINT_COMPLETE, id);
        }
    }
    free(acked);
}

static void trigger(fl_coordinator *c);

/* Completes every pending checkpoint all live tasks have acknowledged.
 * Once every task ended and a sink still waits for a checkpoint holding its
 * final state (those that completed held its state at their barriers), one
 * last checkpoint of the final states completes at once. Called with c->mu
 * held. */
static void check_complete(fl_coordinator *c) {
    for (int i = 0; i < c->n_pend; i++) {
        pending *p = &c->pend[i];
        int missing = 0;
        for (int t = 0; t < c->n_tasks; t++)
            if (!p->acked[t] && !c->finished[t]) missing++;
        if (missing == 0) {
            complete(c, i);
            i = -1; /* the array changed */
        }
    }
    bool any_waiting = false;
    for (int k = 0; k < c->n_tasks; k++) any_waiting |= c->waiting[k];
    if (any_waiting && c->n_finished == c->n_tasks && !c->finals_triggered) {
        c->finals_triggered = true;
        trigger(c);
        check_complete(c);
    }
}

/* Task ti acknowledged pending checkpoint p, which may now complete.
 * Called with c->mu held. */
static void acknowledge(fl_coordinator *c, pending *p, int ti, int64_t align_ns) {
    p->acked[ti] = true;
    if (align_ns > p->max_align_ns) p->max_align_ns = align_ns;
    check_complete(c);
}

void fl__coordinator_ack(fl_coordinator *c, fl_task *t, int64_t id, int64_t align_ns) {
    int ti = (int)(t - c->tasks);
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n_pend; i++) {
        if (c->pend[i].id != id || c->pend[i].acked[ti]) continue;
        acknowledge(c, &c->pend[i], ti, align_ns);
        break;
    }
    pthread_mutex_unlock(&c->mu);
}

void fl__coordinator_write_snapshot(fl_coordinator *c, fl_task_snapshot *s) {
    int64_t id = fl__task_snapshot_id(s);
    fl_task *t = fl__task_snapshot_task(s);
    /* Written under the lock: a checkpoint cannot be abandoned (its writer
     * freed) while one of its task snapshots is half written. Only this
     * thread writes; the others wait briefly on acknowledgements. */
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n_pend; i++) {
        pending *p = &c->pend[i];
        if (p->id != id || !p->writer) continue;
        fl_ckpt_files files = {0};
        fl_error err = {0};
        int rc = fl__task_snapshot_write(s, p->writer, &files, &err);
        if (rc < 0) {
            fl_warn("checkpoint", "%s could not write checkpoint %lld: %s", t->name,
                    (long long)id, err.message);
            fl_error_prefix(&err, "%s could not write its state", t->name);
            fail_pending(c, i, &err);
        } else {
            add_files(p, &files);
            int ti = (int)(t - c->tasks);
            if (!p->acked[ti]) acknowledge(c, p, ti, fl__task_snapshot_align(s));
        }
        fl__ckpt_files_fini(&files);
        break;
    }
    pthread_mutex_unlock(&c->mu);
}

void fl__coordinator_task_finished(fl_coordinator *c, fl_task *t) {
    int ti = (int)(t - c->tasks);
    pthread_mutex_lock(&c->mu);
    if (!c->finished[ti]) {
        c->finished[ti] = true;
        c->n_finished++;
        check_complete(c);
    }
    pthread_mutex_unlock(&c->mu);
}

static bool is_source_task(const fl_task *t) { return t->ops[0].ops == &fl__op_source; }

/* Whether every task that feeds t has finished (sources: trivially). Such a
 * task gets the trigger itself: no barrier can reach it any more. */
static bool upstream_finished(const fl_coordinator *c, const fl_task *t) {
    const fl_execution_graph *eg = t->eg;
    const fl_job_graph *jg = eg->job;
    for (int i = 0; i < t->vertex->n_inputs; i++) {
        const fl_job_edge *e = &jg->edges[t->vertex->inputs[i]];
        int P = jg->vertices[e->source_vertex].parallelism, first, count;
        fl_edge_producers(e->partitioner, P, t->parallelism, t->subtask, &first, &count);
        for (int k = first; k < first + count; k++)
            if (!c->finished[eg->first_subtask[e->source_vertex] + k]) return false;
    }
    return true;
}

/* Starts checkpoint or savepoint id = next; a stop is registered before any
 * task hears of it. Returns the id (also when it failed at once: then it is
 * no longer pending). Called with c->mu held. */
static int64_t trigger_kind(fl_coordinator *c, bool savepoint, const char *dir, bool stop,
                            bool drain) {
    int64_t id = ++c->next_id;
    if (stop) {
        pthread_mutex_lock(&c->stops_mu);
        c->stops = fl_xrealloc(c->stops, (size_t)(c->n_stops + 1) * sizeof *c->stops);
        c->stops[c->n_stops++] = (struct stop_request){id, drain};
        pthread_mutex_unlock(&c->stops_mu);
        c->stop_pending = id;
    }
    if (c->n_pend == c->cap_pend) {
        c->cap_pend = c->cap_pend ? c->cap_pend * 2 : 4;
        c->pend = fl_xrealloc(c->pend, (size_t)c->cap_pend * sizeof *c->pend);
    }
    pending *p = &c->pend[c->n_pend++];
    memset(p, 0, sizeof *p);
    p->id = id;
    p->started_ns = fl_clock_monotonic_ns();
    p->acked = fl_xcalloc((size_t)c->n_tasks + 1, sizeof *p->acked);
    if (c->storage) {
        fl_error err = {0};
        p->savepoint = savepoint;
        p->stop = stop;
        p->writer = fl_checkpoint_storage_begin(c->storage, id, savepoint ? FL_SAVEPOINT : FL_CHECKPOINT,
                                                savepoint ? dir : NULL, &err);
        if (!p->writer) {
            fl_warn("checkpoint", "could not start checkpoint %lld: %s", (long long)id,
                    err.message);
            fail_pending(c, c->n_pend - 1, &err);
            return id;
        }
        p->md = fl_checkpoint_metadata_create(id, savepoint ? FL_SAVEPOINT : FL_CHECKPOINT,
                                              c->job_id, c->job_name, fl_clock_wall_ms());
        for (int t = 0; t < c->n_tasks; t++) {
            const fl_task *task = &c->tasks[t];
            for (int k = 0; k < task->n_ops; k++) {
                char *uid = fl_stream_node_state_uid(task->ops[k].node);
                if (!fl_checkpoint_metadata_find(p->md, uid))
                    fl_checkpoint_metadata_add_operator(p->md, uid, task->ops[k].node->name,
                                                        task->parallelism,
                                                        task->ops[k].node->max_parallelism, &err);
                free(uid);
            }
        }
    }
    c->stats.triggered++;
    fl_debug("checkpoint", "triggering %s %lld", stop ? "stop-with-savepoint" : "checkpoint",
             (long long)id);
    for (int t = 0; t < c->n_tasks; t++)
        if (!c->finished[t] && (is_source_task(&c->tasks[t]) || upstream_finished(c, &c->tasks[t])))
            fl__task_post(&c->tasks[t], FL_MAIL_TRIGGER_CHECKPOINT, id);
    pthread_cond_broadcast(&c->cv); /* the coordinator thread watches its timeout */
    return id;
}

static void trigger(fl_coordinator *c) { trigger_kind(c, false, NULL, false, false); }

/* Whether a checkpoint may start: none while a stop-with-savepoint is in
 * flight or after one completed. Called with c->mu held. */
static bool may_trigger(const fl_coordinator *c) {
    return !c->stop_pending && !c->stop_done && c->n_finished < c->n_tasks;
}

/* Triggers savepoint (a stop when stop) unless it cannot start now. Returns
 * its id, or 0 and err. Called with c->mu held. */
static int64_t trigger_savepoint(fl_coordinator *c, const char *dir, bool stop, bool drain,
                                 fl_error *err) {
    if (!c->storage) {
        fl_error_set(err, FL_ECONFIG,
                     "no savepoint: the job keeps no state; set " FL_CONF_SAVEPOINTS_DIR
                     " (or --savepoint-dir DIR)");
        return 0;
    }
    if (c->stop_pending || c->stop_done) {
        fl_error_set(err, FL_ESTATE, "the job is being stopped with a savepoint already");
        return 0;
    }
    if (c->n_finished == c->n_tasks || c->stopping) {
        fl_error_set(err, FL_ESTATE, "the job has ended");
        return 0;
    }
    int64_t id = trigger_kind(c, true, dir, stop, drain);
    if (stop && drain && c->stop_pending == id)
        fl_info("checkpoint",
                "stop-with-savepoint %lld drains: the sources emit the maximum watermark "
                "before its barrier",
                (long long)id);
    check_complete(c);
    return id;
}

void fl__coordinator_savepoint(fl_coordinator *c, const char *dir, bool stop) {
    fl_error err = {0};
    pthread_mutex_lock(&c->mu);
    if (!trigger_savepoint(c, dir, stop, c->settings.savepoint_drain, &err))
        fl_warn("checkpoint", "no savepoint: %s", err.message);
    pthread_mutex_unlock(&c->mu);
}

int fl__coordinator_stop_with_savepoint(fl_coordinator *c, const char *dir, bool drain, char *path,
                                        size_t size, fl_error *err) {
    pthread_mutex_lock(&c->mu);
    int64_t id = trigger_savepoint(c, dir, true, drain, err);
    while (id && c->outcome.id != id && !c->stopping) pthread_cond_wait(&c->cv, &c->mu);
    int rc;
    if (!id) {
        rc = err->code;
    } else if (c->outcome.id != id) {
        rc = fl_error_set(err, FL_ESTATE,
                          "the job ended (failed or was canceled) before its savepoint completed");
    } else if (c->outcome.err.code) {
        rc = fl_error_set(err, c->outcome.err.code, "%s", c->outcome.err.message);
    } else {
        rc = 0;
        if (path && size) snprintf(path, size, "%s", c->outcome.path);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

bool fl__coordinator_is_stop(fl_coordinator *c, int64_t id, bool *drain) {
    bool stop = false;
    pthread_mutex_lock(&c->stops_mu);
    for (int i = c->n_stops - 1; i >= 0 && !stop; i--)
        if (c->stops[i].id == id) {
            stop = true;
            if (drain) *drain = c->stops[i].drain;
        }
    pthread_mutex_unlock(&c->stops_mu);
    return stop;
}

/* --savepoint-at: rows read by all sources, or time since the start. */
static bool savepoint_due(fl_coordinator *c, int64_t now) {
    if (c->savepoint_at_done) return false;
    if (c->settings.savepoint_at_ms > 0)
        return now - c->started_ns >= c->settings.savepoint_at_ms * 1000000LL;
    if (c->settings.savepoint_at_rows <= 0) return false;
    int64_t rows = 0;
    for (int t = 0; t < c->n_tasks; t++)
        rows += atomic_load_explicit(&c->tasks[t].records_emitted, memory_order_relaxed);
    return rows >= c->settings.savepoint_at_rows;
}

/* Aborts checkpoints older than the timeout; returns false when too many
 * failed in a row. Called with c->mu held. */
static bool expire(fl_coordinator *c, int64_t now) {
    for (int i = c->n_pend - 1; i >= 0; i--) {
        if (now - c->pend[i].started_ns < c->settings.timeout_ms * 1000000LL) continue;
        fl_error err = {0};
        fl_error_set(&err, FL_ESTATE, "%s %lld expired before completing (timeout %lld ms)",
                     c->pend[i].savepoint ? "savepoint" : "checkpoint", (long long)c->pend[i].id,
                     (long long)c->settings.timeout_ms);
        fl_warn("checkpoint", "%s", err.message);
        fail_pending(c, i, &err);
    }
    return c->failures_in_row <= c->settings.tolerable_failures;
}

static void *coordinator_main(void *arg) {
    fl_coordinator *c = arg;
    bool periodic = c->settings.interval_ms > 0;
    bool watch = c->settings.savepoint_at_rows > 0 || c->settings.savepoint_at_ms > 0;
    int64_t interval_ns = periodic ? c->settings.interval_ms * 1000000LL : INT64_MAX / 4;
    int64_t next = fl_clock_monotonic_ns() + interval_ns;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        int64_t wake = next;
        if (watch && !c->savepoint_at_done) {
            int64_t poll = fl_clock_monotonic_ns() + 5000000LL;
            if (poll < wake) wake = poll;
        }
        for (int i = 0; i < c->n_pend; i++) {
            int64_t expiry = c->pend[i].started_ns + c->settings.timeout_ms * 1000000LL;
            if (expiry < wake) wake = expiry;
        }
        struct timespec ts = {.tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000};
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (c->stopping) break;
        int64_t now = fl_clock_monotonic_ns();
        if (watch && savepoint_due(c, now) && c->n_finished < c->n_tasks) {
            c->savepoint_at_done = true;
            fl_info("checkpoint", "stopping the job with a savepoint (--savepoint-at)");
            fl_error err = {0};
            if (!trigger_savepoint(c, c->settings.savepoint_dir, true, c->settings.savepoint_drain,
                                   &err))
                fl_warn("checkpoint", "no savepoint: %s", err.message);
        }
        if (!expire(c, now)) {
            pthread_mutex_unlock(&c->mu);
            fl__job_run_fail(c->run, FL_ESTATE,
                             "exceeded checkpoint tolerable failure threshold (%d failed in a row)",
                             c->failures_in_row);
            pthread_mutex_lock(&c->mu);
            break;
        }
        if (!periodic || now < next) continue;
        next = now + interval_ns;
        bool paused = c->last_completed_ns &&
                      now - c->last_completed_ns < c->settings.min_pause_ms * 1000000LL;
        if (c->n_pend < c->settings.max_concurrent && !paused && may_trigger(c)) trigger(c);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

void fl__coordinator_start(fl_coordinator *c) {
    c->started_ns = fl_clock_monotonic_ns();
    /* With storage, savepoints can be asked for: their timeout is watched. */
    if (c->settings.interval_ms <= 0 && c->settings.savepoint_at_rows <= 0 &&
        c->settings.savepoint_at_ms <= 0 && !c->storage)
        return;
    c->started = pthread_create(&c->thread, NULL, coordinator_main, c) == 0;
}

void fl__coordinator_stop(fl_coordinator *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->started) pthread_join(c->thread, NULL);
    c->started = false;
}

void fl__coordinator_task_final(fl_coordinator *c, fl_task *t, fl_task_snapshot *final,
                                bool waits) {
    int ti = (int)(t - c->tasks);
    pthread_mutex_lock(&c->mu);
    fl__task_snapshot_free(c->final[ti]);
    c->final[ti] = final;
    c->waiting[ti] = waits;
    if (!c->finished[ti]) {
        c->finished[ti] = true;
        c->n_finished++;
    }
    check_complete(c);
    pthread_mutex_unlock(&c->mu);
}

void fl__coordinator_trigger_now(fl_coordinator *c) {
    pthread_mutex_lock(&c->mu);
    if (may_trigger(c)) trigger(c);
    pthread_mutex_unlock(&c->mu);
}

fl_checkpoint_stats fl__coordinator_stats(fl_coordinator *c) {
    pthread_mutex_lock(&c->mu);
    fl_checkpoint_stats s = c->stats;
    pthread_mutex_unlock(&c->mu);
    return s;
}

void fl__coordinator_destroy(fl_coordinator *c) {
    if (!c) return;
    fl__coordinator_stop(c);
    while (c->n_pend > 0) drop_pending(c, c->n_pend - 1);
    free(c->pend);
    free(c->finished);
    for (int t = 0; t < c->n_tasks; t++) fl__task_snapshot_free(c->final[t]);
    free(c->final);
    free(c->waiting);
    free(c->stops);
    pthread_mutex_destroy(&c->stops_mu);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
