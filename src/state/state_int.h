/*
 * state_int.h - private structures of the heap keyed state backend, shared by
 * keyed_state.c (backend, declaration, generic access), kstate_table.c (the
 * per-key-group hash tables), kstate_value.c (value, reducing, aggregating),
 * kstate_list.c, kstate_map.c and timers.c. Nothing outside src/state sees it.
 *
 * Layout (README.md has the whole picture): a state owns one open-addressing
 * table per key group of the backend; a table maps the composite (key,
 * namespace) to one malloc'ed entry holding both byte strings and the payload
 * (a value row, an accumulator row, a list's concatenated rows, or a nested
 * table of map entries, which are entries themselves with an empty namespace).
 *
 * Snapshots (kstate_cow.c, kstate_snapshot.c, kstate_restore.c) share these
 * structures with views through copy-on-write: every entry, slot array, timer
 * node and timer heap array carries the backend version it was created in,
 * and one that a live view may reference is copied, never changed, and its
 * memory is freed only once no live view can reach it.
 */
#ifndef FL_STATE_STATE_INT_H
#define FL_STATE_STATE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "keyed_state.h"
#include "row_int.h"

/* Deadline of an entry of a state without TTL: never expires. */
#define FL__NO_DEADLINE INT64_MAX
#define FL__NO_SLOT     UINT32_MAX

/* One (key, namespace) of a state, or one map entry (klen = its map key,
 * nslen = 0). A single allocation of entry_size(klen, nslen, vcap) bytes. */
typedef struct fl__entry {
    int64_t deadline; /* TTL: expired once deadline <= now; FL__NO_DEADLINE without TTL */
    uint32_t klen, nslen;
    uint32_t vlen, vcap;        /* payload bytes used / allocated */
    uint32_t count;             /* list: number of elements */
    uint32_t version;           /* backend version it was created in (copy-on-write) */
    _Alignas(8) uint8_t data[]; /* key, namespace, zero padding to 8, payload */
} fl__entry;

static inline uint32_t fl__entry_payload_off(uint32_t klen, uint32_t nslen) {
    return fl__align8(klen + nslen);
}
static inline size_t fl__entry_size(uint32_t klen, uint32_t nslen, uint32_t vcap) {
    return sizeof(fl__entry) + fl__entry_payload_off(klen, nslen) + vcap;
}
static inline uint8_t *fl__entry_payload(fl__entry *e) {
    return e->data + fl__entry_payload_off(e->klen, e->nslen);
}
static inline size_t fl__entry_bytes(const fl__entry *e) {
    return fl__entry_size(e->klen, e->nslen, e->vcap);
}

/* Open addressing, shared by the state tables (kstate_table.c) and the timer
 * set and bucket map (timers.c): capacities are powers of two, and the home
 * slot of a hash is its top bits after multiplying by 2^64/phi (Fibonacci
 * hashing), which spreads even poorly mixed hashes. */
#define FL__GOLDEN UINT64_C(0x9e3779b97f4a7c15)

static inline uint32_t fl__fib_home(uint64_t h, uint32_t shift) {
    return (uint32_t)((h * FL__GOLDEN) >> shift);
}
/* The shift of capacity cap: 64 - log2(cap). */
static inline uint32_t fl__fib_shift(uint32_t cap) {
    uint32_t bits = 0;
    while ((1u << bits) < cap) bits++;
    return 64 - bits;
}
/* Backward-shift deletion: the entry in slot j, whose home is k, stays when
 * k lies cyclically in (hole, j]; otherwise it moves into the hole. */
static inline bool fl__probe_stays(uint32_t hole, uint32_t j, uint32_t k) {
    return hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
}

/* Open addressing with linear probing and backward-shift deletion (no
 * tombstones). The composite hash is kept in the slot so that a probe only
 * touches an entry whose hash matches. */
typedef struct fl__slot {
    uint64_t hash;
    fl__entry *e; /* NULL: empty slot */
} fl__slot;

typedef struct fl__table {
    fl__slot *slots; /* NULL while the table has never held or no longer holds entries */
    uint32_t mask;   /* capacity - 1 */
    uint32_t count;
    uint32_t shift;   /* 64 - log2(capacity): home slot = (hash * golden) >> shift */
    uint32_t version; /* backend version the slot array was allocated in (copy-on-write) */
} fl__table;

