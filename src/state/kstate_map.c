/*
 * kstate_map.c - map state: the (key, namespace) entry is a container whose
 * payload is a nested table (kstate_table.c) of map entries, each an entry
 * of its own with the map key row as its key, no namespace, and the value
 * row as payload. Map keys are compared by their row bytes and hashed with
 * fl_hash_bytes. The container exists while the map holds an entry: removing
 * the last one removes it.
 *
 * TTL is per map entry (as in Flink): each has its deadline; an expired one
 * is never returned and is dropped when met (get, contains, remove,
 * entries, is_empty). Every map entry counts in fl_keyed_backend_entries; the
 * container does not.
 *
 * Copy-on-write: the nested table's header lives in the container, so any
 * change to a map first makes the container writable (a copy, sharing the
 * nested slot array and entries, when a view shares it), then the nested
 * slot array (kstate_table.c), then the map entry it changes.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "state_int.h"

static void drop_map_entry(void *arg, fl__entry *me) {
    fl_keyed_backend *b = arg;
    b->entries--;
    fl__drop(b, me, me->version, fl__entry_bytes(me));
}

void fl__map_drop_nested(fl_kstate *s, fl__entry *container) {
    /* Read, never written: the container may be in a view. */
    const fl__table *t = fl__map_nested(container);
    uint32_t cap = fl__table_capacity(t);
    for (uint32_t i = 0; i < cap; i++)
        if (t->slots[i].e) drop_map_entry(s->b, t->slots[i].e);
    if (t->slots) fl__drop(s->b, t->slots, t->version, (size_t)cap * sizeof(fl__slot));
}

bool fl__map_has_live(const fl__entry *container, int64_t now) {
    const fl__table *t = fl__map_nested(container);
    uint32_t cap = fl__table_capacity(t);
    for (uint32_t i = 0; i < cap; i++)
        if (t->slots[i].e && fl__entry_live(t->slots[i].e, now)) return true;
    return false;
}

/* The nested table of the container at loc, in a container that may be changed. */
static fl__table *own_nested(fl_kstate *s, fl__loc *loc) {
    return fl__map_nested(fl__kstate_own(s, loc));
}

void fl__map_purge(fl_kstate *s, fl__loc *loc, int64_t now) {
    if (!fl__table_has_expired(fl__map_nested(loc->e), now)) return;
    fl__table *t = own_nested(s, loc);
    fl__table_purge(t, now, drop_map_entry, s->b, s->b);
    if (t->count == 0) fl__kstate_remove(s, loc);
}

/* The container of the current (key, namespace), or NULL; false without a
 * valid key. */
static bool container(fl_kstate *s, fl__loc *loc) {
    return s->kind == FL_STATE_MAP && fl__kstate_locate(s, loc);
}

uint64_t fl__map_key_hash(const void *map_key, uint32_t klen) {
    return fl_hash_bytes(map_key, klen);
}

static uint64_t map_key_hash(const fl_row *k) { return fl__map_key_hash(k, fl__row_len(k)); }

/* Removes the map entry in slot of the container at loc (which must be
 * owned) and the container when that was its last entry. */
static void remove_map_entry(fl_kstate *s, fl__loc *loc, uint32_t slot) {
    fl__table *t = fl__map_nested(loc->e);
    fl__entry *me = t->slots[slot].e;
    fl__table_remove_at(t, slot, s->b);
    drop_map_entry(s->b, me);
    if (t->count == 0) fl__kstate_remove(s, loc);
}

/* The live map entry for k in the container at loc (dropping it when expired,
 * and the container with it when that was the last), refreshed when read
 * under FL_TTL_ON_READ_AND_WRITE. */
static fl__entry *map_find(fl_kstate *s, fl__loc *loc, const fl_row *k, bool read) {
    if (!loc->e) return NULL;
    uint32_t slot;
    fl__entry *me =
        fl__table_find(fl__map_nested(loc->e), map_key_hash(k), k, fl__row_len(k), NULL, 0, &slot);
    if (!me || !fl__kstate_has_ttl(s)) return me;
    int64_t now = fl__kstate_now(s);
    if (fl__entry_live(me, now)) {
        if (read && s->ttl_update == FL_TTL_ON_READ_AND_WRITE) {
            fl__table *t = own_nested(s, loc);
            me = fl__entry_own(s->b, t, slot, me->vcap, true);
            me->deadline = fl__ttl_deadline(now, s->ttl_ms);
        }
        return me;
    }
    own_nested(s, loc);
    remove_map_entry(s, loc, slot);
    return NULL;
}

