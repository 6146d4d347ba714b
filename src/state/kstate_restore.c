/*
 * kstate_restore.c - reads keyed state snapshots (kstate_format.h) back into
 * a heap keyed backend: the entries and timers of the key groups in the
 * backend's range, from a snapshot of any key-group range (rescaling is
 * restoring every old subtask's snapshot into every new backend; each takes
 * its own key groups).
 *
 * The bytes come from storage and are not trusted: every read is bounds
 * checked, the trailer's checksum covers header, descriptors and index, each
 * key-group block has its own checksum (only the blocks taken are hashed),
 * and every row is validated against its schema, so that arbitrary bytes
 * are FL_EFORMAT and never a crash. Everything that can be checked before
 * changing the backend is (checksums, descriptors against declared states);
 * a later failure (bytes crafted to pass the checksums, or a snapshot
 * restored twice) leaves part of the snapshot restored, and the task fails.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "hash.h"
#include "kstate_format.h"
#include "mem.h"
#include "state_int.h"

#define PREFIX "could not restore keyed state: "

/* ---- bounds-checked reading ------------------------------------------------------------------ */

typedef struct in {
    const uint8_t *p, *end;
} in;

static bool take(in *r, size_t n, const uint8_t **out) {
    if ((size_t)(r->end - r->p) < n) return false;
    *out = r->p;
    r->p += n;
    return true;
}
static bool in_u8(in *r, uint8_t *v) {
    const uint8_t *p;
    if (!take(r, 1, &p)) return false;
    *v = *p;
    return true;
}
static bool in_u32(in *r, uint32_t *v) {
    const uint8_t *p;
    if (!take(r, 4, &p)) return false;
    memcpy(v, p, 4);
    return true;
}
static bool in_u64(in *r, uint64_t *v) {
    const uint8_t *p;
    if (!take(r, 8, &p)) return false;
    memcpy(v, p, 8);
    return true;
}
static bool in_i64(in *r, int64_t *v) {
    uint64_t u;
    if (!in_u64(r, &u)) return false;
    *v = (int64_t)u;
    return true;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A row of schema s: validated, its bytes in *row and length in *len. */
static bool in_row(in *r, const fl_schema *s, const uint8_t **row, uint32_t *len) {
    size_t left = (size_t)(r->end - r->p);
    if (left < FL_ROW_HEADER || fl_row_validate(r->p, left, s, NULL) < 0) return false;
    *len = fl__row_len(r->p);
    return take(r, *len, row);
}

/* ---- descriptors ----------------------------------------------------------------------------- */

typedef struct desc {
    char *name;
    fl_state_kind kind;
    fl_ttl_update ttl_update;
    int64_t ttl_ms;
    fl_schema *value, *map_key, *acc, *result; /* one reference each */
    fl_kstate *s;                              /* the backend's, once matched or created */
} desc;

static void descs_free(desc *d, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(d[i].name);
        fl_schema_unref(d[i].value);
        fl_schema_unref(d[i].map_key);
        fl_schema_unref(d[i].acc);
        fl_schema_unref(d[i].result);
    }
    free(d);
}

static fl_schema *in_schema(in *r) {
    uint32_t n;
    if (!in_u32(r, &n) || n == 0 || n > FL_ROW_MAX_FIELDS) return NULL;
    fl_field *fields = fl_xcalloc(n, sizeof *fields);
    fl_schema *s = NULL;
    uint32_t i;
    for (i = 0; i < n; i++) {
        uint8_t type;
        uint32_t len;
        const uint8_t *name;
        if (!in_u8(r, &type) || !in_u32(r, &len) || len == 0 || !take(r, len, &name) ||
            memchr(name, 0, len))
            goto done;
        fields[i].type = (fl_type)type;
        fields[i].name = fl_xstrndup((const char *)name, len);
    }
    s = fl_schema_create(fields, (int)n, NULL); /* checks types and duplicate names */
done:
    for (uint32_t j = 0; j < i; j++) free((char *)fields[j].name);
    free(fields);
    return s;
}