/* Where a (key, namespace) is or would go in a table. */
typedef struct fl__loc {
    fl__table *t;
    uint32_t slot; /* the entry's slot, else where it would be inserted, or FL__NO_SLOT */
    fl__entry *e;  /* NULL when absent */
} fl__loc;

struct fl_kstate {
    fl_keyed_backend *b;
    char *name;
    fl_state_kind kind;
    fl_schema *value_schema; /* one reference each (NULL when unused) */
    fl_schema *map_key_schema;
    fl_schema *acc_schema; /* aggregating: the accumulator rows' */
    fl_schema *result_schema;
    /* False for a state a restore created from its snapshot descriptor until
     * the operator declares it (which attaches functions and the TTL). */
    bool declared;
    fl_state_reduce_fn reduce;
    void *reduce_arg;
    fl_state_aggregate agg;   /* copy of the descriptor's */
    int64_t ttl_ms;           /* 0 without TTL */
    fl_ttl_update ttl_update; /* FL_TTL_DISABLED without TTL */

    fl__table *groups; /* one per key group of the backend, first..last */

    /* The current namespace (a copy) and its hash (0 for the empty one). */
    uint8_t *ns;
    uint32_t ns_len, ns_cap;
    uint64_t ns_hash;

    /* The last locate() of the current (key, namespace): valid while the key
     * epoch is unchanged and cache_ok holds (cleared on namespace change and
     * on every removal or resize in this state's tables). */
    bool cache_ok, cache_found;
    uint32_t cache_slot;
    uint64_t cache_epoch;

    /* Working memory, not counted as state bytes: builders for reduce and
     * aggregate outputs (a/b alternate while merging), pointer arrays handed
     * out by list_get and map_entries, a byte buffer for gathering rows. */
    fl_row_builder *out_a, *out_b, *result;
    const fl_row **ptrs, **vals;
    size_t ptrs_cap, vals_cap;
    uint8_t *scratch;
    size_t scratch_cap;
};

/* One timer: a node of the domain's min-heap and of its dedup set. */
typedef struct fl__tbucket fl__tbucket;

typedef struct fl__timer {
    int64_t time;
    uint64_t seq;      /* registration order: ties on time pop oldest first */
    uint64_t hash;     /* of (key, namespace, time), for the set */
    uint64_t key_hash; /* to restore the current key on pop */
    /* pos, bucket, prev and next change while the node sits in a view's node
     * array: views (their writer thread) read every field but these. */
    uint32_t pos;                /* in the queue's node array */
    int32_t key_group;
    fl__tbucket *bucket;         /* the timers of its time, in registration order */
    struct fl__timer *prev, *next;
    uint32_t klen, nslen;
    uint32_t version;           /* backend version it was created in (copy-on-write) */
    _Alignas(8) uint8_t data[]; /* key, then namespace */
} fl__timer;

/* Every timer of one time, oldest first; the buckets form a min-heap on
 * time, so a pop is the first bucket's head. */
struct fl__tbucket {
    int64_t time;
    uint32_t heap_pos;
    fl__timer *head, *tail;
};

typedef struct fl__tslot {
    uint64_t hash;
    fl__timer *t; /* NULL: empty */
} fl__tslot;

typedef struct fl__timer_queue {
    fl__timer **nodes; /* every timer, in no order; shared with views until changed */
    uint32_t count, cap;
    uint32_t nodes_version; /* backend version the node array was allocated in */
    fl__tbucket **heap;     /* min-heap of the buckets on time */
    uint32_t n_buckets, heap_cap;
    fl__tbucket **bmap; /* open addressing on time */
    uint32_t bmap_mask, bmap_shift;
    fl__tbucket *last;     /* the bucket of the last registration */
    fl__tslot *set;        /* open addressing on (key, namespace, time) */
    uint32_t set_mask, set_shift;
    uint64_t next_seq;
    fl__timer *popped; /* handed out by the last pop, freed by the next call */
} fl__timer_queue;

