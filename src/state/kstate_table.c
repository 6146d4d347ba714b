/*
 * kstate_table.c - the hash table of one state in one key group (and of one
 * map state's (key, namespace), whose map entries are entries too).
 *
 * Open addressing with linear probing: a slot is (composite hash, entry
 * pointer), so a probe compares hashes in the slot array and touches an entry
 * only when the hash matches. Deletion shifts the following run back (no
 * tombstones), so a table that churns keeps its probe lengths. The home slot
 * is the top bits of hash * 2^64/phi (Fibonacci hashing), which spreads even
 * poorly mixed hashes. The slot array grows at 3/4 load, shrinks below 1/8
 * and is freed when the table empties, so that an emptied state returns its
 * memory (and fl_keyed_backend_bytes to about 0).
 *
 * Copy-on-write: a slot array that a live view shares (its version is not
 * newer than the newest view's) is copied before its first change, and the
 * old one is dropped to the views (README.md, "Snapshots").
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mem.h"
#include "state_int.h"

#define MIN_CAPACITY 16u

static inline uint32_t home(const fl__table *t, uint64_t h) { return fl__fib_home(h, t->shift); }

static inline bool matches(const fl__entry *e, const void *key, uint32_t klen, const void *ns,
                           uint32_t nslen) {
    return e->klen == klen && e->nslen == nslen && fl__bytes_equal(e->data, key, klen) &&
           fl__bytes_equal(e->data + klen, ns, nslen);
}

fl__entry *fl__table_find(const fl__table *t, uint64_t h, const void *key, uint32_t klen,
                          const void *ns, uint32_t nslen, uint32_t *slot) {
    if (!t->slots) {
        *slot = FL__NO_SLOT;
        return NULL;
    }
    uint32_t i = home(t, h);
    for (;;) {
        const fl__slot *sl = &t->slots[i];
        if (!sl->e) {
            *slot = i;
            return NULL;
        }
        if (sl->hash == h && matches(sl->e, key, klen, ns, nslen)) {
            *slot = i;
            return sl->e;
        }
        i = (i + 1) & t->mask;
    }
}

void fl_kstate_prefetch(const fl_kstate *s, uint64_t key_hash, uint64_t ns_hash, bool entry) {
    const fl_keyed_backend *b = s->b;
    int g = fl_key_group_of_hash(key_hash, b->max_parallelism);
    if (g < b->first_key_group || g > b->last_key_group) return;
    const fl__table *t = &s->groups[g - b->first_key_group];
    if (!t->slots) return;
    uint64_t h = key_hash ^ ns_hash;
    const fl__slot *sl = &t->slots[home(t, h)];
    if (!entry) {
        __builtin_prefetch(sl);
        return;
    }
    const fl__entry *e = sl->e;
    if (e && sl->hash == h) {
        __builtin_prefetch(e);
        __builtin_prefetch((const uint8_t *)e + 64);
    }
}

uint64_t fl_kstate_namespace_hash(const void *ns, uint32_t len) { return fl__ns_hash(ns, len); }

static size_t slots_bytes(uint32_t cap) { return (size_t)cap * sizeof(fl__slot); }

/* Moves every entry into a new slot array of capacity cap (a power of two);
 * the old array is dropped (left to the views that share it). */
static void rehash(fl__table *t, uint32_t cap, fl_keyed_backend *b) {
    fl__slot *old = t->slots;
    uint32_t old_cap = fl__table_capacity(t), old_version = t->version;
    t->slots = fl_xcalloc(cap, sizeof *t->slots);
    t->mask = cap - 1;
    t->shift = fl__fib_shift(cap);
    t->version = b->version;
    for (uint32_t j = 0; j < old_cap; j++) {
        if (!old[j].e) continue;
        uint32_t i = home(t, old[j].hash);
        while (t->slots[i].e) i = (i + 1) & t->mask;
        t->slots[i] = old[j];
    }
    b->bytes += slots_bytes(cap);
    if (old) fl__drop(b, old, old_version, slots_bytes(old_cap));
}

void fl__table_own(fl__table *t, fl_keyed_backend *b) {
    if (!t->slots || !fl__shared(b, t->version)) return;
    uint32_t cap = fl__table_capacity(t);
    fl__slot *copy = fl_xmalloc(slots_bytes(cap));
    memcpy(copy, t->slots, slots_bytes(cap));
    b->bytes += slots_bytes(cap);
    fl__drop(b, t->slots, t->version, slots_bytes(cap));
    t->slots = copy;
    t->version = b->version;
}

