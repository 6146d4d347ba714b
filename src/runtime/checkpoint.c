/*
 * checkpoint.c - a task's side of a checkpoint (asynchronous barrier
 * snapshots): when a source task is told to, or when a task's inputs have all
 * delivered the barrier of a checkpoint (aligned for exactly-once, counted for
 * at-least-once; see task.c), it snapshots its operator chain, forwards the
 * barrier on every output and acknowledges to the coordinator. Barriers
 * travel in-band: everything before them is in the snapshot, nothing after.
 *
 * A stop-with-savepoint is always aligned, also in unaligned mode (its
 * barrier goes in-band, so no in-flight data is processed after a snapshot),
 * and synchronous: after its snapshot a task waits until the savepoint
 * completed (the task then ends) or failed (it goes on), so nothing is
 * emitted that the savepoint does not already account for. With drain a
 * source first emits the maximum watermark.
 */
#include <stdlib.h>

#include "element.h"
#include "log.h"
#include "runtime_int.h"

/* Lets the chain's operators emit what must precede the barrier (in chain
 * order, so what one emits reaches the operators after it first), then
 * runs the user snapshot hooks. */
static int snapshot_chain(fl_task *t, int64_t id) {
    for (int i = 0; i < t->n_ops; i++) {
        fl_operator *op = &t->ops[i];
        if (!op->ops->prepare_snapshot) continue;
        int rc = op->ops->prepare_snapshot(op, id, &t->error);
        if (rc == 0) rc = fl__op_flush(op);
        if (rc < 0) return rc;
    }
    for (int i = 0; i < t->n_ops; i++) {
        fl_operator *op = &t->ops[i];
        fl_snapshot_fn fn = (fl_snapshot_fn)fl__op_fn(op, "snapshot");
        if (!fn) continue;
        int rc = fn(&op->ctx, id);
        if (rc < 0 || op->ctx.failure) return fl__user_failure(op, "snapshot function", rc, &t->error);
    }
    return 0;
}

int fl__task_checkpoint_begin(fl_task *t, int64_t id, fl_task_snapshot **out) {
    *out = NULL;
    int rc = snapshot_chain(t, id);
    if (rc == 0) rc = fl__task_maybe_fail(t, FL_INJECT_SNAPSHOT);
    if (rc < 0) return rc;
    /* The synchronous part: views of the state, serialized small parts;
     * the writer thread writes them out and acknowledges. */
    if (fl__job_run_snapshot_writer(t->run)) {
        *out = fl__task_snapshot_take(t, id, false, &t->error);
        if (!*out) return t->error.code ? t->error.code : FL_ESTATE;
    }
    return 0;
}

int fl__task_checkpoint_submit(fl_task *t, fl_task_snapshot *snap, int64_t id, int64_t align_ns) {
    if (align_ns > 0)
        fl_debug("checkpoint", "%s aligned checkpoint %lld in %.3f ms", t->name, (long long)id,
                 (double)align_ns / 1e6);
    if (snap) {
        fl__task_snapshot_set_align(snap, align_ns);
        fl__snapshot_writer_submit(fl__job_run_snapshot_writer(t->run), snap);
    } else {
        fl__job_run_ack(t->run, t, id, align_ns);
    }
    return 0;
}

bool fl__task_is_stop(const fl_task *t, int64_t id, bool *drain) {
    fl_coordinator *c = fl__job_run_coordinator(t->run);
    return c && fl__coordinator_is_stop(c, id, drain);
}

int fl__task_checkpoint(fl_task *t, int64_t id, int64_t align_ns) {
    t->last_checkpoint = id;
    bool drain = false, stop = fl__task_is_stop(t, id, &drain);
    int rc = 0;
    /* Drained: event time ends before the savepoint, so every window and
     * event-time timer fires into it (a source's chain passes it on). */
    if (stop && drain && t->ops[0].ops == &fl__op_source)
        rc = fl__op_watermark(&t->ops[0], INT64_MAX);
    fl_task_snapshot *snap = NULL;
    if (rc == 0) rc = fl__task_checkpoint_begin(t, id, &snap);
    if (rc == 0 && t->settings->unaligned && !stop) {
        rc = fl__unaligned_forward_barrier(t, id);
    } else {
        for (int w = 0; rc == 0 && w < t->n_writers; w++) {
            rc = fl__writer_broadcast_control(&t->writers[w], FL_EL_BARRIER, id, &t->error);
            if (rc == 0) rc = fl__writer_flush(&t->writers[w], &t->error);
        }
    }
    if (rc < 0) {
        fl__task_snapshot_free(snap);
        return rc;
    }
    rc = fl__task_checkpoint_submit(t, snap, id, align_ns);
    if (rc == 0 && stop) rc = fl__task_await_stop(t, id);
    return rc;
}

void fl__task_checkpoint_complete(fl_task *t, int64_t id) {
    for (int i = 0; i < t->n_ops; i++) {
        fl_operator *op = &t->ops[i];
        if (fl__sink_is_transactional(op) && fl__sink_commit(op, id, &t->error) < 0)
            fl_errlog("checkpoint", "%s could not commit checkpoint %lld: %s", t->name,
                      (long long)id, t->error.message);
        fl_checkpoint_complete_fn fn =
            (fl_checkpoint_complete_fn)fl__op_fn(op, "checkpoint_complete");
        if (fn) fn(&op->ctx, id);
    }
}

bool fl__task_has_transactional_sink(const fl_task *t) {
    for (int i = 0; i < t->n_ops; i++)
        if (fl__sink_is_transactional(&t->ops[i])) return true;
    return false;
}

/* The end of a task's input: its final state joins every later checkpoint;
 * a two-phase-commit sink then waits for one to complete before committing
 * its last transaction (without checkpointing it commits at once). */
int fl__task_finish(fl_task *t) {
    bool txn = fl__task_has_transactional_sink(t);
    fl_coordinator *c = fl__job_run_coordinator(t->run);
    if (!t->settings->checkpoint_mode || !c) {
        for (int i = 0; txn && i < t->n_ops; i++) {
            fl_operator *op = &t->ops[i];
            if (!fl__sink_is_transactional(op)) continue;
            fl_split_list *l = fl_split_list_create();
            int rc = fl__sink_pre_commit(op, FL_CHECKPOINT_ID_FINAL, l, &t->error);
            fl_split_list_destroy(l);
            if (rc == 0) rc = fl__sink_commit(op, FL_CHECKPOINT_ID_FINAL, &t->error);
            if (rc < 0) return rc;
        }
        return 0;
    }
    /* The user's snapshot functions see the final state too (operator
     * state kept up to date only there, as Flink's snapshotState usually
     * does). */
    int rc = snapshot_chain(t, FL_CHECKPOINT_ID_FINAL);
    if (rc < 0) return rc;
    /* The checkpoints this task took are acknowledged first: one that
     * completes once the task counts as finished must hold the state at
     * its barrier, not the final state (the coordinator adds final states
     * only to checkpoints a task did not acknowledge). */
    fl__task_await_snapshots(t);
    fl_task_snapshot *final = fl__task_snapshot_take(t, FL_CHECKPOINT_ID_FINAL, true, &t->error);
    if (!final) return t->error.code ? t->error.code : FL_ESTATE;
    fl__coordinator_task_final(c, t, final, txn);
    if (!txn) return 0;
    return fl__task_await_final_commit(t);
}
