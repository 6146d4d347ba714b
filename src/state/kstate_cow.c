/*
 * kstate_cow.c - copy-on-write views of the heap keyed backend: taking a
 * view (the synchronous step of a checkpoint), releasing it from any thread,
 * and the owner-side bookkeeping that frees what only views still reach.
 *
 * A view copies the headers of every state's per-key-group tables and of
 * both timer node arrays (O(states x key groups), nothing per entry) and takes the
 * backend's version; the backend then moves to the next version. From then
 * on the owner never changes an object (entry, slot array, timer node array)
 * whose version is not newer than the newest live view's: it copies it first
 * (kstate_table.c, keyed_state.c, kstate_map.c, timers.c). An object that
 * leaves the backend's structures while a live view may reach it goes to the
 * deferred list with the versions it lived in, and is freed when no live
 * view's version lies in [created, dropped).
 *
 * Threads: a view is written by another thread (kstate_snapshot.c), which
 * only reads the view and the objects it shares. Release may happen in that
 * thread: it sets the view's `released` flag and the backend's
 * `release_pending` (release order), nothing else. The owner notices the
 * flag at its next set_key or snapshot (an acquire load, only while it has
 * live views) and frees the view and what it deferred; a release in the
 * thread that took the view (the owner) does that at once.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "state_int.h"

fl__entry *fl__entry_clone(fl_keyed_backend *b, const fl__entry *e, uint32_t vcap,
                           bool copy_payload) {
    fl__entry *c = fl_xmalloc(fl__entry_size(e->klen, e->nslen, vcap));
    uint32_t off = fl__entry_payload_off(e->klen, e->nslen);
    memcpy(c, e, sizeof *e + off); /* header, key, namespace, padding */
    c->vcap = vcap;
    c->version = b->version;
    if (copy_payload) {
        uint32_t n = e->vlen < vcap ? e->vlen : vcap;
        memcpy(c->data + off, e->data + off, n);
    }
    b->bytes += fl__entry_bytes(c);
    return c;
}

fl__entry *fl__entry_own_slow(fl_keyed_backend *b, fl__table *t, uint32_t slot, uint32_t vcap,
                              bool copy_payload) {
    fl__entry *e = t->slots[slot].e;
    if (fl__shared(b, e->version)) {
        fl__entry *copy = fl__entry_clone(b, e, vcap, copy_payload);
        fl__table_set(t, slot, copy, b);
        /* Only the entry: a map container's nested table now belongs to the copy. */
        fl__drop(b, e, e->version, fl__entry_bytes(e));
        return copy;
    }
    if (vcap != e->vcap) {
        size_t old = fl__entry_bytes(e);
        e = fl_xrealloc(e, fl__entry_size(e->klen, e->nslen, vcap));
        e->vcap = vcap;
        b->bytes += fl__entry_bytes(e) - old;
        /* the entry is not shared: nor is the slot array it was inserted into */
        assert(!fl__shared(b, t->version));
        t->slots[slot].e = e;
    }
    return e;
}

void fl__drop(fl_keyed_backend *b, void *p, uint32_t version, size_t bytes) {
    if (!fl__shared(b, version)) {
        b->bytes -= bytes;
        free(p);
        return;
    }
    if (b->n_deferred == b->deferred_cap) {
        b->deferred_cap = b->deferred_cap ? b->deferred_cap * 2 : 256;
        b->deferred = fl_xrealloc(b->deferred, b->deferred_cap * sizeof *b->deferred);
    }
    b->deferred[b->n_deferred++] =
        (fl__deferred){.p = p, .bytes = bytes, .created = version, .dropped = b->version};
}

/* Does a live view see objects that lived in versions [created, dropped)? */
static bool seen(const fl_keyed_backend *b, uint32_t created, uint32_t dropped) {
    for (size_t i = 0; i < b->n_views; i++) {
        uint32_t v = b->views[i]->version;
        if (v >= created && v < dropped) return true;
    }
    return false;
}

static void view_free(fl_keyed_snapshot *v) {
    for (size_t i = 0; i < v->n_states; i++) {
        fl__view_state *vs = &v->states[i];
        fl_schema_unref(vs->value_schema);
        fl_schema_unref(vs->map_key_schema);
        fl_schema_unref(vs->acc_schema);
        fl_schema_unref(vs->result_schema);
    }
    free(v->states); /* the groups arrays live in the same block */
    free(v);
}

