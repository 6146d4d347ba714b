/*
 * snapshot.c - what a task's operators put into a checkpoint, how it gets
 * written without holding up processing, and how a restarted task takes it
 * back.
 *
 * At a barrier each operator of the chain contributes parts, keyed by its
 * uid (the node's uid, else "node-<id>"):
 *   keyed     its keyed state backend: a copy-on-write view taken now, written
 *             later by the snapshot writer thread while the task goes on;
 *   broadcast a broadcast-process operator's broadcast state (the backend
 *             it owns), taken the same way: every subtask writes its copy;
 *   operator  its operator list states (small, serialized now);
 *   source    a rewindable source's splits (taken between reads);
 *   sink-transactions  a two-phase-commit sink's pending transactions.
 * The writer thread puts every part into a state file of the checkpoint and
 * acknowledges the task's checkpoint to the coordinator with the files.
 *
 * On restore, a task reads the parts of its operator's uid from the restored
 * checkpoint: keyed state from every old subtask whose key-group range
 * overlaps its own (rescaling), broadcast state from one old subtask (this
 * index modulo the old parallelism: the copies are equal), operator lists
 * split evenly or given whole (union), source splits split evenly, and sink
 * transactions in union.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "keyed_state.h"
#include "log.h"
#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"
#include "storage.h"

/* ---- byte encoding of parts ------------------------------------------------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        b->p = fl_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }

static int bytes_sink(void *arg, const void *p, size_t n) {
    put(arg, p, n);
    return 0;
}

typedef struct reader {
    const uint8_t *p, *end;
    bool bad;
} reader;

static bool get(reader *r, void *out, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) return !(r->bad = true);
    memcpy(out, r->p, n);
    r->p += n;
    return true;
}
static uint32_t get_u32(reader *r) {
    uint32_t v = 0;
    get(r, &v, 4);
    return v;
}
static const uint8_t *get_ref(reader *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

/* splits: u32 count, then (u32 length, bytes) each */
static void encode_splits(bytes *b, const fl_split_list *l) {
    size_t n = fl_split_list_count(l);
    put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        fl_split s = fl_split_list_get(l, i);
        put_u32(b, (uint32_t)s.len);
        put(b, s.data, s.len);
    }
}

/* Appends the splits of one part to out (copies). */
static int decode_splits(const void *data, size_t len, fl_split_list *out) {
    reader r = {data, (const uint8_t *)data + len, false};
    uint32_t n = get_u32(&r);
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        uint32_t l = get_u32(&r);
        const uint8_t *p = get_ref(&r, l);
        if (p) fl_split_list_add(out, p, l);
    }
    return r.bad ? FL_EFORMAT : 0;
}

/* ---- parts of a task's checkpoint ------------------------------------------------------------ */

typedef struct part {
    char *uid;
    const char *role;
    bytes data;               /* serialized now ... */
    fl_keyed_snapshot *keyed; /* ... or a view written later */
} part;

struct fl_task_snapshot {
    fl_task *task;
    int64_t id;
    int64_t align_ns;
    int n_parts, cap_parts;
    part *parts;
    struct fl_task_snapshot *next; /* writer queue */
};

int64_t fl__task_snapshot_id(const fl_task_snapshot *s) { return s->id; }
fl_task *fl__task_snapshot_task(const fl_task_snapshot *s) { return s->task; }
void fl__task_snapshot_set_align(fl_task_snapshot *s, int64_t align_ns) { s->align_ns = align_ns; }
int64_t fl__task_snapshot_align(const fl_task_snapshot *s) { return s->align_ns; }

void fl__ckpt_files_fini(fl_ckpt_files *f) {
    for (int i = 0; i < f->n; i++) {
        free(f->items[i].uid);
        free(f->items[i].path);
        free(f->items[i].role);
    }
    free(f->items);
    memset(f, 0, sizeof *f);
}

