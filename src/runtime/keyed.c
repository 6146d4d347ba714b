/*
 * keyed.c - what keyed operators share: the key of the record being
 * processed, the subtask's keyed state backend over its key-group range, and
 * timers fired as the watermark and the clock advance.
 *
 * Event-time timers fire, in time order, when a watermark reaches the
 * operator, before the watermark is passed on, so results of the timers
 * precede it downstream. Processing-time timers fire from the task's
 * processing-time service; the operator asks for one callback at the earliest
 * pending timer.
 */
#include <stdlib.h>

#include "hash.h"
#include "keyed_state.h"
#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"

static int64_t state_clock(void *arg) { return fl__task_now_ms(arg); }

int fl__keyed_open(fl_operator *op, fl_keyed_op *k, fl_error *err) {
    const fl_stream_node *n = op->node;
    op->keyed = k;
    k->scheduled = INT64_MAX;
    k->firing_domain = -1;
    if (!n->key)
        return fl_error_set(err, FL_EINVAL, "\"%s\" needs a keyed input", n->name);
    fl__key_extractor_init(&k->key[0], n->key, op->key_selector, &op->ctx);
    if (n->key2) {
        void *sel2 = n->key2->selector ? fl__op_fn(op, "key_selector2") : NULL;
        fl__key_extractor_init(&k->key[1], n->key2, sel2, &op->ctx);
    }
    int first, last;
    fl_key_group_range(op->task->subtask, n->max_parallelism, op->task->parallelism, &first, &last);
    k->backend = fl_keyed_backend_create(first, last, n->max_parallelism, state_clock, op->task);
    return 0;
}

void fl__keyed_close(fl_keyed_op *k) {
    fl__user_states_free(&k->states);
    fl__key_extractor_fini(&k->key[0]);
    fl__key_extractor_fini(&k->key[1]);
    fl_keyed_backend_destroy(k->backend);
    k->backend = NULL;
}

int fl__keyed_set_key(fl_operator *op, int input, const fl_row *row, fl_error *err) {
    fl_keyed_op *k = op->keyed;
    fl_key_extractor *kx = &k->key[input == 1 && k->key[1].builder ? 1 : 0];
    uint64_t hash;
    const fl_row *key = fl__key_extract(kx, row, &hash, op, err);
    if (!key) return FL_EUSER;
    fl_keyed_backend_set_key(k->backend, key, fl__row_len(key), hash);
    return 0;
}

static int fire(fl_operator *op, fl_time_domain d, int64_t upto, fl_error *err) {
    fl_keyed_op *k = op->keyed;
    fl_timer t;
    k->firing_domain = d;
    int rc = 0;
    while (rc == 0 && fl_timer_pop(k->backend, d, upto, &t))
        rc = k->on_timer(op, d, t.ns, t.ns_len, t.time, err);
    k->firing_domain = -1;
    return rc;
}

int fl__keyed_watermark(fl_operator *op, int64_t wm, fl_error *err) {
    int rc = fire(op, FL_EVENT_TIME, wm, err);
    if (rc == 0) rc = fl__op_forward_watermark(op, wm);
    return rc;
}

void fl__keyed_schedule(fl_operator *op) {
    fl_keyed_op *k = op->keyed;
    int64_t next = fl_timer_next(k->backend, FL_PROCESSING_TIME);
    if (next < k->scheduled) {
        k->scheduled = next;
        fl__task_schedule(op->task, op, next);
    }
}

int fl__keyed_processing_time(fl_operator *op, int64_t now, fl_error *err) {
    fl_keyed_op *k = op->keyed;
    if (k->scheduled <= now) k->scheduled = INT64_MAX;
    int rc = fire(op, FL_PROCESSING_TIME, now, err);
    fl__keyed_schedule(op);
    return rc;
}
