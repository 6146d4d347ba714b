/*
 * timers.c - the timer service of a keyed backend: per time domain (event
 * time, processing time) a min-heap of timer nodes ordered by (time,
 * registration order) and a hash set of the same nodes on (key, namespace,
 * time) that deduplicates registrations and finds a timer to delete. Each node
 * knows its heap position, so deletion removes it from the heap at once (no
 * lazy deletion: counts and bytes are exact), and its key group, so that a
 * snapshot can write the timers of a key-group range.
 *
 * A popped node is handed out (key and namespace point into it) until the
 * next pop call on that domain, which frees it.
 *
 * Copy-on-write: a view shares the heap array (copied before its first
 * change after the view) and the nodes (which it reads but for heap_pos);
 * a deleted or popped node a view may reach is left to the views.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mem.h"
#include "state_int.h"

#define MIN_SET_CAPACITY  16u
#define MIN_HEAP_CAPACITY 16u
#define GOLDEN            UINT64_C(0x9e3779b97f4a7c15)

static size_t node_bytes(const fl__timer *t) { return sizeof *t + t->klen + t->nslen; }

static uint64_t timer_hash(uint64_t key_hash, const void *ns, uint32_t nslen, int64_t time) {
    uint64_t h =
        key_hash ^ fl__ns_hash(ns, nslen) ^ ((uint64_t)time * UINT64_C(0xc2b2ae3d27d4eb4f));
    h ^= h >> 31;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 29;
    return h;
}

static bool before(const fl__timer *a, const fl__timer *b) {
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

/* ---- the heap -----------------------------------------------------------------------------------
 */

static void heap_place(fl__timer_queue *q, uint32_t i, fl__timer *t) {
    q->heap[i] = t;
    t->heap_pos = i;
}

static void sift_up(fl__timer_queue *q, uint32_t i) {
    fl__timer *t = q->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!before(t, q->heap[parent])) break;
        heap_place(q, i, q->heap[parent]);
        i = parent;
    }
    heap_place(q, i, t);
}

static void sift_down(fl__timer_queue *q, uint32_t i) {
    fl__timer *t = q->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= q->count) break;
        if (child + 1 < q->count && before(q->heap[child + 1], q->heap[child])) child++;
        if (!before(q->heap[child], t)) break;
        heap_place(q, i, q->heap[child]);
        i = child;
    }
    heap_place(q, i, t);
}

static void drop_node(fl_keyed_backend *b, fl__timer *t) {
    fl__drop(b, t, t->version, node_bytes(t));
}

/* Resizes the heap array to cap (0 frees it). A shared array is copied, not
 * reallocated, and left to the views. */
static void heap_resize(fl_keyed_backend *b, fl__timer_queue *q, uint32_t cap) {
    size_t old_bytes = (size_t)q->cap * sizeof *q->heap;
    if (q->heap && fl__shared(b, q->heap_version)) {
        fl__timer **old = q->heap;
        q->heap = NULL;
        if (cap) {
            q->heap = fl_xmalloc((size_t)cap * sizeof *q->heap);
            memcpy(q->heap, old, (size_t)(q->count < cap ? q->count : cap) * sizeof *q->heap);
        }
        fl__drop(b, old, q->heap_version, old_bytes);
    } else {
        b->bytes -= old_bytes;
        if (cap == 0) {
            free(q->heap);
            q->heap = NULL;
        } else {
            q->heap = fl_xrealloc(q->heap, (size_t)cap * sizeof *q->heap);
        }
    }
    q->cap = cap;
    q->heap_version = b->version;
    b->bytes += (size_t)cap * sizeof *q->heap;
}

/* Makes the heap array the queue's own before it changes. */
static void heap_own(fl_keyed_backend *b, fl__timer_queue *q) {
    if (q->heap && fl__shared(b, q->heap_version)) heap_resize(b, q, q->cap);
}

static void heap_push(fl_keyed_backend *b, fl__timer_queue *q, fl__timer *t) {
    heap_own(b, q);
    if (q->count == q->cap) heap_resize(b, q, q->cap ? q->cap * 2 : MIN_HEAP_CAPACITY);
    q->heap[q->count] = t;
    t->heap_pos = q->count++;
    sift_up(q, t->heap_pos);
}