struct fl_keyed_backend {
    int first_key_group, last_key_group, max_parallelism;
    fl_state_clock_fn clock;
    void *clock_arg;

    /* The current key (a copy), its hash and key group (-1: no key set yet, or
     * the last key set was outside first..last). key_epoch counts set_key
     * calls, so that states can tell their lookup cache is stale. */
    uint8_t *key;
    uint32_t key_len, key_cap;
    uint64_t key_hash;
    int key_group;
    uint64_t key_epoch;

    fl_kstate **states;
    size_t n_states, states_cap;
    fl__timer_queue timers[2];

    size_t bytes;   /* entries, nested tables, slot arrays, timer nodes and arrays */
    size_t entries; /* see fl_keyed_backend_entries */

    /* Copy-on-write (kstate_cow.c). Objects are created in `version`; a view
     * takes the current version and bumps it. cow_floor is the newest live
     * view's version (0 without views): an object whose version is <= it may
     * be referenced by a view and must not change. The views are ascending
     * by version. Dropped objects a view may still reach wait in `deferred`.
     * A release in another thread only sets its view's flag and
     * release_pending; the owner reclaims when it sees them. */
    uint32_t version, cow_floor;
    fl_keyed_snapshot **views;
    size_t n_views, views_cap;
    struct fl__deferred *deferred;
    size_t n_deferred, deferred_cap;
    atomic_int release_pending;
};

/* The backend's clock (wall-clock milliseconds unless the caller gave one). */
static inline int64_t fl__backend_now(const fl_keyed_backend *b) {
    return b->clock ? b->clock(b->clock_arg) : fl_clock_wall_ms();
}

/* Does p point into the allocation of e? (A row handed back to the state
 * that returned it: it must survive a realloc of e.) */
static inline bool fl__entry_contains(const fl__entry *e, const void *p) {
    const uint8_t *start = (const uint8_t *)e, *q = p;
    return q >= start && q < start + fl__entry_bytes(e);
}
/* Should a payload of capacity vcap be reallocated to hold len bytes from
 * src? Grow when it does not fit; shrink when it would use under a quarter
 * of a large capacity, unless src lives in the entry itself (which a store
 * never leaves in that shape today, but a copy must not read freed memory). */
static inline bool fl__entry_needs_realloc(const fl__entry *e, const void *src, uint32_t len) {
    if (len > e->vcap) return true; /* src cannot be inside e: it would fit */
    return e->vcap > 256 && len < e->vcap / 4 && !fl__entry_contains(e, src);
}
/* The capacity a payload of len bytes is (re)allocated with: a quarter of
 * room to grow. Payloads are rows or lists of rows: multiples of 8, under
 * 4 GiB. */
static inline uint32_t fl__payload_cap(uint32_t len) {
    return len > UINT32_MAX / 2 ? len : fl__align8(len + len / 4);
}

/* ---- kstate_table.c ---------------------------------------------------------------------- */

/* Finds (key, ns) among the entries of t whose composite hash is h. Returns
 * the entry (and its slot in *slot) or NULL (and the empty slot where it
 * would be inserted, FL__NO_SLOT when t has no slots). */
fl__entry *fl__table_find(const fl__table *t, uint64_t h, const void *key, uint32_t klen,
                          const void *ns, uint32_t nslen, uint32_t *slot);
/* The changing calls below copy a slot array that a live view shares before
 * they change it (and leave the old one to the views), and keep b->bytes. */

/* Inserts e (absent from t) with hash h; slot is find()'s answer (a hint,
 * ignored when the table must grow). Returns e's slot. */
uint32_t fl__table_insert(fl__table *t, uint32_t slot, uint64_t h, fl__entry *e,
                          fl_keyed_backend *b);
/* Inserts e, a new entry, as fl__table_insert does and counts it in b->bytes,
 * and in b->entries when counts_entry (every entry but a map container). */
static inline uint32_t fl__table_add(fl__table *t, uint32_t slot, uint64_t h, fl__entry *e,
                                     bool counts_entry, fl_keyed_backend *b) {
    slot = fl__table_insert(t, slot, h, e, b);
    b->bytes += fl__entry_bytes(e);
    if (counts_entry) b->entries++;
    return slot;
}
/* Removes the entry in slot (without dropping it); may shrink the slot array.
 * Other entries may move to other slots. */
