/*
 * timers.c - the timer service of a keyed backend. Per time domain (event
 * time, processing time):
 *
 * - buckets: the timers of one time in a list, oldest registration first,
 *   the buckets in a min-heap on time and in a hash map from time to bucket.
 *   Timers cluster on few times (window ends, rounded deadlines), so a pop
 *   is taking a list's head, and the heap holds distinct times only; a lone
 *   timer per time costs one small heap entry;
 * - a hash set of the timer nodes on (key, namespace, time), which
 *   deduplicates registrations and finds a timer to delete;
 * - an array of every node in no order (each node knows its place), which
 *   is what a snapshot view reads, and each node knows its key group, so
 *   that a snapshot can write the timers of a key-group range.
 *
 * Firing order is (time, registration order); deletion is exact and O(1)
 * besides the lookups (no lazy deletion: counts and bytes are exact).
 *
 * A popped node is handed out (key and namespace point into it) until the
 * next pop call on that domain, which frees it.
 *
 * Copy-on-write: a view shares the node array (copied before its first
 * change after the view) and the nodes (which it reads but for their queue
 * links); a deleted or popped node a view may reach is left to the views.
 * Buckets, the bucket heap and map are never seen by views.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mem.h"
#include "state_int.h"

#define MIN_SET_CAPACITY   16u
#define MIN_NODES_CAPACITY 16u

static size_t node_bytes(const fl__timer *t) { return sizeof *t + t->klen + t->nslen; }

/* In memory only: a snapshot writes the timer's key hash, and a restore
 * registers the timer anew. */
static uint64_t timer_hash(uint64_t key_hash, const void *ns, uint32_t nslen, int64_t time) {
    return fl__hash_mix64(key_hash ^ fl__ns_hash(ns, nslen) ^
                          ((uint64_t)time * UINT64_C(0xc2b2ae3d27d4eb4f)));
}

static void drop_node(fl_keyed_backend *b, fl__timer *t) {
    fl__drop(b, t, t->version, node_bytes(t));
}

/* ---- the node array ----------------------------------------------------------------------------
 */

/* Resizes the node array to cap (0 frees it). A shared array is copied, not
 * reallocated, and left to the views. */
static void nodes_resize(fl_keyed_backend *b, fl__timer_queue *q, uint32_t cap) {
    size_t old_bytes = (size_t)q->cap * sizeof *q->nodes;
    if (q->nodes && fl__shared(b, q->nodes_version)) {
        fl__timer **old = q->nodes;
        q->nodes = NULL;
        if (cap) {
            q->nodes = fl_xmalloc((size_t)cap * sizeof *q->nodes);
            memcpy(q->nodes, old, (size_t)(q->count < cap ? q->count : cap) * sizeof *q->nodes);
        }
        fl__drop(b, old, q->nodes_version, old_bytes);
    } else {
        b->bytes -= old_bytes;
        if (cap == 0) {
            free(q->nodes);
            q->nodes = NULL;
        } else {
            q->nodes = fl_xrealloc(q->nodes, (size_t)cap * sizeof *q->nodes);
        }
    }
    q->cap = cap;
    q->nodes_version = b->version;
    b->bytes += (size_t)cap * sizeof *q->nodes;
}

/* Makes the node array the queue's own before it changes. */
static void nodes_own(fl_keyed_backend *b, fl__timer_queue *q) {
    if (q->nodes && fl__shared(b, q->nodes_version)) nodes_resize(b, q, q->cap);
}

static void nodes_push(fl_keyed_backend *b, fl__timer_queue *q, fl__timer *t) {
    nodes_own(b, q);
    if (q->count == q->cap) nodes_resize(b, q, q->cap ? q->cap * 2 : MIN_NODES_CAPACITY);
    t->pos = q->count;
    q->nodes[q->count++] = t;
}

static void nodes_remove(fl_keyed_backend *b, fl__timer_queue *q, fl__timer *t) {
    nodes_own(b, q);
    uint32_t i = t->pos;
    assert(i < q->count && q->nodes[i] == t);
    fl__timer *moved = q->nodes[--q->count];
    q->nodes[i] = moved;
    moved->pos = i;
    if (q->count == 0)
        nodes_resize(b, q, 0);
    else if (q->cap > MIN_NODES_CAPACITY && q->count * 4 < q->cap)
        nodes_resize(b, q, q->cap / 2);
}