uint32_t fl__table_insert(fl__table *t, uint32_t slot, uint64_t h, fl__entry *e,
                          fl_keyed_backend *b) {
    uint32_t cap = fl__table_capacity(t);
    if ((size_t)(t->count + 1) * 4 > (size_t)cap * 3) {
        rehash(t, cap ? cap * 2 : MIN_CAPACITY, b);
        slot = FL__NO_SLOT;
    } else {
        fl__table_own(t, b);
    }
    if (slot == FL__NO_SLOT) {
        slot = home(t, h);
        while (t->slots[slot].e) slot = (slot + 1) & t->mask;
    }
    assert(t->slots[slot].e == NULL);
    t->slots[slot].hash = h;
    t->slots[slot].e = e;
    t->count++;
    return slot;
}

void fl__table_set(fl__table *t, uint32_t slot, fl__entry *e, fl_keyed_backend *b) {
    assert(t->slots && slot <= t->mask && t->slots[slot].e);
    fl__table_own(t, b);
    t->slots[slot].e = e;
}

void fl__table_remove_at(fl__table *t, uint32_t slot, fl_keyed_backend *b) {
    assert(t->slots && slot <= t->mask && t->slots[slot].e);
    t->count--;
    if (t->count == 0) {
        fl__drop(b, t->slots, t->version, slots_bytes(fl__table_capacity(t)));
        t->slots = NULL;
        t->mask = 0;
        t->shift = 0;
        return;
    }
    fl__table_own(t, b);
    /* Backward shift: pull each following entry of the run into the hole
     * unless its home lies cyclically in (hole, j]. */
    uint32_t hole = slot, j = slot;
    for (;;) {
        j = (j + 1) & t->mask;
        fl__slot *sl = &t->slots[j];
        if (!sl->e) break;
        if (fl__probe_stays(hole, j, home(t, sl->hash))) continue;
        t->slots[hole] = *sl;
        hole = j;
    }
    t->slots[hole].e = NULL;
    t->slots[hole].hash = 0;

    uint32_t cap = fl__table_capacity(t);
    if (cap > MIN_CAPACITY && (size_t)t->count * 8 < cap) {
        uint32_t want = MIN_CAPACITY;
        while (want < t->count * 2) want *= 2;
        rehash(t, want, b);
    }
}

void fl__table_clear(fl__table *t, void (*drop_entry)(void *arg, fl__entry *e), void *arg,
                     fl_keyed_backend *b) {
    uint32_t cap = fl__table_capacity(t);
    for (uint32_t i = 0; i < cap; i++)
        if (t->slots[i].e) drop_entry(arg, t->slots[i].e);
    if (t->slots) fl__drop(b, t->slots, t->version, slots_bytes(cap));
    t->slots = NULL;
    t->mask = t->count = t->shift = 0;
}

bool fl__table_has_expired(const fl__table *t, int64_t now) {
    uint32_t cap = fl__table_capacity(t);
    for (uint32_t i = 0; i < cap; i++)
        if (t->slots[i].e && !fl__entry_live(t->slots[i].e, now)) return true;
    return false;
}

size_t fl__table_purge(fl__table *t, int64_t now, void (*drop_entry)(void *arg, fl__entry *e),
                       void *arg, fl_keyed_backend *b) {
    uint32_t cap = fl__table_capacity(t);
    size_t expired = 0;
    for (uint32_t i = 0; i < cap; i++)
        if (t->slots[i].e && !fl__entry_live(t->slots[i].e, now)) expired++;
    if (expired == 0) return 0;
    /* Rebuild rather than delete one by one: removing shifts entries that a
     * forward scan would then miss or see twice. The old array is only read
     * (a view may share it) and dropped at the end. */
    fl__slot *old = t->slots;
    uint32_t old_version = t->version;
    uint32_t live = t->count - (uint32_t)expired;
    t->slots = NULL;
    t->mask = t->count = t->shift = 0;
    if (live > 0) {
        uint32_t want = MIN_CAPACITY;
        while ((size_t)live * 4 > (size_t)want * 3 || want < live * 2) want *= 2;
        rehash(t, want, b); /* from an empty table: just allocates */
    }
    for (uint32_t i = 0; i < cap; i++) {
        fl__entry *e = old[i].e;
        if (!e) continue;
        if (fl__entry_live(e, now)) {
            fl__table_insert(t, FL__NO_SLOT, old[i].hash, e, b);
        } else {
            drop_entry(arg, e);
        }
    }
    fl__drop(b, old, old_version, slots_bytes(cap));
    return expired;
}
