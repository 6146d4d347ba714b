/*
 * keyed_state.c - the heap keyed state backend (see keyed_state.h and
 * README.md): the backend and its current key, state declaration and its
 * re-declaration rules, namespaces, and what every kind shares: locating the
 * current (key, namespace) entry through a one-entry cache, TTL checks,
 * storing payloads, clearing, merging and visiting keys. The kinds' own
 * calls are in kstate_value.c, kstate_list.c and kstate_map.c; timers in
 * timers.c.
 *
 * The hot path (set_key, then value get/update or reducing add on an existing
 * entry) allocates nothing, hashes no bytes (the composite hash is the key's
 * hash, given by the caller, xor the namespace's, computed when the namespace
 * changes) and probes the table once for a get followed by an update.
 *
 * Copy-on-write (README.md, "Snapshots"): every place that changes an entry
 * in place first checks the entry's version against the newest live view's
 * (one compare on a header already in cache; always false without views),
 * and works on a copy when a view shares it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mem.h"
#include "state_int.h"

/* ---- backend --------------------------------------------------------------------------------- */

fl_keyed_backend *fl_keyed_backend_create(int first_key_group, int last_key_group,
                                          int max_parallelism, fl_state_clock_fn clock,
                                          void *clock_arg) {
    if (max_parallelism <= 0 || first_key_group < 0 || last_key_group < first_key_group ||
        last_key_group >= max_parallelism)
        return NULL;
    fl_keyed_backend *b = fl_xcalloc(1, sizeof *b);
    b->first_key_group = first_key_group;
    b->last_key_group = last_key_group;
    b->max_parallelism = max_parallelism;
    b->clock = clock;
    b->clock_arg = clock_arg;
    b->key_group = -1;
    b->version = 1; /* 0 would be "shared" with no view */
    atomic_init(&b->release_pending, 0);
    return b;
}

static void state_destroy(fl_kstate *s) {
    fl_keyed_backend *b = s->b;
    int n = b->last_key_group - b->first_key_group + 1;
    for (int g = 0; g < n; g++) fl__table_clear(&s->groups[g], fl__kstate_drop_entry, s, b);
    free(s->groups);
    free(s->name);
    fl_schema_unref(s->value_schema);
    fl_schema_unref(s->map_key_schema);
    fl_schema_unref(s->acc_schema);
    fl_schema_unref(s->result_schema);
    fl_row_builder_destroy(s->out_a);
    fl_row_builder_destroy(s->out_b);
    fl_row_builder_destroy(s->result);
    free(s->ns);
    free(s->ptrs);
    free(s->vals);
    free(s->scratch);
    free(s);
}

void fl_keyed_backend_destroy(fl_keyed_backend *b) {
    if (!b) return;
    fl__views_fini(b); /* first: then every drop below frees at once */
    for (size_t i = 0; i < b->n_states; i++) state_destroy(b->states[i]);
    free(b->states);
    fl__timers_fini(b);
    free(b->key);
    free(b);
}

void fl_keyed_backend_set_key(fl_keyed_backend *b, const void *key, uint32_t len, uint64_t hash) {
    if (len > b->key_cap) { /* key cannot be inside b->key: it would fit */
        uint32_t cap = b->key_cap ? b->key_cap : 32;
        while (cap < len) cap *= 2;
        free(b->key);
        b->key = fl_xmalloc(cap);
        b->key_cap = cap;
    }
    if (len) memmove(b->key, key, len); /* may be the current key itself */
    b->key_len = len;
    b->key_hash = hash;
    int g = fl_key_group_of_hash(hash, b->max_parallelism);
    b->key_group = g >= b->first_key_group && g <= b->last_key_group ? g : -1;
    b->key_epoch++;
    /* After the key is copied: it may have pointed into what a view kept. */
    fl__views_poll(b);
}

const void *fl_keyed_backend_key(const fl_keyed_backend *b, uint32_t *len) {
    *len = b->key_len;
    return b->key;
}

int fl_keyed_backend_key_group(const fl_keyed_backend *b) { return b->key_group; }

size_t fl_keyed_backend_bytes(const fl_keyed_backend *b) { return b->bytes; }

size_t fl_keyed_backend_entries(const fl_keyed_backend *b) { return b->entries; }

/* ---- declaration ----------------------------------------------------------------------------- */

