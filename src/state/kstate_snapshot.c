/*
 * kstate_snapshot.c - writes a view of the heap keyed backend (taken by
 * fl_keyed_backend_snapshot in kstate_cow.c) in the format of
 * kstate_format.h: header, state descriptors, one block per key group with
 * its entries and timers, an index of the blocks with their checksums, and
 * a trailer with the checksum of the rest.
 *
 * This runs in any thread, concurrently with the owner changing the backend:
 * it reads only the view and the objects the view shares (slot arrays,
 * entries, nested map tables, timer nodes but their queue links), which
 * copy-on-write keeps unchanged, and never the backend itself. Output goes
 * through a buffer to the caller's write function; checksums are computed
 * over the buffer's spans, not per field.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include "kstate_format.h"
#include "mem.h"
#include "state_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "keyed state snapshots are little endian; this platform is not"
#endif

#define OUT_BUFFER (256u * 1024u)
#define OUT_DIRECT (16u * 1024u) /* pieces this long bypass the buffer */

typedef struct out {
    fl_snapshot_write_fn write;
    void *arg;
    uint8_t *buf;
    size_t pos, cap;
    uint64_t flushed;    /* bytes handed to write (or skipped after a failure) */
    XXH64_state_t *hash; /* what the bytes from hash_from on go into, or NULL */
    size_t hash_from;
    int rc; /* the first failure of write */
} out;

static void out_hash_sync(out *o) {
    if (o->hash && o->pos > o->hash_from)
        XXH64_update(o->hash, o->buf + o->hash_from, o->pos - o->hash_from);
    o->hash_from = o->pos;
}

static void out_flush(out *o) {
    out_hash_sync(o);
    if (o->pos && o->rc == 0) {
        int rc = o->write(o->arg, o->buf, o->pos);
        if (rc < 0) o->rc = rc;
    }
    o->flushed += o->pos;
    o->pos = o->hash_from = 0;
}

/* Room for n bytes at buf + pos (the caller advances pos). */
static uint8_t *out_reserve(out *o, size_t n) {
    if (o->cap - o->pos < n) {
        out_flush(o);
        if (n > o->cap) {
            free(o->buf);
            o->buf = fl_xmalloc(n);
            o->cap = n;
        }
    }
    return o->buf + o->pos;
}

static void out_put(out *o, const void *p, size_t n) {
    if (n < OUT_DIRECT) {
        memcpy(out_reserve(o, n), p, n);
        o->pos += n;
        return;
    }
    out_flush(o);
    if (o->hash) XXH64_update(o->hash, p, n);
    if (o->rc == 0) {
        int rc = o->write(o->arg, p, n);
        if (rc < 0) o->rc = rc;
    }
    o->flushed += n;
}

/* From now on the bytes go into h (NULL: no checksum). */
static void out_hash_into(out *o, XXH64_state_t *h) {
    out_hash_sync(o);
    o->hash = h;
}

static uint64_t out_offset(const out *o) { return o->flushed + o->pos; }

static uint8_t *put_u8(uint8_t *p, uint8_t v) {
    *p = v;
    return p + 1;
}
static uint8_t *put_u16(uint8_t *p, uint16_t v) {
    memcpy(p, &v, 2);
    return p + 2;
}
static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
    return p + 4;
}
static uint8_t *put_u64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, 8);
    return p + 8;
}
static uint8_t *put_bytes(uint8_t *p, const void *q, size_t n) {
    if (n) memcpy(p, q, n);
    return p + n;
}

static void out_u32(out *o, uint32_t v) {
    put_u32(out_reserve(o, 4), v);
    o->pos += 4;
}

/* ---- header and descriptors ------------------------------------------------------------------ */

static void put_schema(out *o, const fl_schema *s) {
    int n = fl_schema_num_fields(s);
    out_u32(o, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        const char *name = fl_schema_field_name(s, i);
        uint32_t len = (uint32_t)strlen(name);
        uint8_t *p = out_reserve(o, 5 + (size_t)len);
        p = put_u8(p, (uint8_t)fl_schema_field_type(s, i));
        p = put_u32(p, len);
        put_bytes(p, name, len);
        o->pos += 5 + (size_t)len;
    }
}

