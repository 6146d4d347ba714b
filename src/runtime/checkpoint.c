/*
 * checkpoint.c - a task's side of a checkpoint (asynchronous barrier
 * snapshots): when a source task is told to, or when a task's inputs have all
 * delivered the barrier of a checkpoint (aligned for exactly-once, counted for
 * at-least-once; see task.c), it snapshots its operator chain, forwards the
 * barrier on every output and acknowledges to the coordinator. Barriers
 * travel in-band: everything before them is in the snapshot, nothing after.
 */
#include "element.h"
#include "log.h"
#include "runtime_int.h"

/* Runs the user snapshot hooks of the chain. */
static int snapshot_chain(fl_task *t, int64_t id) {
    for (int i = 0; i < t->n_ops; i++) {
        fl_operator *op = &t->ops[i];
        fl_snapshot_fn fn = (fl_snapshot_fn)fl__op_fn(op, "snapshot");
        if (!fn) continue;
        int rc = fn(&op->ctx, id);
        if (rc < 0 || op->ctx.failure) return fl__user_failure(op, "snapshot function", rc, &t->error);
    }
    return 0;
}

void fl__task_checkpoint_complete(fl_task *t, int64_t id) {
    for (int i = 0; i < t->n_ops; i++) {
        fl_operator *op = &t->ops[i];
        fl_checkpoint_complete_fn fn = (fl_checkpoint_complete_fn)fl__op_fn(op, "checkpoint_complete");
        if (fn) fn(&op->ctx, id);
    }
}

int fl__task_checkpoint(fl_task *t, int64_t id, int64_t align_ns) {
    t->last_checkpoint = id;
    int src = snapshot_chain(t, id);
    if (src == 0) src = fl__task_maybe_fail(t, FL_INJECT_SNAPSHOT);
    if (src < 0) return src;
    for (int w = 0; w < t->n_writers; w++) {
        int rc = fl__writer_broadcast_control(&t->writers[w], FL_EL_BARRIER, id, &t->error);
        if (rc == 0) rc = fl__writer_flush(&t->writers[w], &t->error);
        if (rc < 0) return rc;
    }
    if (align_ns > 0)
        fl_debug("checkpoint", "%s aligned checkpoint %lld in %.3f ms", t->name, (long long)id,
                 (double)align_ns / 1e6);
    fl__job_run_ack(t->run, t, id, align_ns);
    return 0;
}