static const char *kind_name(fl_state_kind k) {
    switch (k) {
    case FL_STATE_VALUE:
        return "VALUE";
    case FL_STATE_LIST:
        return "LIST";
    case FL_STATE_MAP:
        return "MAP";
    case FL_STATE_REDUCING:
        return "REDUCING";
    case FL_STATE_AGGREGATING:
        return "AGGREGATING";
    }
    return "UNKNOWN";
}

static const char *ttl_name(fl_ttl_update u) {
    return u == FL_TTL_ON_READ_AND_WRITE ? "on read and write" : "on create and write";
}

/* "BIGINT" or "STRING, BIGINT" into buf at *len. */
static void append(char *buf, size_t size, size_t *len, const char *s) {
    size_t n = strlen(s);
    if (*len + n >= size) n = *len < size - 1 ? size - 1 - *len : 0;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

static void append_types(char *buf, size_t size, size_t *len, const fl_schema *s) {
    int n = fl_schema_num_fields(s);
    for (int i = 0; i < n; i++) {
        if (i) append(buf, size, len, ", ");
        append(buf, size, len, fl_type_name(fl_schema_field_type(s, i)));
    }
}

/* "VALUE (BIGINT)", "MAP (STRING -> BIGINT)", "AGGREGATING (BIGINT -> acc (BIGINT, INT) ->
 * DOUBLE)" */
char *fl__state_describe(char *buf, size_t size, const fl__state_shape *shape) {
    size_t len = 0;
    buf[0] = '\0';
    append(buf, size, &len, kind_name(shape->kind));
    append(buf, size, &len, " (");
    if (shape->kind == FL_STATE_MAP && shape->map_key) {
        append_types(buf, size, &len, shape->map_key);
        append(buf, size, &len, " -> ");
    }
    append_types(buf, size, &len, shape->value);
    if (shape->kind == FL_STATE_AGGREGATING && shape->acc && shape->result) {
        append(buf, size, &len, " -> acc (");
        append_types(buf, size, &len, shape->acc);
        append(buf, size, &len, ") -> ");
        append_types(buf, size, &len, shape->result);
    }
    append(buf, size, &len, ")");
    return buf;
}

static int check_desc(const fl_state_desc *d, fl_error *err) {
    if (!d || !d->name || !d->name[0]) return fl_error_set(err, FL_EINVAL, "a state needs a name");
    const char *n = d->name;
    if (d->kind < FL_STATE_VALUE || d->kind > FL_STATE_AGGREGATING)
        return fl_error_set(err, FL_EINVAL, "state \"%s\" has an unknown kind %d", n, (int)d->kind);
    if (!d->value_schema)
        return fl_error_set(err, FL_EINVAL, "state \"%s\" has no value schema", n);
    if (d->kind == FL_STATE_MAP && !d->map_key_schema)
        return fl_error_set(err, FL_EINVAL, "map state \"%s\" has no map key schema", n);
    if (d->kind == FL_STATE_REDUCING && !d->reduce)
        return fl_error_set(err, FL_EINVAL, "reducing state \"%s\" has no reduce function", n);
    if (d->kind == FL_STATE_AGGREGATING) {
        const fl_state_aggregate *a = d->aggregate;
        if (!a || !a->acc_schema || !a->create || !a->add || !a->result || !a->merge)
            return fl_error_set(err, FL_EINVAL,
                                "aggregating state \"%s\" needs an aggregate with acc_schema, "
                                "create, add, result and merge",
                                n);
        if (!d->result_schema)
            return fl_error_set(err, FL_EINVAL, "aggregating state \"%s\" has no result schema", n);
    }
    if (d->ttl_update != FL_TTL_DISABLED && d->ttl_update != FL_TTL_ON_CREATE_AND_WRITE &&
        d->ttl_update != FL_TTL_ON_READ_AND_WRITE)
        return fl_error_set(err, FL_EINVAL, "state \"%s\" has an unknown ttl update type %d", n,
                            (int)d->ttl_update);
    if (d->ttl_update != FL_TTL_DISABLED && d->ttl_ms <= 0)
        return fl_error_set(err, FL_EINVAL,
                            "state \"%s\" has a ttl of %lld ms: the ttl must be positive", n,
                            (long long)d->ttl_ms);
    return 0;
}

static bool same_schema(const fl_schema *a, const fl_schema *b) {
    return (!a && !b) || (a && b && fl_schema_equals(a, b));
}

bool fl__state_same_shape(const fl__state_shape *a, const fl__state_shape *b) {
    return a->kind == b->kind && same_schema(a->value, b->value) &&
           same_schema(a->map_key, b->map_key) && same_schema(a->acc, b->acc) &&
           same_schema(a->result, b->result);
}

fl__state_shape fl__kstate_shape(const fl_kstate *s) {
    return (fl__state_shape){.kind = s->kind,
                             .value = s->value_schema,
                             .map_key = s->map_key_schema,
                             .acc = s->acc_schema,
                             .result = s->result_schema};
}

/* The schemas d's kind uses (check_desc has checked they are there). */
static fl__state_shape desc_shape(const fl_state_desc *d) {
    bool agg = d->kind == FL_STATE_AGGREGATING;
    return (fl__state_shape){.kind = d->kind,
                             .value = d->value_schema,
                             .map_key = d->kind == FL_STATE_MAP ? d->map_key_schema : NULL,
                             .acc = agg ? d->aggregate->acc_schema : NULL,
                             .result = agg ? d->result_schema : NULL};
}

void fl__kstate_set_schemas(fl_kstate *s, const fl__state_shape *shape) {
    s->value_schema = fl_schema_ref((fl_schema *)shape->value);
    if (shape->map_key) s->map_key_schema = fl_schema_ref((fl_schema *)shape->map_key);
    if (shape->acc) s->acc_schema = fl_schema_ref((fl_schema *)shape->acc);
    if (shape->result) s->result_schema = fl_schema_ref((fl_schema *)shape->result);
}

/* Checks a re-declaration of s against d (same kind, schemas, TTL and functions). */
static int check_same(const fl_kstate *s, const fl_state_desc *d, fl_error *err) {
    bool agg = d->kind == FL_STATE_AGGREGATING;
    fl__state_shape was_shape = fl__kstate_shape(s), now_shape = desc_shape(d);
    if (!fl__state_same_shape(&was_shape, &now_shape)) {
        char was[256], now[256];
        fl__state_describe(was, sizeof was, &was_shape);
        if (s->kind != d->kind)
            snprintf(now, sizeof now, "%s", kind_name(d->kind));
        else
            fl__state_describe(now, sizeof now, &now_shape);
        return fl_error_set(err, FL_ESTATE, "state \"%s\" was declared as %s, not %s", s->name, was,
                            now);
    }
    fl_ttl_update u = d->ttl_update;
    int64_t ttl = u == FL_TTL_DISABLED ? 0 : d->ttl_ms;
    if (u != s->ttl_update || ttl != s->ttl_ms) {
        char was[96], now[96];
        if (s->ttl_update == FL_TTL_DISABLED)
            snprintf(was, sizeof was, "without ttl");
        else
            snprintf(was, sizeof was, "with a ttl of %lld ms %s", (long long)s->ttl_ms,
                     ttl_name(s->ttl_update));
        if (u == FL_TTL_DISABLED)
            snprintf(now, sizeof now, "without ttl");
        else
            snprintf(now, sizeof now, "with a ttl of %lld ms %s", (long long)ttl, ttl_name(u));
        return fl_error_set(err, FL_ESTATE, "state \"%s\" was declared %s, not %s", s->name, was,
                            now);
    }
    if (d->kind == FL_STATE_REDUCING && (d->reduce != s->reduce || d->reduce_arg != s->reduce_arg))
        return fl_error_set(err, FL_ESTATE,
                            "state \"%s\" was declared with another reduce function", s->name);
    if (agg) {
        const fl_state_aggregate *a = d->aggregate;
        if (a->create != s->agg.create || a->add != s->agg.add || a->result != s->agg.result ||
            a->merge != s->agg.merge || a->arg != s->agg.arg)
            return fl_error_set(err, FL_ESTATE,
                                "state \"%s\" was declared with another aggregate function",
                                s->name);
    }
    return 0;
}

fl_kstate *fl__kstate_new(fl_keyed_backend *b, const char *name, fl_state_kind kind) {
    fl_kstate *s = fl_xcalloc(1, sizeof *s);
    s->b = b;
    s->name = fl_xstrdup(name);
    s->kind = kind;
    s->groups = fl_xcalloc((size_t)(b->last_key_group - b->first_key_group + 1), sizeof *s->groups);
    if (b->n_states == b->states_cap) {
        b->states_cap = b->states_cap ? b->states_cap * 2 : 4;
        b->states = fl_xrealloc(b->states, b->states_cap * sizeof *b->states);
    }
    b->states[b->n_states++] = s;
    return s;
}

/* Attaches what only a declaration gives: functions, their builders, the TTL. */
static void attach(fl_kstate *s, const fl_state_desc *d) {
    if (d->kind == FL_STATE_REDUCING) {
        s->reduce = d->reduce;
        s->reduce_arg = d->reduce_arg;
        s->out_a = fl_row_builder_create(d->value_schema);
        s->out_b = fl_row_builder_create(d->value_schema);
    }
    if (d->kind == FL_STATE_AGGREGATING) {
        s->agg = *d->aggregate;
        s->out_a = fl_row_builder_create(d->aggregate->acc_schema);
        s->out_b = fl_row_builder_create(d->aggregate->acc_schema);
        s->result = fl_row_builder_create(d->result_schema);
    }
    s->ttl_update = d->ttl_update;
    s->ttl_ms = d->ttl_update != FL_TTL_DISABLED ? d->ttl_ms : 0;
    s->declared = true;
}

/* The first declaration of a state a restore created: kind and schemas must
 * be those of the snapshot, and TTL must stay on or off (its duration and
 * update type may change: restored deadlines are kept, new writes use the
 * declared TTL), as in Flink. */
static int declare_restored(fl_kstate *s, const fl_state_desc *d, fl_error *err) {
    fl__state_shape was_shape = fl__kstate_shape(s), now_shape = desc_shape(d);
    if (!fl__state_same_shape(&was_shape, &now_shape)) {
        char was[256], now[256];
        fl__state_describe(was, sizeof was, &was_shape);
        fl__state_describe(now, sizeof now, &now_shape);
        return fl_error_set(err, FL_ESTATE,
                            "state \"%s\" was restored as %s, it cannot be declared as %s", s->name,
                            was, now);
    }
    bool had_ttl = s->ttl_update != FL_TTL_DISABLED, has_ttl = d->ttl_update != FL_TTL_DISABLED;
    if (had_ttl != has_ttl)
        return fl_error_set(err, FL_ESTATE,
                            "state \"%s\" was restored %s ttl, it cannot be declared %s ttl: "
                            "turning ttl on or off needs a new state name",
                            s->name, had_ttl ? "with" : "without", has_ttl ? "with" : "without");
    attach(s, d);
    return 0;
}

fl_kstate *fl_keyed_backend_state(fl_keyed_backend *b, const fl_state_desc *d, fl_error *err) {
    if (check_desc(d, err) < 0) return NULL;
    for (size_t i = 0; i < b->n_states; i++) {
        fl_kstate *s = b->states[i];
        if (strcmp(s->name, d->name) != 0) continue;
        if (!s->declared) return declare_restored(s, d, err) < 0 ? NULL : s;
        return check_same(s, d, err) < 0 ? NULL : s;
    }
    fl_kstate *s = fl__kstate_new(b, d->name, d->kind);
    fl__state_shape shape = desc_shape(d);
    fl__kstate_set_schemas(s, &shape);
    attach(s, d);
    return s;
}

/* ---- namespaces and locating entries ------------------------------------------------------- */

uint64_t fl__ns_hash(const void *ns, uint32_t len) {
    /* Rotated so that the empty namespace (0) leaves the key's hash as is,
     * and a namespace equal to a key's bytes does not cancel it. */
    if (len == 0) return 0;
    uint64_t h = fl_hash_bytes(ns, len);
    return (h << 29) | (h >> 35);
}

void fl_kstate_set_namespace(fl_kstate *s, const void *ns, uint32_t len) {
    if (len == s->ns_len && (len == 0 || memcmp(s->ns, ns, len) == 0)) return;
    if (len > s->ns_cap) {
        uint32_t cap = s->ns_cap ? s->ns_cap : 16;
        while (cap < len) cap *= 2;
        free(s->ns);
        s->ns = fl_xmalloc(cap);
        s->ns_cap = cap;
    }
    if (len) memcpy(s->ns, ns, len);
    s->ns_len = len;
    s->ns_hash = fl__ns_hash(ns, len);
    s->cache_ok = false;
}

bool fl__kstate_locate(fl_kstate *s, fl__loc *loc) {
    fl_keyed_backend *b = s->b;
    fl__table *t = fl__kstate_table(s);
    if (!t) return false;
    loc->t = t;
    if (s->cache_ok && s->cache_epoch == b->key_epoch) {
        loc->slot = s->cache_slot;
        loc->e = s->cache_found ? t->slots[s->cache_slot].e : NULL;
        return true;
    }
    loc->e = fl__table_find(t, b->key_hash ^ s->ns_hash, b->key, b->key_len, s->ns, s->ns_len,
                            &loc->slot);
    s->cache_ok = true;
    s->cache_found = loc->e != NULL;
    s->cache_slot = loc->slot;
    s->cache_epoch = b->key_epoch;
    return true;
}

bool fl__kstate_locate_ns(fl_kstate *s, const void *ns, uint32_t nslen, uint64_t ns_hash,
                          fl__loc *loc) {
    fl_keyed_backend *b = s->b;
    if (!(loc->t = fl__kstate_table(s))) return false;
    loc->e =
        fl__table_find(loc->t, b->key_hash ^ ns_hash, b->key, b->key_len, ns, nslen, &loc->slot);
    return true;
}

int64_t fl__ttl_deadline(int64_t now, int64_t ttl_ms) {
    return now > FL__NO_DEADLINE - ttl_ms ? FL__NO_DEADLINE : now + ttl_ms;
}

static bool expire_if_needed(fl_kstate *s, fl__loc *loc, bool read, bool refresh_ok) {
    int64_t now = fl__kstate_now(s);
    if (!fl__entry_live(loc->e, now)) {
        fl__kstate_remove(s, loc);
        return false;
    }
    if (read && refresh_ok && s->ttl_update == FL_TTL_ON_READ_AND_WRITE)
        fl__kstate_own(s, loc)->deadline = fl__ttl_deadline(now, s->ttl_ms);
    return true;
}

bool fl__kstate_live(fl_kstate *s, fl__loc *loc, bool read) {
    if (!fl__kstate_locate(s, loc)) return false;
    if (loc->e && fl__kstate_has_ttl(s) && !expire_if_needed(s, loc, read, true))
        fl__kstate_locate(s, loc); /* the removal may have moved the insertion slot */
    return true;
}

bool fl__kstate_live_ns(fl_kstate *s, const void *ns, uint32_t nslen, uint64_t ns_hash,
                        fl__loc *loc) {
    if (!fl__kstate_locate_ns(s, ns, nslen, ns_hash, loc)) return false;
    if (loc->e && fl__kstate_has_ttl(s) && !expire_if_needed(s, loc, false, false))
        fl__kstate_locate_ns(s, ns, nslen, ns_hash, loc);
    return true;
}

/* ---- storing and removing entries ----------------------------------------------------------- */

static bool is_current_ns(const fl_kstate *s, const void *ns) { return ns == s->ns; }

fl__entry *fl__entry_new(const fl_keyed_backend *b, const void *key, uint32_t klen, const void *ns,
                         uint32_t nslen, const void *payload, uint32_t len, uint32_t vcap) {
    fl__entry *e = fl_xmalloc(fl__entry_size(klen, nslen, vcap));
    e->deadline = FL__NO_DEADLINE;
    e->klen = klen;
    e->nslen = nslen;
    e->vlen = len;
    e->vcap = vcap;
    e->count = 0;
    e->version = b->version;
    if (klen) memcpy(e->data, key, klen);
    if (nslen) memcpy(e->data + klen, ns, nslen);
    uint32_t off = fl__entry_payload_off(klen, nslen);
    memset(e->data + klen + nslen, 0, off - klen - nslen);
    if (len) memcpy(e->data + off, payload, len);
    return e;
}

fl__entry *fl__kstate_store(fl_kstate *s, fl__loc *loc, const void *ns, uint32_t nslen,
                            uint64_t ns_hash, const void *payload, uint32_t len, uint32_t count) {
    fl_keyed_backend *b = s->b;
    int64_t deadline = FL__NO_DEADLINE;
    if (fl__kstate_has_ttl(s)) deadline = fl__ttl_deadline(fl__kstate_now(s), s->ttl_ms);
    fl__entry *e = loc->e;
    if (e) {
        uint32_t vcap = fl__entry_needs_realloc(e, payload, len) ? fl__payload_cap(len) : e->vcap;
        /* A shared entry is cloned without its payload: payload may point into
         * it (the views keep it). A reallocation never meets payload inside
         * the entry (fl__entry_needs_realloc), an entry kept in place may. */
        e = loc->e = fl__entry_own(b, loc->t, loc->slot, vcap, false);
        memmove(fl__entry_payload(e), payload, len);
        e->vlen = len;
        e->count = count;
        e->deadline = deadline;
        return e;
    }
    e = fl__entry_new(b, b->key, b->key_len, ns, nslen, payload, len, len);
    e->deadline = deadline;
    e->count = count;
    uint32_t cap_before = fl__table_capacity(loc->t);
    loc->slot =
        fl__table_add(loc->t, loc->slot, b->key_hash ^ ns_hash, e, s->kind != FL_STATE_MAP, b);
    loc->e = e;
    if (is_current_ns(s, ns) && fl__table_capacity(loc->t) == cap_before) {
        s->cache_ok = true;
        s->cache_found = true;
        s->cache_slot = loc->slot;
        s->cache_epoch = b->key_epoch;
    } else {
        /* Another namespace may have taken the slot the cache would insert
         * into, or the table was resized. */
        s->cache_ok = false;
    }
    return e;
}

fl__entry *fl__kstate_reserve(fl_kstate *s, fl__loc *loc, uint32_t need) {
    fl__entry *e = loc->e;
    bool shared = fl__shared(s->b, e->version);
    if (need <= e->vcap && !shared) return e;
    uint32_t vcap = e->vcap;
    if (need > vcap) {
        vcap = vcap < 64 ? 64 : vcap;
        while (vcap < need) vcap *= 2;
    }
    return loc->e = fl__entry_own(s->b, loc->t, loc->slot, vcap, true);
}

void fl__kstate_drop_entry(void *arg, fl__entry *e) {
    fl_kstate *s = arg;
    fl_keyed_backend *b = s->b;
    if (s->kind == FL_STATE_MAP)
        fl__map_drop_nested(s, e);
    else
        b->entries--;
    fl__drop(b, e, e->version, fl__entry_bytes(e));
}

void fl__kstate_remove(fl_kstate *s, fl__loc *loc) {
    fl__entry *e = loc->e;
    fl__table_remove_at(loc->t, loc->slot, s->b);
    fl__kstate_drop_entry(s, e);
    loc->e = NULL;
    loc->slot = FL__NO_SLOT;
    s->cache_ok = false;
}

uint8_t *fl__kstate_scratch(fl_kstate *s, size_t n) {
    if (n > s->scratch_cap) {
        size_t cap = s->scratch_cap ? s->scratch_cap : 256;
        while (cap < n) cap *= 2;
        free(s->scratch);
        s->scratch = fl_xmalloc(cap);
        s->scratch_cap = cap;
    }
    return s->scratch;
}

static const fl_row **grow_ptrs(const fl_row ***arr, size_t *cap, size_t n) {
    if (n > *cap) {
        size_t c = *cap ? *cap : 16;
        while (c < n) c *= 2;
        free(*arr);
        *arr = fl_xmalloc(c * sizeof **arr);
        *cap = c;
    }
    return *arr;
}

const fl_row **fl__kstate_ptrs(fl_kstate *s, size_t n) {
    return grow_ptrs(&s->ptrs, &s->ptrs_cap, n);
}
const fl_row **fl__kstate_vals(fl_kstate *s, size_t n) {
    return grow_ptrs(&s->vals, &s->vals_cap, n);
}

/* ---- any kind -----------------------------------------------------------------------------------
 */

void fl_kstate_clear(fl_kstate *s) {
    fl__loc loc;
    if (fl__kstate_locate(s, &loc) && loc.e) fl__kstate_remove(s, &loc);
}

bool fl_kstate_is_empty(fl_kstate *s) {
    fl__loc loc;
    if (!fl__kstate_locate(s, &loc) || !loc.e) return true;
    if (!fl__kstate_has_ttl(s)) return false;
    /* Not a read: no refresh, but expired entries go (lazy cleanup). */
    if (s->kind == FL_STATE_MAP) {
        fl__map_purge(s, &loc, fl__kstate_now(s));
        return loc.e == NULL;
    }
    return !expire_if_needed(s, &loc, false, false);
}

static bool same_ns(const void *a, uint32_t alen, const void *b, uint32_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

bool fl__skip_source(const void *const *sources, const uint32_t *lens, size_t i, const void *target,
                     uint32_t target_len) {
    if (same_ns(sources[i], lens[i], target, target_len)) return true;
    for (size_t j = 0; j < i; j++)
        if (same_ns(sources[i], lens[i], sources[j], lens[j])) return true;
    return false;
}

int fl_kstate_merge_namespaces(fl_kstate *s, const void *target, uint32_t target_len,
                               const void *const *sources, const uint32_t *source_lens,
                               size_t n_sources) {
    if (s->b->key_group < 0) return FL_ESTATE;
    int rc;
    switch (s->kind) {
    case FL_STATE_LIST:
        rc = fl__list_merge(s, target, target_len, sources, source_lens, n_sources);
        break;
    case FL_STATE_REDUCING:
    case FL_STATE_AGGREGATING:
        rc = fl__acc_merge(s, target, target_len, sources, source_lens, n_sources);
        break;
    default:
        return FL_ESTATE; /* merging values or maps has no meaning */
    }
    s->cache_ok = false;
    return rc;
}

/* Keys found by for_each_key, copied out before the callbacks run so that a
 * callback may read, write or clear this state (Flink's applyToAllKeys does
 * the same). Records: u64 key hash, u32 length, key bytes, padded to 8. */
typedef struct key_list {
    uint8_t *buf;
    size_t len, cap;
} key_list;

static void key_list_add(key_list *l, uint64_t hash, const void *key, uint32_t klen) {
    size_t need = 16 + fl__align8(klen);
    if (l->len + need > l->cap) {
        size_t cap = l->cap ? l->cap : 4096;
        while (cap < l->len + need) cap *= 2;
        l->buf = fl_xrealloc(l->buf, cap);
        l->cap = cap;
    }
    uint8_t *p = l->buf + l->len;
    memcpy(p, &hash, 8);
    memcpy(p + 8, &klen, 4);
    memcpy(p + 16, key, klen);
    l->len += need;
}

int fl_kstate_for_each_key(fl_kstate *s, const void *ns, uint32_t len,
                           int (*fn)(void *arg, const void *key, uint32_t klen), void *arg) {
    fl_keyed_backend *b = s->b;
    fl_kstate_set_namespace(s, ns, len);
    ns = s->ns; /* the caller's bytes may live in this state's buffer */
    uint8_t *ns_copy = len ? fl_xmalloc(len) : NULL;
    if (len) memcpy(ns_copy, ns, len);
    uint64_t ns_hash = s->ns_hash;
    int64_t now = fl__kstate_has_ttl(s) ? fl__kstate_now(s) : 0;
    key_list keys = {0};
    int groups = b->last_key_group - b->first_key_group + 1;
    for (int g = 0; g < groups; g++) {
        const fl__table *t = &s->groups[g];
        uint32_t cap = fl__table_capacity(t);
        for (uint32_t i = 0; i < cap; i++) {
            const fl__entry *e = t->slots[i].e;
            if (!e || e->nslen != len || (len && memcmp(e->data + e->klen, ns_copy, len) != 0))
                continue;
            if (fl__kstate_has_ttl(s)) {
                bool live =
                    s->kind == FL_STATE_MAP ? fl__map_has_live(e, now) : fl__entry_live(e, now);
                if (!live) continue;
            }
            key_list_add(&keys, t->slots[i].hash ^ ns_hash, e->data, e->klen);
        }
    }
    int rc = 0;
    for (size_t off = 0; off < keys.len && rc == 0;) {
        uint64_t hash;
        uint32_t klen;
        memcpy(&hash, keys.buf + off, 8);
        memcpy(&klen, keys.buf + off + 8, 4);
        const uint8_t *key = keys.buf + off + 16;
        fl_keyed_backend_set_key(b, key, klen, hash);
        /* The callback may have moved this state to another namespace. */
        fl_kstate_set_namespace(s, ns_copy, len);
        rc = fn(arg, key, klen);
        off += 16 + fl__align8(klen);
    }
    free(keys.buf);
    free(ns_copy);
    return rc;
}