void fl__table_remove_at(fl__table *t, uint32_t slot, fl_keyed_backend *b);
/* Points slot (which holds an entry) at e, a copy of that entry. */
void fl__table_set(fl__table *t, uint32_t slot, fl__entry *e, fl_keyed_backend *b);
/* Makes t's slot array the table's own: copies it when a live view shares it. */
void fl__table_own(fl__table *t, fl_keyed_backend *b);
/* Drops every entry (through drop_entry) and the slots; the table is empty
 * afterwards. For destroying a backend. */
void fl__table_clear(fl__table *t, void (*drop_entry)(void *arg, fl__entry *e), void *arg,
                     fl_keyed_backend *b);
/* Removes and drops (through drop_entry) every entry with deadline <= now;
 * returns how many. Entries may move to other slots. */
size_t fl__table_purge(fl__table *t, int64_t now, void (*drop_entry)(void *arg, fl__entry *e),
                       void *arg, fl_keyed_backend *b);
/* Does t hold an entry with deadline <= now? */
bool fl__table_has_expired(const fl__table *t, int64_t now);
static inline uint32_t fl__table_capacity(const fl__table *t) { return t->slots ? t->mask + 1 : 0; }

/* ---- keyed_state.c: shared by the kinds ---------------------------------------------------- */

static inline int64_t fl__kstate_now(const fl_kstate *s) { return fl__backend_now(s->b); }
/* now + ttl, saturating at FL__NO_DEADLINE. */
int64_t fl__ttl_deadline(int64_t now, int64_t ttl_ms);
static inline bool fl__kstate_has_ttl(const fl_kstate *s) {
    return s->ttl_update != FL_TTL_DISABLED;
}
/* The current key's table, NULL when no valid key is set. */
static inline fl__table *fl__kstate_table(fl_kstate *s) {
    const fl_keyed_backend *b = s->b;
    if (b->key_group < 0) return NULL;
    return &s->groups[b->key_group - b->first_key_group];
}
/* Locates the current (key, namespace); false when no valid key is set. */
bool fl__kstate_locate(fl_kstate *s, fl__loc *loc);
/* Locates the current key in namespace (ns, nslen) whose hash is ns_hash,
 * bypassing the cache. */
bool fl__kstate_locate_ns(fl_kstate *s, const void *ns, uint32_t nslen, uint64_t ns_hash,
                          fl__loc *loc);
/* Locates and drops an expired entry (returning it as absent). A read under
 * FL_TTL_ON_READ_AND_WRITE refreshes the deadline of a live entry. Not for
 * map states (their TTL is per map entry). */
bool fl__kstate_live(fl_kstate *s, fl__loc *loc, bool read);
/* Same for namespace (ns, nslen, ns_hash); never refreshes. */
bool fl__kstate_live_ns(fl_kstate *s, const void *ns, uint32_t nslen, uint64_t ns_hash,
                        fl__loc *loc);
/* Makes the entry at loc hold payload (len bytes, may point into scratch but
 * not into the entry itself when it has to grow), creating it for the
 * current key and namespace (ns, nslen, hash ns_hash) when absent; sets the
 * deadline as a write does. count is stored as the entry's count. */
fl__entry *fl__kstate_store(fl_kstate *s, fl__loc *loc, const void *ns, uint32_t nslen,
                            uint64_t ns_hash, const void *payload, uint32_t len, uint32_t count);
/* Grows the entry at loc to hold at least need payload bytes (doubling), keeping its
 * contents, and makes it writable (a copy when a view shares it). Returns the
 * (possibly moved) entry. */
fl__entry *fl__kstate_reserve(fl_kstate *s, fl__loc *loc, uint32_t need);
/* Makes the entry at loc writable: a copy replaces it when a view shares it. */
static inline fl__entry *fl__kstate_own(fl_kstate *s, fl__loc *loc) {
    return fl__kstate_reserve(s, loc, 0);
}
/* Removes and drops the entry at loc (whatever its kind). */
void fl__kstate_remove(fl_kstate *s, fl__loc *loc);
/* Drops an entry of state s (arg) that is out of its table, nested map
 * entries included (freed, or left to the views that share it), and keeps
 * the backend's counters right. Never writes to the entry. */
