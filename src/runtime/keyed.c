/*
 * keyed.c - what keyed operators share: the key of the record being
 * processed, the subtask's keyed state backend over its key-group range, and
 * timers fired as the watermark and the clock advance.
 *
 * Event-time timers fire, in time order, when a watermark reaches the
 * operator, before the watermark is passed on, so results of the timers
 * precede it downstream. Processing-time timers fire from the task's
 * processing-time service; the operator asks for one callback at the earliest
 * pending timer. At close, the bytes of state still held are added to a
 * process-wide gauge by operator name, so tests can check state was freed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "key.h"
#include "keyed_state.h"
#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"

int64_t fl__state_clock(void *task) { return fl__task_now_ms(task); }

/* The backend over this subtask's key groups, holding their state from the
 * checkpoint or savepoint the job restores, if any. Restored processing-time
 * timers are scheduled at once, as Flink's restore re-registers them: they
 * fire when their time comes (on the first turn of the task's loop if it
 * has passed), not only once a new timer is registered. Restored event-time
 * timers need nothing: the next watermark that passes them fires them. */
static int open_backend(fl_operator *op, fl_keyed_op *k, fl_error *err) {
    const fl_stream_node *n = op->node;
    op->keyed = k;
    k->scheduled = INT64_MAX;
    k->firing_domain = -1;
    int first, last;
    fl_key_group_range(op->task->subtask, n->max_parallelism, op->task->parallelism, &first, &last);
    k->backend =
        fl_keyed_backend_create(first, last, n->max_parallelism, fl__state_clock, op->task);
    if (!k->backend)
        return fl_error_set(err, FL_EINVAL, "\"%s\": bad max parallelism %d", n->name,
                            n->max_parallelism);
    int rc = fl__restore_keyed(op, k->backend, err);
    if (rc == 0) fl__keyed_schedule(op);
    return rc;
}

int fl__keyed_open(fl_operator *op, fl_keyed_op *k, fl_error *err) {
    const fl_stream_node *n = op->node;
    if (!n->key) return fl_error_set(err, FL_EINVAL, "\"%s\" needs a keyed input", n->name);
    fl__key_extractor_init(&k->key[0], n->key, op->key_selector, &op->ctx);
    if (n->key2) {
        void *sel2 = n->key2->selector ? fl__op_fn(op, "key_selector2") : NULL;
        fl__key_extractor_init(&k->key[1], n->key2, sel2, &op->ctx);
    }
    return open_backend(op, k, err);
}

int fl__keyed_open_unkeyed(fl_operator *op, fl_keyed_op *k, fl_error *err) {
    static const uint8_t empty_key[FL_ROW_HEADER] = {FL_ROW_HEADER, 0, 0, 0, 0, 0, 0, 0};
    /* Its one subtask owns every key group, the constant key's among them,
     * and a restore (from the one old subtask) takes them all. */
    if (op->task->parallelism != 1)
        return fl_error_set(err, FL_EINVAL,
                            "\"%s\" is not keyed: its parallelism must be 1, not %d",
                            op->node->name, op->task->parallelism);
    k->key[0].ctx = &op->ctx; /* names the operator in the state gauge at close */
    int rc = open_backend(op, k, err);
    if (rc < 0) return rc;
    fl_keyed_backend_set_key(k->backend, empty_key, sizeof empty_key,
                             fl_hash_bytes(empty_key + FL_ROW_HEADER, 0));
    return 0;
}

/* The gauge behind fl__keyed_state_bytes_at_close: a small table by
 * operator name (the oldest entry is reused when it is full). */
enum { GAUGE_ENTRIES = 128, GAUGE_NAME = 128 };
static struct {
    char name[GAUGE_NAME];
    int64_t bytes;
} gauge[GAUGE_ENTRIES];
static int gauge_used, gauge_next;
static pthread_mutex_t gauge_mu = PTHREAD_MUTEX_INITIALIZER;