static void heap_remove(fl_keyed_backend *b, fl__timer_queue *q, fl__timer *t) {
    heap_own(b, q);
    uint32_t i = t->heap_pos;
    assert(i < q->count && q->heap[i] == t);
    q->count--;
    if (i != q->count) {
        heap_place(q, i, q->heap[q->count]);
        if (i > 0 && before(q->heap[i], q->heap[(i - 1) / 2]))
            sift_up(q, i);
        else
            sift_down(q, i);
    }
    if (q->count == 0)
        heap_resize(b, q, 0);
    else if (q->cap > MIN_HEAP_CAPACITY && q->count * 4 < q->cap)
        heap_resize(b, q, q->cap / 2);
}

/* ---- the set
 * ------------------------------------------------------------------------------------- */

static uint32_t set_cap(const fl__timer_queue *q) { return q->set ? q->set_mask + 1 : 0; }

static uint32_t set_home(const fl__timer_queue *q, uint64_t h) {
    return (uint32_t)((h * GOLDEN) >> q->set_shift);
}

static void set_rehash(fl_keyed_backend *b, fl__timer_queue *q, uint32_t cap) {
    fl__tslot *old = q->set;
    uint32_t old_cap = set_cap(q);
    b->bytes -= (size_t)old_cap * sizeof *old;
    if (cap == 0) {
        free(old);
        q->set = NULL;
        q->set_mask = q->set_shift = 0;
        return;
    }
    q->set = fl_xcalloc(cap, sizeof *q->set);
    q->set_mask = cap - 1;
    uint32_t bits = 0;
    while ((1u << bits) < cap) bits++;
    q->set_shift = 64 - bits;
    for (uint32_t j = 0; j < old_cap; j++) {
        if (!old[j].t) continue;
        uint32_t i = set_home(q, old[j].hash);
        while (q->set[i].t) i = (i + 1) & q->set_mask;
        q->set[i] = old[j];
    }
    free(old);
    b->bytes += (size_t)cap * sizeof *q->set;
}

/* The slot of the timer (key, ns, time) with hash h, or of the empty slot
 * where it would go (FL__NO_SLOT without slots); *found tells which. */
static uint32_t set_find(const fl__timer_queue *q, uint64_t h, const void *key, uint32_t klen,
                         const void *ns, uint32_t nslen, int64_t time, bool *found) {
    *found = false;
    if (!q->set) return FL__NO_SLOT;
    uint32_t i = set_home(q, h);
    for (;;) {
        const fl__timer *t = q->set[i].t;
        if (!t) return i;
        if (q->set[i].hash == h && t->time == time && t->klen == klen && t->nslen == nslen &&
            fl__bytes_equal(t->data, key, klen) && fl__bytes_equal(t->data + klen, ns, nslen)) {
            *found = true;
            return i;
        }
        i = (i + 1) & q->set_mask;
    }
}

static void set_insert(fl_keyed_backend *b, fl__timer_queue *q, uint32_t slot, fl__timer *t,
                       uint32_t count_before) {
    uint32_t cap = set_cap(q);
    if ((size_t)(count_before + 1) * 4 > (size_t)cap * 3) {
        set_rehash(b, q, cap ? cap * 2 : MIN_SET_CAPACITY);
        slot = FL__NO_SLOT;
    }
    if (slot == FL__NO_SLOT) {
        slot = set_home(q, t->hash);
        while (q->set[slot].t) slot = (slot + 1) & q->set_mask;
    }
    q->set[slot].hash = t->hash;
    q->set[slot].t = t;
}

/* Removes t, whose slot is found by pointer; count_after is the set's size
 * once t is gone. */
static void set_remove(fl_keyed_backend *b, fl__timer_queue *q, const fl__timer *t,
                       uint32_t count_after) {
    uint32_t hole = set_home(q, t->hash);
    while (q->set[hole].t != t) hole = (hole + 1) & q->set_mask;
    if (count_after == 0) {
        set_rehash(b, q, 0);
        return;
    }
    uint32_t j = hole;
    for (;;) {
        j = (j + 1) & q->set_mask;
        fl__tslot *sl = &q->set[j];
        if (!sl->t) break;
        uint32_t k = set_home(q, sl->hash);
        bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
        if (stays) continue;
        q->set[hole] = *sl;
        hole = j;
    }
    q->set[hole].t = NULL;
    q->set[hole].hash = 0;
    uint32_t cap = set_cap(q);
    if (cap > MIN_SET_CAPACITY && (size_t)count_after * 8 < cap) {
        uint32_t want = MIN_SET_CAPACITY;
        while (want < count_after * 2) want *= 2;
        set_rehash(b, q, want);
    }
}