/* ---- buckets: the heap on time and the map from time -------------------------------------------
 */

static void heap_place(fl__timer_queue *q, uint32_t i, fl__tbucket *k) {
    q->heap[i] = k;
    k->heap_pos = i;
}

static void sift_up(fl__timer_queue *q, uint32_t i) {
    fl__tbucket *k = q->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (q->heap[parent]->time <= k->time) break;
        heap_place(q, i, q->heap[parent]);
        i = parent;
    }
    heap_place(q, i, k);
}

static void sift_down(fl__timer_queue *q, uint32_t i) {
    fl__tbucket *k = q->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= q->n_buckets) break;
        if (child + 1 < q->n_buckets && q->heap[child + 1]->time < q->heap[child]->time) child++;
        if (q->heap[child]->time >= k->time) break;
        heap_place(q, i, q->heap[child]);
        i = child;
    }
    heap_place(q, i, k);
}

static uint32_t bmap_home(const fl__timer_queue *q, int64_t time) {
    return fl__fib_home((uint64_t)time, q->bmap_shift);
}

/* Resizes the map to cap slots (a power of two; 0 frees it) and the heap
 * array to match. */
static void buckets_resize(fl_keyed_backend *b, fl__timer_queue *q, uint32_t cap) {
    fl__tbucket **old = q->bmap;
    uint32_t old_cap = q->bmap ? q->bmap_mask + 1 : 0;
    b->bytes -= (size_t)old_cap * sizeof *old + (size_t)q->heap_cap * sizeof *q->heap;
    if (cap == 0) {
        free(old);
        free(q->heap);
        q->bmap = NULL;
        q->heap = NULL;
        q->bmap_mask = q->bmap_shift = q->heap_cap = 0;
        return;
    }
    q->bmap = fl_xcalloc(cap, sizeof *q->bmap);
    q->bmap_mask = cap - 1;
    q->bmap_shift = fl__fib_shift(cap);
    for (uint32_t j = 0; j < old_cap; j++) {
        if (!old[j]) continue;
        uint32_t i = bmap_home(q, old[j]->time);
        while (q->bmap[i]) i = (i + 1) & q->bmap_mask;
        q->bmap[i] = old[j];
    }
    free(old);
    q->heap_cap = cap / 2; /* the map stays at most half full */
    q->heap = fl_xrealloc(q->heap, (size_t)q->heap_cap * sizeof *q->heap);
    b->bytes += (size_t)cap * sizeof *q->bmap + (size_t)q->heap_cap * sizeof *q->heap;
}

static fl__tbucket *bucket_find(const fl__timer_queue *q, int64_t time) {
    if (q->last && q->last->time == time) return q->last;
    if (!q->bmap) return NULL;
    for (uint32_t i = bmap_home(q, time);; i = (i + 1) & q->bmap_mask) {
        fl__tbucket *k = q->bmap[i];
        if (!k || k->time == time) return k;
    }
}

/* The bucket of time, created when there is none. */
static fl__tbucket *bucket_get(fl_keyed_backend *b, fl__timer_queue *q, int64_t time) {
    fl__tbucket *k = bucket_find(q, time);
    if (!k) {
        if (q->n_buckets == q->heap_cap)
            buckets_resize(b, q, q->bmap ? (q->bmap_mask + 1) * 2 : MIN_SET_CAPACITY);
        k = fl_xcalloc(1, sizeof *k);
        k->time = time;
        b->bytes += sizeof *k;
        uint32_t i = bmap_home(q, time);
        while (q->bmap[i]) i = (i + 1) & q->bmap_mask;
        q->bmap[i] = k;
        heap_place(q, q->n_buckets++, k);
        sift_up(q, k->heap_pos);
    }
    q->last = k;
    return k;
}