const fl_row *fl_kstate_map_get(fl_kstate *s, const fl_row *map_key) {
    fl__loc loc;
    if (!map_key || !container(s, &loc)) return NULL;
    fl__entry *me = map_find(s, &loc, map_key, true);
    return me ? (const fl_row *)fl__entry_payload(me) : NULL;
}

bool fl_kstate_map_contains(fl_kstate *s, const fl_row *map_key) {
    fl__loc loc;
    if (!map_key || !container(s, &loc)) return false;
    return map_find(s, &loc, map_key, true) != NULL;
}

fl__entry *fl__map_entry_new(const fl_keyed_backend *b, const fl_row *map_key, uint32_t klen,
                             const fl_row *value, uint32_t vlen, int64_t deadline) {
    /* rows are multiples of 8: no padding between key and payload */
    fl__entry *me = fl__entry_new(b, map_key, klen, NULL, 0, value, vlen, vlen);
    me->deadline = deadline;
    return me;
}

int fl_kstate_map_put(fl_kstate *s, const fl_row *map_key, const fl_row *value) {
    if (s->kind != FL_STATE_MAP) return FL_ESTATE;
    if (!map_key || !value) return FL_EINVAL;
    fl__loc loc;
    if (!container(s, &loc)) return FL_ESTATE;
    fl_keyed_backend *b = s->b;
    if (!loc.e) {
        fl__table empty = {0};
        fl__kstate_store(s, &loc, s->ns, s->ns_len, s->ns_hash, &empty, sizeof empty, 0);
        loc.e->deadline = FL__NO_DEADLINE; /* the container never expires, its entries do */
    }
    fl__table *t = own_nested(s, &loc);
    int64_t deadline = FL__NO_DEADLINE;
    if (fl__kstate_has_ttl(s)) deadline = fl__ttl_deadline(fl__kstate_now(s), s->ttl_ms);
    uint32_t klen = fl__row_len(map_key), vlen = fl__row_len(value), slot;
    uint64_t h = map_key_hash(map_key);
    fl__entry *me = fl__table_find(t, h, map_key, klen, NULL, 0, &slot);
    if (me) {
        uint32_t vcap = fl__entry_needs_realloc(me, value, vlen) ? fl__payload_cap(vlen) : me->vcap;
        /* A shared entry is copied (value may be its own row: the old
         * entry stays for the views); a reallocation never meets value
         * inside the entry (fl__entry_needs_realloc). */
        me = fl__entry_own(s->b, t, slot, vcap, true);
        memmove(fl__entry_payload(me), value, vlen);
        me->vlen = vlen;
        me->deadline = deadline;
        return 0;
    }
    me = fl__map_entry_new(b, map_key, klen, value, vlen, deadline);
    fl__table_add(t, slot, h, me, true, b);
    return 0;
}

int fl_kstate_map_remove(fl_kstate *s, const fl_row *map_key) {
    if (s->kind != FL_STATE_MAP) return FL_ESTATE;
    if (!map_key) return FL_EINVAL;
    fl__loc loc;
    if (!container(s, &loc)) return FL_ESTATE;
    if (!map_find(s, &loc, map_key, false)) return 0; /* absent, or expired and dropped */
    uint32_t slot;
    fl__table_find(own_nested(s, &loc), map_key_hash(map_key), map_key, fl__row_len(map_key), NULL,
                   0, &slot);
    remove_map_entry(s, &loc, slot);
    return 1;
}

size_t fl_kstate_map_entries(fl_kstate *s, const fl_row *const **keys,
                             const fl_row *const **values) {
    *keys = NULL;
    *values = NULL;
    fl__loc loc;
    if (!container(s, &loc) || !loc.e) return 0;
    if (fl__kstate_has_ttl(s)) {
        int64_t now = fl__kstate_now(s);
        fl__map_purge(s, &loc, now);
        if (!loc.e) return 0;
        if (s->ttl_update == FL_TTL_ON_READ_AND_WRITE) {
            fl__table *t = own_nested(s, &loc);
            int64_t deadline = fl__ttl_deadline(now, s->ttl_ms);
            for (uint32_t i = 0; i < fl__table_capacity(t); i++) {
                if (!t->slots[i].e) continue;
                fl__entry_own(s->b, t, i, t->slots[i].e->vcap, true)->deadline = deadline;
            }
        }
    }
    fl__table *t = fl__map_nested(loc.e);
    const fl_row **k = fl__kstate_ptrs(s, t->count), **v = fl__kstate_vals(s, t->count);
    size_t n = 0;
    for (uint32_t i = 0; i < fl__table_capacity(t); i++) {
        fl__entry *me = t->slots[i].e;
        if (!me) continue;
        k[n] = (const fl_row *)me->data;
        v[n] = (const fl_row *)fl__entry_payload(me);
        n++;
    }
    *keys = k;
    *values = v;
    return n;
}