static bool in_desc(in *r, desc *d) {
    uint32_t len;
    const uint8_t *name;
    uint8_t kind, ttl;
    const uint8_t *pad;
    if (!in_u32(r, &len) || len == 0 || !take(r, len, &name) || memchr(name, 0, len) ||
        !in_u8(r, &kind) || !in_u8(r, &ttl) || !take(r, 2, &pad) || !in_i64(r, &d->ttl_ms))
        return false;
    d->name = fl_xstrndup((const char *)name, len);
    if (kind < FL_STATE_VALUE || kind > FL_STATE_AGGREGATING || ttl > FL_TTL_ON_READ_AND_WRITE ||
        (ttl != FL_TTL_DISABLED && d->ttl_ms <= 0) || (ttl == FL_TTL_DISABLED && d->ttl_ms != 0))
        return false;
    d->kind = (fl_state_kind)kind;
    d->ttl_update = (fl_ttl_update)ttl;
    if (!(d->value = in_schema(r))) return false;
    if (d->kind == FL_STATE_MAP && !(d->map_key = in_schema(r))) return false;
    if (d->kind == FL_STATE_AGGREGATING &&
        (!(d->acc = in_schema(r)) || !(d->result = in_schema(r))))
        return false;
    return true;
}

/* The kind and schemas of d (in_desc leaves NULL those its kind has none of). */
static fl__state_shape desc_shape(const desc *d) {
    return (fl__state_shape){.kind = d->kind,
                             .value = d->value,
                             .map_key = d->map_key,
                             .acc = d->acc,
                             .result = d->result};
}

/* Matches d with the backend's state of that name, if any. */
static int match(fl_keyed_backend *b, desc *d, fl_error *err) {
    fl__state_shape snap_shape = desc_shape(d);
    for (size_t i = 0; i < b->n_states; i++) {
        fl_kstate *s = b->states[i];
        if (strcmp(s->name, d->name) != 0) continue;
        fl__state_shape state_shape = fl__kstate_shape(s);
        if (!fl__state_same_shape(&state_shape, &snap_shape)) {
            char was[256], now[256];
            fl__state_describe(was, sizeof was, &snap_shape);
            fl__state_describe(now, sizeof now, &state_shape);
            return fl_error_set(err, FL_ESTATE,
                                PREFIX "state \"%s\" is %s in the snapshot but %s in the backend",
                                d->name, was, now);
        }
        if ((s->ttl_update == FL_TTL_DISABLED) != (d->ttl_update == FL_TTL_DISABLED))
            return fl_error_set(err, FL_ESTATE,
                                PREFIX "state \"%s\" is %s ttl in the snapshot but %s ttl in the "
                                       "backend: turning ttl on or off needs a new state name",
                                d->name, d->ttl_update == FL_TTL_DISABLED ? "without" : "with",
                                s->ttl_update == FL_TTL_DISABLED ? "without" : "with");
        d->s = s;
        return 0;
    }
    return 0;
}

/* A state the operator has not declared (yet): from its descriptor. */
static void create(fl_keyed_backend *b, desc *d) {
    fl_kstate *s = fl__kstate_new(b, d->name, d->kind);
    fl__state_shape shape = desc_shape(d);
    fl__kstate_set_schemas(s, &shape);
    s->ttl_update = d->ttl_update;
    s->ttl_ms = d->ttl_ms;
    s->declared = false;
    d->s = s;
}

/* ---- blocks ---------------------------------------------------------------------------------- */

typedef struct ctx {
    fl_keyed_backend *b;
    desc *descs;
    size_t n_descs;
    int kg;
    int64_t now;
    fl_error *err;
} ctx;

static int corrupt(ctx *c, const char *what) {
    return fl_error_set(c->err, FL_EFORMAT, PREFIX "malformed %s in key group %d", what, c->kg);
}