/* Removes the (empty) bucket k from the heap and the map and frees it. */
static void bucket_drop(fl_keyed_backend *b, fl__timer_queue *q, fl__tbucket *k) {
    uint32_t i = k->heap_pos;
    fl__tbucket *moved = q->heap[--q->n_buckets];
    if (i != q->n_buckets) {
        heap_place(q, i, moved);
        if (i > 0 && moved->time < q->heap[(i - 1) / 2]->time)
            sift_up(q, i);
        else
            sift_down(q, i);
    }
    /* Out of the map, shifting the entries after it back (linear probing). */
    uint32_t hole = bmap_home(q, k->time);
    while (q->bmap[hole] != k) hole = (hole + 1) & q->bmap_mask;
    for (uint32_t j = hole;;) {
        j = (j + 1) & q->bmap_mask;
        fl__tbucket *e = q->bmap[j];
        if (!e) break;
        if (fl__probe_stays(hole, j, bmap_home(q, e->time))) continue;
        q->bmap[hole] = e;
        hole = j;
    }
    q->bmap[hole] = NULL;
    if (q->last == k) q->last = NULL;
    b->bytes -= sizeof *k;
    free(k);
    uint32_t cap = q->bmap_mask + 1;
    if (q->n_buckets == 0)
        buckets_resize(b, q, 0);
    else if (cap > MIN_SET_CAPACITY && (size_t)q->n_buckets * 8 < cap)
        buckets_resize(b, q, cap / 2);
}

/* Appends t to its time's bucket and the node array. */
static void queue_add(fl_keyed_backend *b, fl__timer_queue *q, fl__timer *t) {
    fl__tbucket *k = bucket_get(b, q, t->time);
    t->bucket = k;
    t->next = NULL;
    t->prev = k->tail;
    if (k->tail)
        k->tail->next = t;
    else
        k->head = t;
    k->tail = t;
    nodes_push(b, q, t);
}

/* Takes t out of its bucket (dropping the bucket once empty) and the node array. */
static void queue_remove(fl_keyed_backend *b, fl__timer_queue *q, fl__timer *t) {
    fl__tbucket *k = t->bucket;
    if (t->prev)
        t->prev->next = t->next;
    else
        k->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        k->tail = t->prev;
    if (!k->head) bucket_drop(b, q, k);
    nodes_remove(b, q, t);
}

/* ---- the set
 * ------------------------------------------------------------------------------------- */

static uint32_t set_cap(const fl__timer_queue *q) { return q->set ? q->set_mask + 1 : 0; }

static uint32_t set_home(const fl__timer_queue *q, uint64_t h) {
    return fl__fib_home(h, q->set_shift);
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
    q->set_shift = fl__fib_shift(cap);
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
        if (fl__probe_stays(hole, j, set_home(q, sl->hash))) continue;
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
        for (uint32_t i = 0; i < q->count; i++) drop_node(b, q->nodes[i]);
        q->count = 0;
        nodes_resize(b, q, 0);
        for (uint32_t i = 0; i < q->n_buckets; i++) {
            b->bytes -= sizeof *q->heap[i];
            free(q->heap[i]);
        }
        q->n_buckets = 0;
        q->last = NULL;
        buckets_resize(b, q, 0);
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
    queue_add(b, q, t);
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
    queue_remove(b, q, t);
    drop_node(b, t);
}

int64_t fl_timer_next(const fl_keyed_backend *b, fl_time_domain d) {
    const fl__timer_queue *q = &b->timers[d == FL_PROCESSING_TIME ? 1 : 0];
    return q->n_buckets ? q->heap[0]->time : INT64_MAX;
}

size_t fl_timer_count(const fl_keyed_backend *b, fl_time_domain d) {
    return b->timers[d == FL_PROCESSING_TIME ? 1 : 0].count;
}

int fl_timer_pop(fl_keyed_backend *b, fl_time_domain d, int64_t upto, fl_timer *out) {
    fl__timer_queue *q = queue(b, d);
    free_popped(b, q);
    if (q->n_buckets == 0 || q->heap[0]->time > upto) return 0;
    fl__timer *t = q->heap[0]->head;
    set_remove(b, q, t, q->count - 1);
    queue_remove(b, q, t);
    q->popped = t;
    fl_keyed_backend_set_key(b, t->data, t->klen, t->key_hash);
    out->time = t->time;
    out->key = t->data;
    out->key_len = t->klen;
    out->ns = t->data + t->klen;
    out->ns_len = t->nslen;
    return 1;
}
