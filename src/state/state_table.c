/*
 * state_table.c - chained hash tables per key group (see state_table.h).
 *
 * An entry is one allocation: header, key bytes, then value bytes with some
 * slack so that a value which changes size a little (a running sum, a
 * replaced row of similar length) is updated in place.
 */
#include "state_table.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    uint32_t klen, vlen, vcap;
    uint8_t data[]; /* key, then value */
} entry;

typedef struct group_table {
    entry **buckets;
    uint32_t mask; /* buckets - 1; 0 buckets while empty */
    uint32_t count;
} group_table;

struct fl_state_table {
    int first, last;
    group_table *groups;
    size_t count;
    size_t bytes;
};

fl_state_table *fl_state_table_create(int first_key_group, int last_key_group) {
    fl_state_table *t = fl_xcalloc(1, sizeof *t);
    t->first = first_key_group;
    t->last = last_key_group;
    t->groups = fl_xcalloc((size_t)(last_key_group - first_key_group + 1), sizeof *t->groups);
    return t;
}

void fl_state_table_destroy(fl_state_table *t) {
    if (!t) return;
    for (int g = 0; g <= t->last - t->first; g++) {
        group_table *gt = &t->groups[g];
        if (!gt->buckets) continue;
        for (uint32_t b = 0; b <= gt->mask; b++) {
            entry *e = gt->buckets[b];
            while (e) {
                entry *n = e->next;
                free(e);
                e = n;
            }
        }
        free(gt->buckets);
    }
    free(t->groups);
    free(t);
}

static group_table *group(fl_state_table *t, int key_group) {
    return &t->groups[key_group - t->first];
}

static entry **find(group_table *gt, uint64_t hash, const void *key, uint32_t klen) {
    if (!gt->buckets) return NULL;
    entry **slot = &gt->buckets[(hash >> 7) & gt->mask];
    while (*slot) {
        entry *e = *slot;
        if (e->hash == hash && e->klen == klen && memcmp(e->data, key, klen) == 0) return slot;
        slot = &e->next;
    }
    return NULL;
}

static void grow(group_table *gt) {
    uint32_t n = gt->buckets ? (gt->mask + 1) * 2 : 16;
    entry **nb = fl_xcalloc(n, sizeof *nb);
    if (gt->buckets) {
        for (uint32_t b = 0; b <= gt->mask; b++) {
            entry *e = gt->buckets[b];
            while (e) {
                entry *next = e->next;
                uint32_t i = (uint32_t)(e->hash >> 7) & (n - 1);
                e->next = nb[i];
                nb[i] = e;
                e = next;
            }
        }
        free(gt->buckets);
    }
    gt->buckets = nb;
    gt->mask = n - 1;
}

const void *fl_state_table_get(fl_state_table *t, int key_group, uint64_t hash, const void *key,
                               uint32_t klen, uint32_t *vlen) {
    entry **slot = find(group(t, key_group), hash, key, klen);
    if (!slot) return NULL;
    *vlen = (*slot)->vlen;
    return (*slot)->data + (*slot)->klen;
}

static size_t entry_bytes(uint32_t klen, uint32_t vcap) { return sizeof(entry) + klen + vcap; }

void fl_state_table_put(fl_state_table *t, int key_group, uint64_t hash, const void *key,
                        uint32_t klen, const void *value, uint32_t vlen) {
    group_table *gt = group(t, key_group);
    entry **slot = find(gt, hash, key, klen);
    if (slot) {
        entry *e = *slot;
        if (vlen > e->vcap) {
            uint32_t vcap = vlen + vlen / 4;
            entry *ne = fl_xrealloc(e, entry_bytes(klen, vcap));
            t->bytes += vcap - ne->vcap;
            ne->vcap = vcap;
            *slot = ne;
            e = ne;
        }
        memcpy(e->data + klen, value, vlen);
        e->vlen = vlen;
        return;
    }
    if (!gt->buckets || gt->count >= gt->mask + 1) grow(gt);
    uint32_t vcap = vlen + vlen / 8;
    entry *e = fl_xmalloc(entry_bytes(klen, vcap));
    e->hash = hash;
    e->klen = klen;
    e->vlen = vlen;
    e->vcap = vcap;
    memcpy(e->data, key, klen);
    memcpy(e->data + klen, value, vlen);
    uint32_t i = (uint32_t)(hash >> 7) & gt->mask;
    e->next = gt->buckets[i];
    gt->buckets[i] = e;
    gt->count++;
    t->count++;
    t->bytes += entry_bytes(klen, vcap);
}

int fl_state_table_remove(fl_state_table *t, int key_group, uint64_t hash, const void *key,
                          uint32_t klen) {
    group_table *gt = group(t, key_group);
    entry **slot = find(gt, hash, key, klen);
    if (!slot) return 0;
    entry *e = *slot;
    *slot = e->next;
    t->bytes -= entry_bytes(e->klen, e->vcap);
    free(e);
    gt->count--;
    t->count--;
    return 1;
}

size_t fl_state_table_count(const fl_state_table *t) { return t->count; }
size_t fl_state_table_bytes(const fl_state_table *t) { return t->bytes; }

int fl_state_table_foreach(const fl_state_table *t, fl_state_visit_fn fn, void *arg) {
    for (int g = 0; g <= t->last - t->first; g++) {
        const group_table *gt = &t->groups[g];
        if (!gt->buckets) continue;
        for (uint32_t b = 0; b <= gt->mask; b++) {
            for (entry *e = gt->buckets[b]; e; e = e->next) {
                int rc = fn(arg, t->first + g, e->data, e->klen, e->data + e->klen, e->vlen);
                if (rc) return rc;
            }
        }
    }
    return 0;
}