static bool in_key_group(const ctx *c, uint64_t key_hash) {
    return fl_key_group_of_hash(key_hash, c->b->max_parallelism) == c->kg;
}

/* Inserts a new entry into s's table of the key group; FL_ESTATE when that
 * (key, namespace) is there already. */
static int insert(ctx *c, fl_kstate *s, uint64_t key_hash, const uint8_t *key, uint32_t klen,
                  const uint8_t *ns, uint32_t nslen, const void *payload, uint32_t len,
                  fl__entry **out) {
    fl_keyed_backend *b = c->b;
    fl__table *t = &s->groups[c->kg - b->first_key_group];
    uint64_t h = key_hash ^ fl__ns_hash(ns, nslen);
    uint32_t slot;
    if (fl__table_find(t, h, key, klen, ns, nslen, &slot))
        return fl_error_set(c->err, FL_ESTATE,
                            PREFIX "an entry of state \"%s\" in key group %d is in the backend "
                                   "already (the same snapshot restored twice?)",
                            s->name, c->kg);
    fl__entry *e = fl__entry_new(b, key, klen, ns, nslen, payload, len, len);
    fl__table_add(t, slot, h, e, s->kind != FL_STATE_MAP, b);
    *out = e;
    return 0;
}

static int restore_map(ctx *c, in *r, fl_kstate *s, uint64_t key_hash, const uint8_t *key,
                       uint32_t klen, const uint8_t *ns, uint32_t nslen) {
    fl_keyed_backend *b = c->b;
    bool ttl = s->ttl_update != FL_TTL_DISABLED;
    uint32_t n;
    if (!in_u32(r, &n)) return corrupt(c, "map entry count");
    fl__entry *container = NULL;
    for (uint32_t i = 0; i < n; i++) {
        int64_t deadline;
        const uint8_t *mk, *val;
        uint32_t mklen, vlen;
        if (!in_i64(r, &deadline) || !in_row(r, s->map_key_schema, &mk, &mklen) ||
            !in_row(r, s->value_schema, &val, &vlen))
            return corrupt(c, "map entry");
        if (!ttl) deadline = FL__NO_DEADLINE;
        if (deadline <= c->now) continue; /* expired since the snapshot */
        if (!container) {
            fl__table empty = {0};
            int rc = insert(c, s, key_hash, key, klen, ns, nslen, &empty, sizeof empty, &container);
            if (rc < 0) return rc;
        }
        fl__table *t = fl__map_nested(container);
        uint64_t h = fl__map_key_hash(mk, mklen);
        uint32_t slot;
        if (fl__table_find(t, h, mk, mklen, NULL, 0, &slot)) return corrupt(c, "map (a key twice)");
        fl__entry *me =
            fl__map_entry_new(b, (const fl_row *)mk, mklen, (const fl_row *)val, vlen, deadline);
        fl__table_add(t, slot, h, me, true, b);
    }
    return 0;
}

static int restore_entry(ctx *c, in *r, fl_kstate *s) {
    uint32_t klen, nslen;
    uint64_t key_hash;
    int64_t deadline;
    const uint8_t *key, *ns;
    if (!in_u32(r, &klen) || !in_u32(r, &nslen) || !in_u64(r, &key_hash) || !in_i64(r, &deadline) ||
        !take(r, klen, &key) || !take(r, nslen, &ns))
        return corrupt(c, "entry");
    if (!in_key_group(c, key_hash)) return corrupt(c, "entry (key of another key group)");
    if (s->ttl_update == FL_TTL_DISABLED) deadline = FL__NO_DEADLINE;
    if (s->kind == FL_STATE_MAP) return restore_map(c, r, s, key_hash, key, klen, ns, nslen);

    const uint8_t *payload;
    uint32_t len, count = 0;
    if (s->kind == FL_STATE_LIST) {
        uint32_t total;
        if (!in_u32(r, &count) || !in_u32(r, &total) || count == 0 || total > UINT32_MAX / 2 ||
            !take(r, total, &payload))
            return corrupt(c, "list");
        in rows = {payload, payload + total};
        for (uint32_t i = 0; i < count; i++) {
            const uint8_t *row;
            uint32_t rlen;
            if (!in_row(&rows, s->value_schema, &row, &rlen)) return corrupt(c, "list element");
        }
        if (rows.p != rows.end) return corrupt(c, "list (bytes past its elements)");
        len = total;
    } else {
        const fl_schema *schema = s->kind == FL_STATE_AGGREGATING ? s->acc_schema : s->value_schema;
        if (!in_row(r, schema, &payload, &len)) return corrupt(c, "row");
    }
    if (deadline <= c->now) return 0; /* expired since the snapshot */
    fl__entry *e;
    int rc = insert(c, s, key_hash, key, klen, ns, nslen, payload, len, &e);
    if (rc < 0) return rc;
    e->deadline = deadline;
    e->count = count;
    return 0;
}