static void files_add(fl_ckpt_files *f, const char *uid, int subtask, const fl_state_file *sf) {
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->items = fl_xrealloc(f->items, (size_t)f->cap * sizeof *f->items);
    }
    struct fl_ckpt_file *it = &f->items[f->n++];
    it->uid = fl_xstrdup(uid);
    it->subtask = subtask;
    it->path = fl_xstrdup(sf->path);
    it->role = fl_xstrdup(sf->role);
    it->size = sf->size;
    it->checksum = sf->checksum;
}

static part *add_part(fl_task_snapshot *s, const fl_operator *op, const char *role) {
    if (s->n_parts == s->cap_parts) {
        s->cap_parts = s->cap_parts ? s->cap_parts * 2 : 4;
        s->parts = fl_xrealloc(s->parts, (size_t)s->cap_parts * sizeof *s->parts);
    }
    part *p = &s->parts[s->n_parts++];
    memset(p, 0, sizeof *p);
    p->uid = fl_stream_node_state_uid(op->node);
    p->role = role;
    return p;
}

void fl__task_snapshot_add_bytes(fl_task_snapshot *s, const fl_operator *op, const char *role,
                                 const void *data, size_t len) {
    part *p = add_part(s, op, role);
    put(&p->data, data, len);
}

void fl__task_snapshot_free(fl_task_snapshot *s) {
    if (!s) return;
    for (int i = 0; i < s->n_parts; i++) {
        free(s->parts[i].uid);
        free(s->parts[i].data.p);
        if (s->parts[i].keyed) fl_keyed_snapshot_release(s->parts[i].keyed);
    }
    free(s->parts);
    free(s);
}

/* A part holding a view of backend b, written later by the snapshot writer;
 * sync (final states): written into memory at once. */
static int add_backend_part(fl_task_snapshot *s, const fl_operator *op, const char *role,
                            fl_keyed_backend *b, bool sync, fl_error *err) {
    part *p = add_part(s, op, role);
    p->keyed = fl_keyed_backend_snapshot(b);
    if (!sync) return 0;
    int rc = fl_keyed_snapshot_write(p->keyed, bytes_sink, &p->data, err);
    fl_keyed_snapshot_release(p->keyed);
    p->keyed = NULL;
    return rc < 0 ? rc : 0;
}

fl_task_snapshot *fl__task_snapshot_take(fl_task *t, int64_t id, bool sync, fl_error *err) {
    fl_task_snapshot *s = fl_xcalloc(1, sizeof *s);
    s->task = t;
    s->id = id;
    for (int i = 0; i < t->n_ops; i++) {
        fl_operator *op = &t->ops[i];
        if (op->keyed && op->keyed->backend &&
            add_backend_part(s, op, FL_STATE_ROLE_KEYED, op->keyed->backend, sync, err) < 0)
            goto fail;
        if (op->broadcast_state && add_backend_part(s, op, FL_STATE_ROLE_BROADCAST,
                                                    op->broadcast_state, sync, err) < 0)
            goto fail;
        if (op->op_states) {
            part *p = add_part(s, op, FL_STATE_ROLE_OPERATOR);
            fl__op_states_encode(op, &p->data.p, &p->data.n);
        }
        if (op->ops == &fl__op_source && fl__source_can_rewind(op)) {
            fl_split_list *l = fl_split_list_create();
            int rc = fl__source_snapshot(op, l, err);
            if (rc == 0) encode_splits(&add_part(s, op, FL_STATE_ROLE_SOURCE)->data, l);
            fl_split_list_destroy(l);
            if (rc < 0) goto fail;
        }
        if (fl__sink_is_transactional(op)) {
            fl_split_list *l = fl_split_list_create();
            int rc = fl__sink_pre_commit(op, id, l, err);
            if (rc == 0) encode_splits(&add_part(s, op, FL_STATE_ROLE_SINK_TXN)->data, l);
            fl_split_list_destroy(l);
            if (rc < 0) goto fail;
        }
    }
    return s;
fail:
    fl__task_snapshot_free(s);
    return NULL;
}

