/*
 * coordinator.c - the checkpoint coordinator of a job run (Flink's
 * CheckpointCoordinator): triggers numbered checkpoints at the sources every
 * execution.checkpointing.interval, collects every task's acknowledgement,
 * completes a checkpoint when all tasks acknowledged it, tells the tasks (so
 * two-phase-commit sinks commit), and aborts checkpoints that time out.
 *
 * A task that has finished acknowledges every later checkpoint implicitly:
 * its state no longer changes. Too many failed checkpoints in a row
 * (execution.checkpointing.tolerable-failed-checkpoints) fail the job.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "mem.h"
#include "runtime_int.h"

typedef struct pending {
    int64_t id;
    int64_t started_ns;
    int64_t max_align_ns;
    bool *acked; /* per task */
    int n_acked;
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
    pending *pend;
    int n_pend, cap_pend;
    int64_t next_id;
    int64_t last_completed_ns;
    int failures_in_row;
    fl_checkpoint_stats stats;
};

fl_coordinator *fl__coordinator_create(fl_job_run *r, fl_task *tasks, int n_tasks,
                                       const fl_checkpoint_settings *s) {
    fl_coordinator *c = fl_xcalloc(1, sizeof *c);
    c->run = r;
    c->tasks = tasks;
    c->n_tasks = n_tasks;
    c->settings = *s;
    c->finished = fl_xcalloc((size_t)n_tasks + 1, sizeof *c->finished);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    return c;
}

static void drop_pending(fl_coordinator *c, int i) {
    free(c->pend[i].acked);
    c->pend[i] = c->pend[--c->n_pend];
}

/* Called with c->mu held. */
static void complete(fl_coordinator *c, int i) {
    pending *p = &c->pend[i];
    int64_t id = p->id;
    int64_t took_ms = (fl_clock_monotonic_ns() - p->started_ns) / 1000000;
    c->stats.completed++;
    c->stats.last_completed_id = id;
    if (p->max_align_ns > c->stats.max_alignment_ns) c->stats.max_alignment_ns = p->max_align_ns;
    c->last_completed_ns = fl_clock_monotonic_ns();
    c->failures_in_row = 0;
    fl_info("checkpoint", "completed checkpoint %lld (%lld ms, alignment up to %.3f ms)",
            (long long)id, (long long)took_ms, (double)p->max_align_ns / 1e6);
    drop_pending(c, i);
    /* Older pending checkpoints are subsumed. */
    for (int k = c->n_pend - 1; k >= 0; k--)
        if (c->pend[k].id < id) {
            c->stats.aborted++;
            drop_pending(c, k);
        }
    for (int t = 0; t < c->n_tasks; t++)
        if (!c->finished[t]) fl__task_post(&c->tasks[t], FL_MAIL_CHECKPOINT_COMPLETE, id);
}

/* Completes every pending checkpoint all live tasks have acknowledged.
 * Called with c->mu held. */
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
}

void fl__coordinator_ack(fl_coordinator *c, fl_task *t, int64_t id, int64_t align_ns) {
    int ti = (int)(t - c->tasks);
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n_pend; i++) {
        pending *p = &c->pend[i];
        if (p->id != id || p->acked[ti]) continue;
        p->acked[ti] = true;
        p->n_acked++;
        if (align_ns > p->max_align_ns) p->max_align_ns = align_ns;
        check_complete(c);
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

/* Called with c->mu held. */
static void trigger(fl_coordinator *c) {
    int64_t id = ++c->next_id;
    if (c->n_pend == c->cap_pend) {
        c->cap_pend = c->cap_pend ? c->cap_pend * 2 : 4;
        c->pend = fl_xrealloc(c->pend, (size_t)c->cap_pend * sizeof *c->pend);
    }
    pending *p = &c->pend[c->n_pend++];
    memset(p, 0, sizeof *p);
    p->id = id;
    p->started_ns = fl_clock_monotonic_ns();
    p->acked = fl_xcalloc((size_t)c->n_tasks + 1, sizeof *p->acked);
    c->stats.triggered++;
    fl_debug("checkpoint", "triggering checkpoint %lld", (long long)id);
    for (int t = 0; t < c->n_tasks; t++)
        if (!c->finished[t] && is_source_task(&c->tasks[t]))
            fl__task_post(&c->tasks[t], FL_MAIL_TRIGGER_CHECKPOINT, id);
}

/* Aborts checkpoints older than the timeout; returns false when too many
 * failed in a row. Called with c->mu held. */
static bool expire(fl_coordinator *c, int64_t now) {
    for (int i = c->n_pend - 1; i >= 0; i--) {
        if (now - c->pend[i].started_ns < c->settings.timeout_ms * 1000000LL) continue;
        fl_warn("checkpoint", "checkpoint %lld expired before completing (timeout %lld ms)",
                (long long)c->pend[i].id, (long long)c->settings.timeout_ms);
        int64_t id = c->pend[i].id;
        drop_pending(c, i);
        c->stats.aborted++;
        c->failures_in_row++;
        for (int t = 0; t < c->n_tasks; t++)
            if (!c->finished[t]) fl__task_post(&c->tasks[t], FL_MAIL_CHECKPOINT_ABORTED, id);
    }
    return c->failures_in_row <= c->settings.tolerable_failures;
}

static void *coordinator_main(void *arg) {
    fl_coordinator *c = arg;
    int64_t interval_ns = c->settings.interval_ms * 1000000LL;
    int64_t next = fl_clock_monotonic_ns() + interval_ns;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (c->stopping) break;
        int64_t now = fl_clock_monotonic_ns();
        if (!expire(c, now)) {
            pthread_mutex_unlock(&c->mu);
            fl__job_run_fail(c->run, FL_ESTATE,
                             "exceeded checkpoint tolerable failure threshold (%d failed in a row)",
                             c->failures_in_row);
            pthread_mutex_lock(&c->mu);
            break;
        }
        if (now < next) continue;
        next = now + interval_ns;
        bool paused = c->last_completed_ns &&
                      now - c->last_completed_ns < c->settings.min_pause_ms * 1000000LL;
        if (c->n_pend < c->settings.max_concurrent && !paused &&
            c->n_finished < c->n_tasks)
            trigger(c);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

void fl__coordinator_start(fl_coordinator *c) {
    if (c->settings.interval_ms <= 0) return;
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

void fl__coordinator_trigger_now(fl_coordinator *c) {
    pthread_mutex_lock(&c->mu);
    if (c->n_finished < c->n_tasks) trigger(c);
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
    for (int i = 0; i < c->n_pend; i++) free(c->pend[i].acked);
    free(c->pend);
    free(c->finished);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