void fl__kstate_drop_entry(void *arg, fl__entry *e);
/* A new entry of version b->version (not counted anywhere yet) with key,
 * namespace, vcap payload bytes of which len are copied from payload. */
fl__entry *fl__entry_new(const fl_keyed_backend *b, const void *key, uint32_t klen, const void *ns,
                         uint32_t nslen, const void *payload, uint32_t len, uint32_t vcap);
/* What a declaration or a snapshot's descriptor must agree on with a state:
 * its kind and schemas, NULL where the kind has none (a map's key, an
 * aggregate's accumulator and result). */
typedef struct fl__state_shape {
    fl_state_kind kind;
    const fl_schema *value, *map_key, *acc, *result;
} fl__state_shape;

/* s's kind and schemas (borrowed from s). */
fl__state_shape fl__kstate_shape(const fl_kstate *s);
/* Same kind, and equal schemas (or none) in every place? */
bool fl__state_same_shape(const fl__state_shape *a, const fl__state_shape *b);
/* Sets the schemas of s (which has none yet) to shape's, taking a reference
 * on each. */
void fl__kstate_set_schemas(fl_kstate *s, const fl__state_shape *shape);
/* "VALUE (BIGINT)", "MAP (STRING -> BIGINT)", ... into buf; returns buf. */
char *fl__state_describe(char *buf, size_t size, const fl__state_shape *shape);
/* A state of that name and kind with empty tables, appended to the backend
 * (descriptor fields are left to the caller). */
fl_kstate *fl__kstate_new(fl_keyed_backend *b, const char *name, fl_state_kind kind);
/* Scratch of at least n bytes (grow-only). */
uint8_t *fl__kstate_scratch(fl_kstate *s, size_t n);
/* Pointer arrays of at least n elements (grow-only). */
const fl_row **fl__kstate_ptrs(fl_kstate *s, size_t n);
const fl_row **fl__kstate_vals(fl_kstate *s, size_t n);
/* The hash a namespace contributes to the composite hash. */
uint64_t fl__ns_hash(const void *ns, uint32_t len);
/* Is e live at now (a TTL check that does not remove)? */
static inline bool fl__entry_live(const fl__entry *e, int64_t now) { return e->deadline > now; }

/* Is source i of a merge the target or a repeat of an earlier source? */
bool fl__skip_source(const void *const *sources, const uint32_t *lens, size_t i, const void *target,
                     uint32_t target_len);

/* ---- kstate_list.c / kstate_value.c / kstate_map.c ------------------------------------------ */

int fl__list_merge(fl_kstate *s, const void *target, uint32_t target_len,
                   const void *const *sources, const uint32_t *source_lens, size_t n_sources);
int fl__acc_merge(fl_kstate *s, const void *target, uint32_t target_len, const void *const *sources,
                  const uint32_t *source_lens, size_t n_sources);
/* Drops a map container's nested entries and slot array without writing to
 * the container. */
void fl__map_drop_nested(fl_kstate *s, fl__entry *container);
/* A new map entry (version b->version, not counted yet). */
fl__entry *fl__map_entry_new(const fl_keyed_backend *b, const fl_row *map_key, uint32_t klen,
                             const fl_row *value, uint32_t vlen, int64_t deadline);
/* The hash a map key is found by in a container's nested table. */
uint64_t fl__map_key_hash(const void *map_key, uint32_t klen);
/* The nested table in a container's payload. Readers (views among them) may
 * take any container; only a writable one (fl__kstate_own) may be changed
 * through the result. */
static inline fl__table *fl__map_nested(const fl__entry *container) {
    return (fl__table *)(container->data +
                         fl__entry_payload_off(container->klen, container->nslen));
}
/* Does the map container hold a live entry at now? */
bool fl__map_has_live(const fl__entry *container, int64_t now);
/* Removes the expired entries of a container (and the container when that
 * empties it, which loc then reports as absent). */