/* Writes the parts into checkpoint w; the files go to the coordinator. */
int fl__task_snapshot_write(fl_task_snapshot *s, fl_checkpoint_writer *w, fl_ckpt_files *files,
                            fl_error *err) {
    for (int i = 0; i < s->n_parts; i++) {
        part *p = &s->parts[i];
        fl_state_file_writer *fw =
            fl_checkpoint_writer_open_file(w, p->uid, s->task->subtask, p->role, err);
        if (!fw) return err->code ? err->code : FL_EIO;
        int rc = p->keyed ? fl_keyed_snapshot_write(p->keyed, fl_state_file_writer_sink, fw, err)
                          : fl_state_file_writer_write(fw, p->data.p, p->data.n);
        if (rc < 0) {
            fl_state_file_writer_discard(fw);
            if (!err->code) fl_error_set(err, rc, "could not write state of \"%s\"", p->uid);
            return rc;
        }
        fl_state_file f = {0};
        rc = fl_state_file_writer_close(fw, &f, err);
        if (rc < 0) return rc;
        files_add(files, p->uid, s->task->subtask, &f);
        fl_state_file_fini(&f);
    }
    return 0;
}

/* ---- the snapshot writer thread ------------------------------------------------------------------- */

struct fl_snapshot_writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fl_task_snapshot *head, *tail;
    bool stopping;
    fl_job_run *run;
};

static void *writer_main(void *arg) {
    fl_snapshot_writer *sw = arg;
    pthread_mutex_lock(&sw->mu);
    for (;;) {
        while (!sw->head && !sw->stopping) pthread_cond_wait(&sw->cv, &sw->mu);
        fl_task_snapshot *s = sw->head;
        if (!s) break;
        sw->head = s->next;
        if (!sw->head) sw->tail = NULL;
        pthread_mutex_unlock(&sw->mu);
        fl__coordinator_write_snapshot(fl__job_run_coordinator(sw->run), s);
        fl_task *t = s->task;
        fl__task_snapshot_free(s);
        /* The task may close its state now (it waits for this). */
        pthread_mutex_lock(&t->mu);
        t->snapshots_in_flight--;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_mutex_lock(&sw->mu);
    }
    pthread_mutex_unlock(&sw->mu);
    return NULL;
}

fl_snapshot_writer *fl__snapshot_writer_start(fl_job_run *r) {
    fl_snapshot_writer *sw = fl_xcalloc(1, sizeof *sw);
    sw->run = r;
    pthread_mutex_init(&sw->mu, NULL);
    pthread_cond_init(&sw->cv, NULL);
    if (pthread_create(&sw->thread, NULL, writer_main, sw) != 0) {
        pthread_mutex_destroy(&sw->mu);
        pthread_cond_destroy(&sw->cv);
        free(sw);
        return NULL;
    }
    return sw;
}

void fl__snapshot_writer_submit(fl_snapshot_writer *sw, fl_task_snapshot *s) {
    pthread_mutex_lock(&s->task->mu);
    s->task->snapshots_in_flight++;
    pthread_mutex_unlock(&s->task->mu);
    pthread_mutex_lock(&sw->mu);
    if (sw->tail)
        sw->tail->next = s;
    else
        sw->head = s;
    sw->tail = s;
    pthread_cond_signal(&sw->cv);
    pthread_mutex_unlock(&sw->mu);
}

/* Writes what is queued, then stops. */
void fl__snapshot_writer_stop(fl_snapshot_writer *sw) {
    if (!sw) return;
    pthread_mutex_lock(&sw->mu);
    sw->stopping = true;
    pthread_cond_signal(&sw->cv);
    pthread_mutex_unlock(&sw->mu);
    pthread_join(sw->thread, NULL);
    pthread_mutex_destroy(&sw->mu);
    pthread_cond_destroy(&sw->cv);
    free(sw);
}

/* ---- operator list states -------------------------------------------------------------------------- */