static void gauge_add(const char *name, int64_t bytes) {
    pthread_mutex_lock(&gauge_mu);
    int i = 0;
    while (i < gauge_used && strncmp(gauge[i].name, name, GAUGE_NAME - 1) != 0) i++;
    if (i == gauge_used) {
        i = gauge_next;
        gauge_next = (gauge_next + 1) % GAUGE_ENTRIES;
        if (gauge_used < GAUGE_ENTRIES) gauge_used++;
        snprintf(gauge[i].name, GAUGE_NAME, "%s", name);
        gauge[i].bytes = 0;
    }
    gauge[i].bytes += bytes;
    pthread_mutex_unlock(&gauge_mu);
}

int64_t fl__keyed_state_bytes_at_close(const char *operator_name) {
    int64_t bytes = -1;
    pthread_mutex_lock(&gauge_mu);
    for (int i = 0; i < gauge_used; i++)
        if (strncmp(gauge[i].name, operator_name, GAUGE_NAME - 1) == 0) bytes = gauge[i].bytes;
    pthread_mutex_unlock(&gauge_mu);
    return bytes;
}

void fl__keyed_close(fl_keyed_op *k) {
    const fl_context *ctx = k->key[0].ctx;
    if (k->backend && ctx && ctx->op)
        gauge_add(ctx->op->node->name, (int64_t)fl_keyed_backend_bytes(k->backend));
    fl__user_states_free(&k->states);
    fl__key_extractor_fini(&k->key[0]);
    fl__key_extractor_fini(&k->key[1]);
    fl_keyed_backend_destroy(k->backend);
    k->backend = NULL;
}

/* After a key was set: rejects one outside the subtask's key groups. */
static int check_key_group(fl_operator *op, fl_error *err) {
    if (fl_keyed_backend_key_group(op->keyed->backend) >= 0) return 0;
    return fl_error_set(err, FL_ESTATE,
                        "\"%s\": a row's key belongs to another subtask's key groups; is the "
                        "key selector deterministic?",
                        op->node->name);
}

int fl__keyed_set_key(fl_operator *op, int input, const fl_row *row, fl_error *err) {
    fl_keyed_op *k = op->keyed;
    fl_key_extractor *kx = &k->key[input == 1 && k->key[1].builder ? 1 : 0];
    uint64_t hash;
    const fl_row *key = fl__key_extract(kx, row, &hash, op, err);
    if (!key) return FL_EUSER;
    fl_keyed_backend_set_key(k->backend, key, fl__row_len(key), hash);
    return check_key_group(op, err);
}

int fl__keyed_set_key_at(fl_operator *op, int input, const fl_row *row, const fl_batch_keys *keys,
                         uint32_t i, fl_error *err) {
    if (!keys) return fl__keyed_set_key(op, input, row, err);
    fl_keyed_backend_set_key(op->keyed->backend, fl__batch_key(keys, i), keys->len[i],
                             keys->hash[i]);
    return check_key_group(op, err);
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

void fl__keyed_timer(fl_operator *op, int domain, int64_t time, const void *ns, uint32_t ns_len,
                     bool add) {
    fl_keyed_backend *b = op->keyed->backend;
    fl_time_domain d = (fl_time_domain)domain;
    if (!add) {
        fl_timer_delete(b, d, time, ns, ns_len);
        return;
    }
    fl_timer_register(b, d, time, ns, ns_len);
    if (d == FL_PROCESSING_TIME) fl__keyed_schedule(op);
}

int fl__keyed_process_on_timer(fl_operator *op, int domain, const void *ns, uint32_t ns_len,
                               int64_t time, fl_error *err) {
    fl_keyed_process_op *p = op->impl;
    return fl__collector_run_timer(op, p->out, p->on_timer, time, err);
}

int fl__keyed_processing_time(fl_operator *op, int64_t now, fl_error *err) {
    fl_keyed_op *k = op->keyed;
    if (k->scheduled <= now) k->scheduled = INT64_MAX;
    int rc = fire(op, FL_PROCESSING_TIME, now, err);
    fl__keyed_schedule(op);
    return rc;
}