void fl__map_purge(fl_kstate *s, fl__loc *loc, int64_t now);

/* ---- timers.c -----------------------------------------------------------------------------------
 */

void fl__timers_fini(fl_keyed_backend *b);
/* Registers a timer for an explicit key (a restore): deduplicated as usual. */
void fl__timer_add(fl_keyed_backend *b, fl_time_domain d, int64_t time, const void *key,
                   uint32_t klen, uint64_t key_hash, int key_group, const void *ns, uint32_t nslen);

/* ---- kstate_cow.c: copy-on-write and views --------------------------------------------------- */

/* An object dropped from the backend's structures while a live view may
 * still reach it: it is freed once no live view's version lies in
 * [created, dropped). */
typedef struct fl__deferred {
    void *p;
    size_t bytes; /* what it counts in b->bytes until freed */
    uint32_t created, dropped;
} fl__deferred;

/* A view's copy of one state: its descriptor (schemas referenced) and its
 * tables' headers, whose slot arrays and entries it shares with the backend. */
typedef struct fl__view_state {
    const char *name; /* the state's (it lives as long as the backend) */
    fl_state_kind kind;
    fl_schema *value_schema, *map_key_schema, *acc_schema, *result_schema;
    int64_t ttl_ms;
    fl_ttl_update ttl_update;
    fl__table *groups; /* copies of the headers, first..last */
} fl__view_state;

struct fl_keyed_snapshot {
    fl_keyed_backend *b;
    pthread_t owner;     /* the thread that took it: a release there reclaims at once */
    atomic_int released; /* set by fl_keyed_snapshot_release, in any thread */
    uint32_t version;    /* objects of a version <= this one may be in the view */
    int first_key_group, last_key_group, max_parallelism;
    int64_t now; /* the clock when taken: entries expired then are not written */
    size_t n_states;
    fl__view_state *states;
    struct {
        fl__timer **nodes; /* the shared node array (any order) */
        uint32_t count;
    } timers[2];
};

/* Is an object of this version possibly reachable from a live view? */
static inline bool fl__shared(const fl_keyed_backend *b, uint32_t version) {
    return version <= b->cow_floor;
}
/* Gives up an object that no longer is in the backend's structures: frees it
 * (and takes bytes off b->bytes) when no live view can reach it, else defers
 * that to the views' release. */
void fl__drop(fl_keyed_backend *b, void *p, uint32_t version, size_t bytes);
/* A copy of e of version b->version with payload capacity vcap (the payload
 * copied when copy_payload, up to vcap bytes), counted in b->bytes. */
fl__entry *fl__entry_clone(fl_keyed_backend *b, const fl__entry *e, uint32_t vcap,
                           bool copy_payload);
/* fl__entry_own once the entry has to be copied or reallocated. */
fl__entry *fl__entry_own_slow(fl_keyed_backend *b, fl__table *t, uint32_t slot, uint32_t vcap,
                              bool copy_payload);
/* Makes the entry in slot of t writable, with payload capacity vcap: when a
 * view shares it, a clone (its payload copied when copy_payload) takes the
 * slot and the entry is left to the views; else it is reallocated when vcap
 * differs. Returns the entry now in the slot. t's header must be writable
 * (a map's nested table: its container owned). */
static inline fl__entry *fl__entry_own(fl_keyed_backend *b, fl__table *t, uint32_t slot,
                                       uint32_t vcap, bool copy_payload) {
    fl__entry *e = t->slots[slot].e;
    if (vcap == e->vcap && !fl__shared(b, e->version)) return e; /* the hot path: in place */
    return fl__entry_own_slow(b, t, slot, vcap, copy_payload);
}
/* Frees what released views kept, when a release happened since the last
 * look. The hot path's only cost with live views: an atomic load. */
void fl__views_reclaim(fl_keyed_backend *b);
static inline void fl__views_poll(fl_keyed_backend *b) {
    if (b->n_views && atomic_load_explicit(&b->release_pending, memory_order_acquire))
        fl__views_reclaim(b);
}
/* Destroying the backend: frees every view (released or not) and every
 * deferred object; no view may be used afterwards. */
void fl__views_fini(fl_keyed_backend *b);

#endif