/* Adds the lists of one old subtask's part to op's restored lists: all
 * rows for now; the share of this subtask is cut when every part is in. */
static int decode_op_states(fl_operator *op, const void *data, size_t len) {
    reader r = {data, (const uint8_t *)data + len, false};
    uint32_t n = get_u32(&r);
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        uint32_t nl = get_u32(&r);
        const uint8_t *name = get_ref(&r, nl);
        uint8_t un = 0;
        get(&r, &un, 1);
        uint32_t rows = get_u32(&r);
        if (r.bad) break;
        char *nm = fl_xstrndup((const char *)name, nl);
        struct fl_user_state *u = fl__restored_list(op, nm, un != 0);
        free(nm);
        for (uint32_t k = 0; k < rows && !r.bad; k++) {
            uint32_t rl = 0;
            if ((size_t)(r.end - r.p) < 8) {
                r.bad = true;
                break;
            }
            memcpy(&rl, r.p, 4);
            const uint8_t *row = get_ref(&r, rl);
            if (!row || rl < 8) {
                r.bad = true;
                break;
            }
            fl__user_list_append(u, (const fl_row *)row);
        }
    }
    return r.bad ? FL_EFORMAT : 0;
}

/* ---- restore ------------------------------------------------------------------------------------------ */

static const fl_checkpoint_operator *restored_operator(const fl_operator *op) {
    const fl_checkpoint_reader *rd = op->task->settings->restore;
    if (!rd) return NULL;
    char *uid = fl_stream_node_state_uid(op->node);
    const fl_checkpoint_operator *o = fl_checkpoint_metadata_find(fl_checkpoint_reader_metadata(rd), uid);
    free(uid);
    return o;
}

typedef int (*part_fn)(fl_operator *op, void *arg, const void *data, size_t len);

/* Calls fn for every state file of `role` of old subtask st. */
static int subtask_parts(fl_operator *op, const fl_checkpoint_subtask *st, const char *role,
                         part_fn fn, void *arg, fl_error *err) {
    const fl_checkpoint_reader *rd = op->task->settings->restore;
    for (int f = 0; f < st->n_files; f++) {
        if (strcmp(st->files[f].role, role) != 0) continue;
        void *data = NULL;
        size_t len = 0;
        int rc = fl_checkpoint_reader_read(rd, &st->files[f], &data, &len, err);
        if (rc == 0) rc = fn(op, arg, data, len);
        free(data);
        if (rc < 0) {
            if (!err->code)
                fl_error_set(err, rc, "could not restore %s state of \"%s\" from \"%s\"", role,
                             op->node->name, st->files[f].path);
            return rc;
        }
    }
    return 0;
}

/* Calls fn for every state file of `role` of the operator's old subtasks
 * (only those whose key groups overlap [first, last] when first >= 0). */