/* ---- the service -------------------------------------------------------------------------------
 */

static void free_popped(fl_keyed_backend *b, fl__timer_queue *q) {
    if (!q->popped) return;
    drop_node(b, q->popped);
    q->popped = NULL;
}

void fl__timers_fini(fl_keyed_backend *b) {
    for (int d = 0; d < 2; d++) {
        fl__timer_queue *q = &b->timers[d];
        free_popped(b, q);
        for (uint32_t i = 0; i < q->count; i++) drop_node(b, q->heap[i]);
        q->count = 0;
        heap_resize(b, q, 0);
        set_rehash(b, q, 0);
    }
}

static fl__timer_queue *queue(fl_keyed_backend *b, fl_time_domain d) {
    assert(d == FL_EVENT_TIME || d == FL_PROCESSING_TIME);
    return &b->timers[d == FL_PROCESSING_TIME ? 1 : 0];
}

void fl__timer_add(fl_keyed_backend *b, fl_time_domain d, int64_t time, const void *key,
                   uint32_t klen, uint64_t key_hash, int key_group, const void *ns,
                   uint32_t nslen) {
    fl__timer_queue *q = queue(b, d);
    uint64_t h = timer_hash(key_hash, ns, nslen, time);
    bool found;
    uint32_t slot = set_find(q, h, key, klen, ns, nslen, time, &found);
    if (found) return;
    fl__timer *t = fl_xmalloc(sizeof *t + klen + nslen);
    t->time = time;
    t->seq = q->next_seq++;
    t->hash = h;
    t->key_hash = key_hash;
    t->key_group = key_group;
    t->klen = klen;
    t->nslen = nslen;
    t->version = b->version;
    if (klen) memcpy(t->data, key, klen);
    if (nslen) memcpy(t->data + klen, ns, nslen);
    b->bytes += node_bytes(t);
    set_insert(b, q, slot, t, q->count);
    heap_push(b, q, t);
}

void fl_timer_register(fl_keyed_backend *b, fl_time_domain d, int64_t time, const void *ns,
                       uint32_t len) {
    if (b->key_group < 0) return; /* no valid current key: see fl_keyed_backend_set_key */
    fl__timer_add(b, d, time, b->key, b->key_len, b->key_hash, b->key_group, ns, len);
}

void fl_timer_delete(fl_keyed_backend *b, fl_time_domain d, int64_t time, const void *ns,
                     uint32_t len) {
    if (b->key_group < 0) return;
    fl__timer_queue *q = queue(b, d);
    uint64_t h = timer_hash(b->key_hash, ns, len, time);
    bool found;
    uint32_t slot = set_find(q, h, b->key, b->key_len, ns, len, time, &found);
    if (!found) return;
    fl__timer *t = q->set[slot].t;
    set_remove(b, q, t, q->count - 1);
    heap_remove(b, q, t);
    drop_node(b, t);
}

int64_t fl_timer_next(const fl_keyed_backend *b, fl_time_domain d) {
    const fl__timer_queue *q = &b->timers[d == FL_PROCESSING_TIME ? 1 : 0];
    return q->count ? q->heap[0]->time : INT64_MAX;
}

size_t fl_timer_count(const fl_keyed_backend *b, fl_time_domain d) {
    return b->timers[d == FL_PROCESSING_TIME ? 1 : 0].count;
}

int fl_timer_pop(fl_keyed_backend *b, fl_time_domain d, int64_t upto, fl_timer *out) {
    fl__timer_queue *q = queue(b, d);
    free_popped(b, q);
    if (q->count == 0 || q->heap[0]->time > upto) return 0;
    fl__timer *t = q->heap[0];
    set_remove(b, q, t, q->count - 1);
    heap_remove(b, q, t);
    q->popped = t;
    fl_keyed_backend_set_key(b, t->data, t->klen, t->key_hash);
    out->time = t->time;
    out->key = t->data;
    out->key_len = t->klen;
    out->ns = t->data + t->klen;
    out->ns_len = t->nslen;
    return 1;
}