static void put_header(out *o, const fl_keyed_snapshot *v) {
    uint8_t *p = out_reserve(o, FL__SNAP_HEADER), *start = p;
    p = put_bytes(p, FL__SNAP_MAGIC, 8);
    p = put_u32(p, FL__SNAP_VERSION);
    p = put_u32(p, 0);
    p = put_u32(p, (uint32_t)v->max_parallelism);
    p = put_u32(p, (uint32_t)v->first_key_group);
    p = put_u32(p, (uint32_t)v->last_key_group);
    p = put_u32(p, (uint32_t)v->n_states);
    p = put_u64(p, (uint64_t)v->now);
    o->pos += (size_t)(p - start);
    for (size_t i = 0; i < v->n_states; i++) {
        const fl__view_state *vs = &v->states[i];
        uint32_t len = (uint32_t)strlen(vs->name);
        p = out_reserve(o, 16 + (size_t)len);
        start = p;
        p = put_u32(p, len);
        p = put_bytes(p, vs->name, len);
        p = put_u8(p, (uint8_t)vs->kind);
        p = put_u8(p, (uint8_t)vs->ttl_update);
        p = put_u16(p, 0);
        p = put_u64(p, (uint64_t)vs->ttl_ms);
        o->pos += (size_t)(p - start);
        put_schema(o, vs->value_schema);
        if (vs->kind == FL_STATE_MAP) put_schema(o, vs->map_key_schema);
        if (vs->kind == FL_STATE_AGGREGATING) {
            put_schema(o, vs->acc_schema);
            put_schema(o, vs->result_schema);
        }
    }
}

/* ---- entries --------------------------------------------------------------------------------- */

/* The namespace hash of the last entry written: entries of one window
 * follow each other often enough to save hashing it again. */
typedef struct ns_memo {
    uint8_t *bytes;
    uint32_t len, cap;
    uint64_t hash;
    bool valid;
} ns_memo;

static uint64_t ns_hash(ns_memo *m, const uint8_t *ns, uint32_t len) {
    if (len == 0) return 0;
    if (m->valid && m->len == len && memcmp(m->bytes, ns, len) == 0) return m->hash;
    if (len > m->cap) {
        free(m->bytes);
        m->bytes = fl_xmalloc(len);
        m->cap = len;
    }
    memcpy(m->bytes, ns, len);
    m->len = len;
    m->hash = fl__ns_hash(ns, len);
    m->valid = true;
    return m->hash;
}

static bool has_ttl(const fl__view_state *vs) { return vs->ttl_update != FL_TTL_DISABLED; }

/* Live map entries of a container at now. */
static uint32_t map_live(const fl__entry *c, bool ttl, int64_t now) {
    const fl__table *t = fl__map_nested(c);
    if (!ttl) return t->count;
    uint32_t n = 0, cap = fl__table_capacity(t);
    for (uint32_t i = 0; i < cap; i++)
        if (t->slots[i].e && fl__entry_live(t->slots[i].e, now)) n++;
    return n;
}

static bool entry_written(const fl__view_state *vs, const fl__entry *e, int64_t now) {
    if (!has_ttl(vs)) return true;
    if (vs->kind == FL_STATE_MAP) return fl__map_has_live(e, now);
    return fl__entry_live(e, now);
}