static int for_each_part(fl_operator *op, const char *role, int first, int last, part_fn fn,
                         void *arg, fl_error *err) {
    const fl_checkpoint_operator *o = restored_operator(op);
    if (!o) return 0;
    for (int s = 0; s < o->parallelism; s++) {
        const fl_checkpoint_subtask *st = &o->subtasks[s];
        if (first >= 0 && (st->key_group_last < first || st->key_group_first > last)) continue;
        int rc = subtask_parts(op, st, role, fn, arg, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Calls fn for the state files of `role` of one old subtask: this subtask's
 * index modulo the old parallelism, so that at any parallelism every new
 * subtask reads one old subtask's copy (of state all old subtasks hold
 * alike, such as broadcast state). Nothing when the operator or the role is
 * not in the restored checkpoint. */
static int for_copy_part(fl_operator *op, const char *role, part_fn fn, void *arg, fl_error *err) {
    const fl_checkpoint_operator *o = restored_operator(op);
    if (!o || o->parallelism < 1) return 0;
    return subtask_parts(op, &o->subtasks[op->task->subtask % o->parallelism], role, fn, arg, err);
}

int fl__restore_own_part(fl_operator *op, const char *role, void **data, size_t *len,
                         fl_error *err) {
    *data = NULL;
    *len = 0;
    const fl_checkpoint_operator *o = restored_operator(op);
    if (!o) return 0;
    for (int s = 0; s < o->parallelism; s++) {
        const fl_checkpoint_subtask *st = &o->subtasks[s];
        for (int f = 0; f < st->n_files; f++) {
            if (strcmp(st->files[f].role, role) != 0) continue;
            if (o->parallelism != op->task->parallelism)
                return fl_error_set(err, FL_EUNSUPPORTED,
                                    "\"%s\" has in-flight data from an unaligned checkpoint at "
                                    "parallelism %d and cannot be restored at %d; take a "
                                    "savepoint (always aligned) to rescale",
                                    op->node->name, o->parallelism, op->task->parallelism);
            if (s != op->task->subtask) continue;
            return fl_checkpoint_reader_read(op->task->settings->restore, &st->files[f], data, len,
                                             err);
        }
    }
    return 0;
}

static int restore_keyed_part(fl_operator *op, void *arg, const void *data, size_t len) {
    return fl_keyed_backend_restore(arg, data, len, &op->task->error);
}

int fl__restore_keyed(fl_operator *op, struct fl_keyed_backend *backend, fl_error *err) {
    int first, last;
    fl_key_group_range(op->task->subtask, op->node->max_parallelism, op->task->parallelism, &first,
                       &last);
    return for_each_part(op, FL_STATE_ROLE_KEYED, first, last, restore_keyed_part, backend, err);
}

int fl__restore_broadcast(fl_operator *op, struct fl_keyed_backend *backend, fl_error *err) {
    return for_copy_part(op, FL_STATE_ROLE_BROADCAST, restore_keyed_part, backend, err);
}

static int collect_splits(fl_operator *op, void *arg, const void *data, size_t len) {
    return decode_splits(data, len, arg);
}

static int restore_op_states_part(fl_operator *op, void *arg, const void *data, size_t len) {
    return decode_op_states(op, data, len);
}

/* This subtask's even share of n items: [n * i / p, n * (i + 1) / p). */
static void share(size_t n, const fl_task *t, size_t *from, size_t *to) {
    *from = n * (size_t)t->subtask / (size_t)t->parallelism;
    *to = n * (size_t)(t->subtask + 1) / (size_t)t->parallelism;
}

int fl__restore_operator(fl_operator *op, fl_error *err) {
    fl_task *t = op->task;
    if (!t->settings->restore && !t->settings->restarted) return 0;
    int rc = 0;
    /* Operator list states: every old subtask's lists, then this share. */
    if (t->settings->restore) {
        rc = for_each_part(op, FL_STATE_ROLE_OPERATOR, -1, -1, restore_op_states_part, NULL, err);
        if (rc == 0) fl__restored_lists_cut(op, t->subtask, t->parallelism);
    }
    if (rc == 0 && op->ops == &fl__op_source && t->settings->restore) {
        fl_split_list *all = fl_split_list_create();
        rc = for_each_part(op, FL_STATE_ROLE_SOURCE, -1, -1, collect_splits, all, err);
        if (rc == 0 && restored_operator(op)) {
            size_t from, to;
            share(fl_split_list_count(all), t, &from, &to);
            rc = fl__source_restore(op, fl_split_list_items(all) + from, to - from, err);
        }
        fl_split_list_destroy(all);
    }
    if (rc == 0 && fl__sink_is_transactional(op)) {
        /* Every restart recovers: pending transactions of the restored
         * checkpoint commit, leftovers of failed attempts go. */
        fl_split_list *all = fl_split_list_create();
        rc = for_each_part(op, FL_STATE_ROLE_SINK_TXN, -1, -1, collect_splits, all, err);
        if (rc == 0)
            rc = fl__sink_recover(op, fl_split_list_items(all), fl_split_list_count(all), err);
        fl_split_list_destroy(all);
    }
    return rc;
}