void fl__views_reclaim(fl_keyed_backend *b) {
    /* Clear the flag before looking: a release after this exchange sets it
     * again, so none is missed. */
    atomic_exchange_explicit(&b->release_pending, 0, memory_order_acq_rel);
    size_t kept = 0;
    bool any = false;
    for (size_t i = 0; i < b->n_views; i++) {
        fl_keyed_snapshot *v = b->views[i];
        if (atomic_load_explicit(&v->released, memory_order_acquire)) {
            view_free(v);
            any = true;
        } else {
            b->views[kept++] = v;
        }
    }
    if (!any) return;
    b->n_views = kept;
    b->cow_floor = kept ? b->views[kept - 1]->version : 0;
    size_t still = 0;
    for (size_t i = 0; i < b->n_deferred; i++) {
        fl__deferred *d = &b->deferred[i];
        if (seen(b, d->created, d->dropped)) {
            b->deferred[still++] = *d;
        } else {
            b->bytes -= d->bytes;
            free(d->p);
        }
    }
    b->n_deferred = still;
    if (still == 0) {
        free(b->deferred);
        b->deferred = NULL;
        b->deferred_cap = 0;
    }
    if (kept == 0) {
        free(b->views);
        b->views = NULL;
        b->views_cap = 0;
    }
}

void fl__views_fini(fl_keyed_backend *b) {
    for (size_t i = 0; i < b->n_views; i++) view_free(b->views[i]);
    free(b->views);
    b->views = NULL;
    b->n_views = b->views_cap = 0;
    b->cow_floor = 0;
    for (size_t i = 0; i < b->n_deferred; i++) {
        b->bytes -= b->deferred[i].bytes;
        free(b->deferred[i].p);
    }
    free(b->deferred);
    b->deferred = NULL;
    b->n_deferred = b->deferred_cap = 0;
}

static fl_schema *ref(fl_schema *s) { return s ? fl_schema_ref(s) : NULL; }

fl_keyed_snapshot *fl_keyed_backend_snapshot(fl_keyed_backend *b) {
    fl__views_poll(b);
    size_t groups = (size_t)(b->last_key_group - b->first_key_group + 1);
    fl_keyed_snapshot *v = fl_xcalloc(1, sizeof *v);
    v->b = b;
    v->owner = pthread_self();
    atomic_init(&v->released, 0);
    v->version = b->version;
    v->first_key_group = b->first_key_group;
    v->last_key_group = b->last_key_group;
    v->max_parallelism = b->max_parallelism;
    v->now = fl__backend_now(b);
    v->n_states = b->n_states;
    /* One block: the state copies, then every state's table headers. */
    size_t head = b->n_states * sizeof *v->states;
    head = (head + _Alignof(fl__table) - 1) / _Alignof(fl__table) * _Alignof(fl__table);
    uint8_t *block = fl_xmalloc(head + b->n_states * groups * sizeof(fl__table) + 1);
    v->states = (fl__view_state *)block;
    for (size_t i = 0; i < b->n_states; i++) {
        const fl_kstate *s = b->states[i];
        fl__view_state *vs = &v->states[i];
        vs->name = s->name;
        vs->kind = s->kind;
        vs->value_schema = ref(s->value_schema);
        vs->map_key_schema = ref(s->map_key_schema);
        vs->acc_schema = ref(s->acc_schema);
        vs->result_schema = ref(s->result_schema);
        vs->ttl_ms = s->ttl_ms;
        vs->ttl_update = s->ttl_update;
        vs->groups = (fl__table *)(block + head) + i * groups;
        memcpy(vs->groups, s->groups, groups * sizeof *s->groups);
    }
    for (int d = 0; d < 2; d++) {
        v->timers[d].nodes = b->timers[d].nodes;
        v->timers[d].count = b->timers[d].count;
    }
    if (b->n_views == b->views_cap) {
        b->views_cap = b->views_cap ? b->views_cap * 2 : 4;
        b->views = fl_xrealloc(b->views, b->views_cap * sizeof *b->views);
    }
    b->views[b->n_views++] = v;
    b->cow_floor = v->version;
    assert(b->version < UINT32_MAX); /* four billion checkpoints of one subtask */
    b->version++;
    return v;
}

void fl_keyed_snapshot_release(fl_keyed_snapshot *v) {
    if (!v) return;
    fl_keyed_backend *b = v->b; /* read before the flag: the owner may free v after it */
    bool owner = pthread_equal(v->owner, pthread_self());
    atomic_store_explicit(&v->released, 1, memory_order_release);
    atomic_store_explicit(&b->release_pending, 1, memory_order_release);
    if (owner) fl__views_reclaim(b);
}