static void put_entry(out *o, const fl__view_state *vs, const fl__slot *sl, int64_t now,
                      ns_memo *memo) {
    const fl__entry *e = sl->e;
    const uint8_t *key = e->data, *ns = e->data + e->klen;
    const uint8_t *payload = e->data + fl__entry_payload_off(e->klen, e->nslen);
    size_t head = FL__SNAP_ENTRY_HEAD + (size_t)e->klen + e->nslen;
    uint8_t *p = out_reserve(o, head + 8), *start = p;
    p = put_u32(p, e->klen);
    p = put_u32(p, e->nslen);
    p = put_u64(p, sl->hash ^ ns_hash(memo, ns, e->nslen));
    p = put_u64(p, (uint64_t)e->deadline);
    p = put_bytes(p, key, e->klen);
    p = put_bytes(p, ns, e->nslen);
    switch (vs->kind) {
    case FL_STATE_VALUE:
    case FL_STATE_REDUCING:
    case FL_STATE_AGGREGATING:
        o->pos += (size_t)(p - start);
        out_put(o, payload, e->vlen);
        break;
    case FL_STATE_LIST:
        p = put_u32(p, e->count);
        p = put_u32(p, e->vlen);
        o->pos += (size_t)(p - start);
        out_put(o, payload, e->vlen);
        break;
    case FL_STATE_MAP: {
        bool ttl = has_ttl(vs);
        p = put_u32(p, map_live(e, ttl, now));
        o->pos += (size_t)(p - start);
        const fl__table *t = fl__map_nested(e);
        uint32_t cap = fl__table_capacity(t);
        for (uint32_t i = 0; i < cap; i++) {
            const fl__entry *me = t->slots[i].e;
            if (!me || (ttl && !fl__entry_live(me, now))) continue;
            put_u64(out_reserve(o, 8), (uint64_t)me->deadline);
            o->pos += 8;
            out_put(o, me->data, me->klen);
            out_put(o, me->data + fl__entry_payload_off(me->klen, 0), me->vlen);
        }
        break;
    }
    }
}

static void put_state_group(out *o, const fl__view_state *vs, int g, int64_t now, ns_memo *memo) {
    const fl__table *t = &vs->groups[g];
    uint32_t cap = fl__table_capacity(t), n = 0;
    if (!has_ttl(vs)) {
        n = t->count;
    } else {
        for (uint32_t i = 0; i < cap; i++)
            if (t->slots[i].e && entry_written(vs, t->slots[i].e, now)) n++;
    }
    out_u32(o, n);
    for (uint32_t i = 0; i < cap && o->rc == 0; i++) {
        /* entries lie anywhere in memory: ask for them a few slots ahead */
        if (i + 8 < cap && t->slots[i + 8].e) __builtin_prefetch(t->slots[i + 8].e);
        if (t->slots[i].e && entry_written(vs, t->slots[i].e, now))
            put_entry(o, vs, &t->slots[i], now, memo);
    }
}

/* ---- timers ---------------------------------------------------------------------------------- */

/* A timer of the view with its sort keys copied out of the node, so that
 * sorting does not chase pointers. */
typedef struct tref {
    int64_t time;
    uint64_t seq;
    const fl__timer *t;
    int32_t key_group, domain;
} tref;

static int tref_cmp(const void *pa, const void *pb) {
    const tref *a = pa, *b = pb;
    if (a->domain != b->domain) return a->domain < b->domain ? -1 : 1;
    if (a->time != b->time) return a->time < b->time ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Every timer of the view, by key group (a counting sort), then domain, then
 * firing order; starts[g]..starts[g + 1] are key group first + g's. */
static tref *sorted_timers(const fl_keyed_snapshot *v, size_t *starts) {
    int groups = v->last_key_group - v->first_key_group + 1;
    size_t total = (size_t)v->timers[0].count + v->timers[1].count;
    tref *all = fl_xmalloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int d = 0; d < 2; d++) {
        fl__timer *const *nodes = v->timers[d].nodes;
        uint32_t n = v->timers[d].count;
        for (uint32_t i = 0; i < n; i++) {
            if (i + 8 < n) __builtin_prefetch(nodes[i + 8]);
            const fl__timer *t = nodes[i];
            assert(t->key_group >= v->first_key_group && t->key_group <= v->last_key_group);
            all[k++] = (tref){.time = t->time,
                              .seq = t->seq,
                              .t = t,
                              .key_group = t->key_group - v->first_key_group,
                              .domain = d};
        }
    }
    memset(starts, 0, ((size_t)groups + 1) * sizeof *starts);
    for (size_t i = 0; i < total; i++) starts[all[i].key_group + 1]++;
    for (int g = 0; g < groups; g++) starts[g + 1] += starts[g];
    tref *sorted = fl_xmalloc((total ? total : 1) * sizeof *sorted);
    size_t *fill = fl_xmalloc(((size_t)groups + 1) * sizeof *fill);
    memcpy(fill, starts, ((size_t)groups + 1) * sizeof *fill);
    for (size_t i = 0; i < total; i++) sorted[fill[all[i].key_group]++] = all[i];
    free(fill);
    free(all);
    for (int g = 0; g < groups; g++)
        qsort(sorted + starts[g], starts[g + 1] - starts[g], sizeof *sorted, tref_cmp);
    return sorted;
}