static int restore_block(ctx *c, const uint8_t *p, size_t len) {
    in r = {p, p + len};
    uint32_t kg, n_states, n;
    if (!in_u32(&r, &kg) || kg != (uint32_t)c->kg || !in_u32(&r, &n_states) ||
        n_states != c->n_descs)
        return corrupt(c, "block header");
    for (size_t i = 0; i < c->n_descs; i++) {
        if (!in_u32(&r, &n)) return corrupt(c, "entry count");
        for (uint32_t j = 0; j < n; j++) {
            int rc = restore_entry(c, &r, c->descs[i].s);
            if (rc < 0) return rc;
        }
    }
    if (!in_u32(&r, &n)) return corrupt(c, "timer count");
    for (uint32_t j = 0; j < n; j++) {
        uint8_t domain;
        int64_t time;
        uint64_t key_hash;
        uint32_t klen, nslen;
        const uint8_t *key, *ns;
        if (!in_u8(&r, &domain) || domain > 1 || !in_i64(&r, &time) || !in_u64(&r, &key_hash) ||
            !in_u32(&r, &klen) || !in_u32(&r, &nslen) || !take(&r, klen, &key) ||
            !take(&r, nslen, &ns) || !in_key_group(c, key_hash))
            return corrupt(c, "timer");
        fl__timer_add(c->b, domain ? FL_PROCESSING_TIME : FL_EVENT_TIME, time, key, klen, key_hash,
                      c->kg, ns, nslen);
    }
    if (r.p != r.end) return corrupt(c, "block (bytes past its end)");
    return 0;
}

/* ---- the whole ------------------------------------------------------------------------------- */

static int format_error(fl_error *err, const char *what) {
    return fl_error_set(err, FL_EFORMAT, PREFIX "%s", what);
}

