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
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mem.h"
#include "state_int.h"

static fl__table *nested(fl__entry *container) { return (fl__table *)fl__entry_payload(container); }

static void free_map_entry(void *arg, fl__entry *me) {
    fl_keyed_backend *b = arg;
    b->bytes -= fl__entry_bytes(me);
    b->entries--;
    free(me);
}

void fl__map_free_nested(fl_kstate *s, fl__entry *container) {
    fl__table_clear(nested(container), free_map_entry, s->b, &s->b->bytes);
}

bool fl__map_has_live(const fl__entry *container, int64_t now) {
    const fl__table *t =
        (const fl__table *)(container->data +
                            fl__entry_payload_off(container->klen, container->nslen));
    uint32_t cap = fl__table_capacity(t);
    for (uint32_t i = 0; i < cap; i++)
        if (t->slots[i].e && fl__entry_live(t->slots[i].e, now)) return true;
    return false;
}

void fl__map_purge(fl_kstate *s, fl__loc *loc, int64_t now) {
    fl__table *t = nested(loc->e);
    fl__table_purge(t, now, free_map_entry, s->b, &s->b->bytes);
    if (t->count == 0) fl__kstate_remove(s, loc);
}

/* The container of the current (key, namespace), or NULL; false without a
 * valid key. */
static bool container(fl_kstate *s, fl__loc *loc) {
    return s->kind == FL_STATE_MAP && fl__kstate_locate(s, loc);
}

static uint64_t map_key_hash(const fl_row *k) { return fl_hash_bytes(k, fl__row_len(k)); }

/* The live map entry for k in the container at loc (dropping it when expired,
 * and the container with it when that was the last), refreshed when read
 * under FL_TTL_ON_READ_AND_WRITE. */
static fl__entry *map_find(fl_kstate *s, fl__loc *loc, const fl_row *k, bool read) {
    if (!loc->e) return NULL;
    fl__table *t = nested(loc->e);
    uint32_t slot;
    fl__entry *me = fl__table_find(t, map_key_hash(k), k, fl__row_len(k), NULL, 0, &slot);
    if (!me || !fl__kstate_has_ttl(s)) return me;
    int64_t now = fl__kstate_now(s);
    if (fl__entry_live(me, now)) {
        if (read && s->ttl_update == FL_TTL_ON_READ_AND_WRITE)
            me->deadline = fl__ttl_deadline(now, s->ttl_ms);
        return me;
    }
    fl__table_remove_at(t, slot, &s->b->bytes);
    free_map_entry(s->b, me);
    if (t->count == 0) fl__kstate_remove(s, loc);
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
    fl__table *t = nested(loc.e);
    int64_t deadline = FL__NO_DEADLINE;
    if (fl__kstate_has_ttl(s)) deadline = fl__ttl_deadline(fl__kstate_now(s), s->ttl_ms);
    uint32_t klen = fl__row_len(map_key), vlen = fl__row_len(value), slot;
    uint64_t h = map_key_hash(map_key);
    fl__entry *me = fl__table_find(t, h, map_key, klen, NULL, 0, &slot);
    if (me) {
        if (fl__entry_needs_realloc(me, value, vlen)) {
            uint32_t vcap = vlen > UINT32_MAX / 2 ? vlen : fl__align8(vlen + vlen / 4);
            size_t old = fl__entry_bytes(me);
            me = fl_xrealloc(me, fl__entry_size(klen, 0, vcap));
            me->vcap = vcap;
            b->bytes += fl__entry_bytes(me) - old;
            t->slots[slot].e = me;
        }
        memmove(fl__entry_payload(me), value, vlen);
        me->vlen = vlen;
        me->deadline = deadline;
        return 0;
    }
    me = fl_xmalloc(fl__entry_size(klen, 0, vlen));
    me->deadline = deadline;
    me->klen = klen;
    me->nslen = 0;
    me->vlen = me->vcap = vlen;
    me->count = 0;
    me->version = 0;
    memcpy(me->data, map_key, klen); /* rows are multiples of 8: no padding */
    memcpy(fl__entry_payload(me), value, vlen);
    fl__table_insert(t, slot, h, me, &b->bytes);
    b->bytes += fl__entry_bytes(me);
    b->entries++;
    return 0;
}

int fl_kstate_map_remove(fl_kstate *s, const fl_row *map_key) {
    if (s->kind != FL_STATE_MAP) return FL_ESTATE;
    if (!map_key) return FL_EINVAL;
    fl__loc loc;
    if (!container(s, &loc)) return FL_ESTATE;
    if (!map_find(s, &loc, map_key, false)) return 0; /* absent, or expired and dropped */
    fl__table *t = nested(loc.e);
    uint32_t slot;
    fl__entry *me =
        fl__table_find(t, map_key_hash(map_key), map_key, fl__row_len(map_key), NULL, 0, &slot);
    fl__table_remove_at(t, slot, &s->b->bytes);
    free_map_entry(s->b, me);
    if (t->count == 0) fl__kstate_remove(s, &loc);
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
            fl__table *t = nested(loc.e);
            int64_t deadline = fl__ttl_deadline(now, s->ttl_ms);
            for (uint32_t i = 0; i < fl__table_capacity(t); i++)
                if (t->slots[i].e) t->slots[i].e->deadline = deadline;
        }
    }
    fl__table *t = nested(loc.e);
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