static void put_timer(out *o, const tref *r) {
    const fl__timer *t = r->t;
    size_t n = FL__SNAP_TIMER_HEAD + (size_t)t->klen + t->nslen;
    uint8_t *p = out_reserve(o, n);
    p = put_u8(p, (uint8_t)r->domain);
    p = put_u64(p, (uint64_t)t->time);
    p = put_u64(p, t->key_hash);
    p = put_u32(p, t->klen);
    p = put_u32(p, t->nslen);
    p = put_bytes(p, t->data, t->klen);
    put_bytes(p, t->data + t->klen, t->nslen);
    o->pos += n;
}

/* ---- the whole ------------------------------------------------------------------------------- */

int fl_keyed_snapshot_write(fl_keyed_snapshot *v, fl_snapshot_write_fn write, void *arg,
                            fl_error *err) {
    out o = {.write = write, .arg = arg, .buf = fl_xmalloc(OUT_BUFFER), .cap = OUT_BUFFER};
    XXH64_state_t meta, block;
    XXH64_reset(&meta, 0);
    out_hash_into(&o, &meta);
    put_header(&o, v);
    uint64_t blocks_start = out_offset(&o);

    int groups = v->last_key_group - v->first_key_group + 1;
    uint8_t *index = fl_xmalloc((size_t)groups * FL__SNAP_INDEX_ITEM);
    size_t *starts = fl_xmalloc(((size_t)groups + 1) * sizeof *starts);
    tref *timers = sorted_timers(v, starts);
    ns_memo memo = {0};
    for (int g = 0; g < groups && o.rc == 0; g++) {
        XXH64_reset(&block, 0);
        out_hash_into(&o, &block);
        uint64_t start = out_offset(&o);
        out_u32(&o, (uint32_t)(v->first_key_group + g));
        out_u32(&o, (uint32_t)v->n_states);
        for (size_t i = 0; i < v->n_states; i++)
            put_state_group(&o, &v->states[i], g, v->now, &memo);
        out_u32(&o, (uint32_t)(starts[g + 1] - starts[g]));
        for (size_t i = starts[g]; i < starts[g + 1]; i++) {
            if (i + 8 < starts[g + 1]) __builtin_prefetch(timers[i + 8].t);
            put_timer(&o, &timers[i]);
        }
        out_hash_into(&o, NULL);
        uint8_t *p = index + (size_t)g * FL__SNAP_INDEX_ITEM;
        p = put_u64(p, start);
        p = put_u64(p, out_offset(&o) - start);
        put_u64(p, XXH64_digest(&block));
    }
    free(starts);
    free(timers);
    free(memo.bytes);

    out_hash_into(&o, &meta);
    uint64_t index_off = out_offset(&o);
    out_put(&o, index, (size_t)groups * FL__SNAP_INDEX_ITEM);
    free(index);
    uint8_t *p = out_reserve(&o, 16);
    p = put_u64(p, blocks_start);
    put_u64(p, index_off);
    o.pos += 16;
    out_hash_into(&o, NULL);
    p = out_reserve(&o, 16);
    p = put_u64(p, XXH64_digest(&meta));
    put_bytes(p, FL__SNAP_END_MAGIC, 8);
    o.pos += 16;
    out_flush(&o);
    free(o.buf);
    if (o.rc < 0)
        return fl_error_set(err, o.rc, "could not write the keyed state snapshot: %s",
                            fl_strerror(o.rc));
    return 0;
}