int fl_keyed_backend_restore(fl_keyed_backend *b, const void *data, size_t len, fl_error *err) {
    const uint8_t *p = data;
    if (!p || len < FL__SNAP_HEADER + FL__SNAP_TRAILER)
        return format_error(err, "the snapshot is truncated (shorter than its header and trailer)");
    if (memcmp(p, FL__SNAP_MAGIC, 8) != 0)
        return format_error(err, "the bytes are not a keyed state snapshot (wrong magic)");
    uint32_t version = get_u32(p + 8);
    if (version != FL__SNAP_VERSION)
        return fl_error_set(err, FL_EFORMAT,
                            PREFIX "snapshot format version %" PRIu32 " is not supported (only %u)",
                            version, FL__SNAP_VERSION);
    const uint8_t *trailer = p + len - FL__SNAP_TRAILER;
    if (memcmp(trailer + 24, FL__SNAP_END_MAGIC, 8) != 0)
        return format_error(err, "the snapshot is truncated or corrupt (no end marker)");
    uint64_t blocks = get_u64(trailer), index = get_u64(trailer + 8);
    if (blocks < FL__SNAP_HEADER || blocks > index || index > len - FL__SNAP_TRAILER)
        return format_error(err, "the snapshot is truncated or corrupt (bad trailer)");
    XXH64_state_t h;
    XXH64_reset(&h, 0);
    XXH64_update(&h, p, blocks);
    XXH64_update(&h, p + index, len - 16 - index);
    if (XXH64_digest(&h) != get_u64(trailer + 16))
        return format_error(err, "the snapshot is truncated or corrupt (checksum mismatch)");

    uint32_t max_par = get_u32(p + 16), first = get_u32(p + 20), last = get_u32(p + 24);
    uint32_t n_states = get_u32(p + 28);
    if (max_par == 0 || max_par > INT32_MAX || first > last || last >= max_par)
        return format_error(err, "the snapshot's key-group range is malformed");
    if ((int)max_par != b->max_parallelism)
        return fl_error_set(err, FL_ESTATE,
                            PREFIX "the snapshot was taken with max parallelism %" PRIu32
                                   ", the backend has %d: the max parallelism of an operator "
                                   "cannot change across a restore",
                            max_par, b->max_parallelism);
    uint64_t groups = (uint64_t)last - first + 1;
    if (len - FL__SNAP_TRAILER - index != groups * FL__SNAP_INDEX_ITEM)
        return format_error(err, "the snapshot's index does not match its key-group range");
    /* A descriptor takes at least 27 bytes: bound the allocation by the bytes. */
    if (n_states > (blocks - FL__SNAP_HEADER) / 27)
        return format_error(err, "the snapshot's state count is malformed");

    int rc = 0;
    desc *descs = fl_xcalloc(n_states ? n_states : 1, sizeof *descs);
    in r = {p + FL__SNAP_HEADER, p + blocks};
    for (uint32_t i = 0; i < n_states; i++) {
        if (!in_desc(&r, &descs[i])) {
            rc = fl_error_set(err, FL_EFORMAT, PREFIX "malformed descriptor of state %" PRIu32, i);
            goto done;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(descs[j].name, descs[i].name) == 0) {
                rc = fl_error_set(err, FL_EFORMAT, PREFIX "state \"%s\" is in the snapshot twice",
                                  descs[i].name);
                goto done;
            }
        if ((rc = match(b, &descs[i], err)) < 0) goto done;
    }
    if (r.p != r.end) {
        rc = format_error(err, "bytes past the state descriptors");
        goto done;
    }

    /* The key groups both own, their blocks checked before anything changes. */
    int lo = (int)first > b->first_key_group ? (int)first : b->first_key_group;
    int hi = (int)last < b->last_key_group ? (int)last : b->last_key_group;
    for (int kg = lo; kg <= hi; kg++) {
        const uint8_t *item = p + index + (size_t)(kg - (int)first) * FL__SNAP_INDEX_ITEM;
        uint64_t off = get_u64(item), n = get_u64(item + 8);
        if (off < blocks || off > index || n > index - off ||
            fl_hash_bytes(p + off, n) != get_u64(item + 16)) {
            rc = fl_error_set(err, FL_EFORMAT,
                              PREFIX "the snapshot is corrupt (checksum mismatch in key group %d)",
                              kg);
            goto done;
        }
    }
    for (uint32_t i = 0; i < n_states; i++)
        if (!descs[i].s) create(b, &descs[i]);

    ctx c = {.b = b, .descs = descs, .n_descs = n_states, .err = err};
    c.now = fl__backend_now(b);
    for (int kg = lo; kg <= hi && rc == 0; kg++) {
        const uint8_t *item = p + index + (size_t)(kg - (int)first) * FL__SNAP_INDEX_ITEM;
        c.kg = kg;
        rc = restore_block(&c, p + get_u64(item), get_u64(item + 8));
    }
    for (size_t i = 0; i < b->n_states; i++) b->states[i]->cache_ok = false;
    b->key_epoch++;
done:
    descs_free(descs, n_states);
    return rc;
}
