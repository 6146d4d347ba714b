/*
 * keyed_state.h - the heap keyed state backend of one keyed operator subtask:
 * named states (value, list, map, reducing, aggregating) per (key, namespace),
 * state TTL, and the event-time / processing-time timer queues.
 *
 * Everything is organised by key group (DESIGN.md §5): a backend owns the key
 * groups first..last of a max parallelism, every entry lives in the table of
 * its key's group, so that a later snapshot or restore can take any range of
 * key groups and rescaling moves whole groups. The backend is used by one
 * thread (its subtask), takes no locks, and allocates only when state grows.
 *
 * Keys and namespaces are opaque byte strings: a key is the serialized key
 * row (its bytes without the row header are what the runtime hashes), a
 * namespace is e.g. a serialized window (start, end); the empty namespace is
 * the default of states outside windows. Values are rows of the state's
 * schema. Rows returned are borrowed and valid until the next call that
 * changes the same state (or sets another key/namespace).
 *
 * Snapshots (the last section) are consistent while processing continues:
 * entries, slot arrays and timer heaps are copied on write while a view
 * shares them (README.md, "Snapshots").
 */
#ifndef FL_STATE_KEYED_STATE_H
#define FL_STATE_KEYED_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flinc/error.h"
#include "flinc/row.h"

typedef struct fl_keyed_backend fl_keyed_backend;
typedef struct fl_kstate fl_kstate;

/* Milliseconds "now" for TTL, from the job's (possibly manual) clock. */
typedef int64_t (*fl_state_clock_fn)(void *arg);

/* A backend for key groups first..last (inclusive) of max_parallelism.
 * Returns new, or NULL when the range is not within 0..max_parallelism-1.
 * clock may be NULL (TTL then uses the wall clock). */
fl_keyed_backend *fl_keyed_backend_create(int first_key_group, int last_key_group,
                                          int max_parallelism, fl_state_clock_fn clock,
                                          void *clock_arg);
void fl_keyed_backend_destroy(fl_keyed_backend *b);

/* Sets the key every following state access and timer registration is for.
 * key/len are copied; hash is the key's hash (fl_hash_bytes of the key row
 * without its 8-byte header), from which the key group is derived with
 * fl_key_group_of_hash. The key group must be in the backend's range: a key
 * outside it (a routing bug, or a key selector that is not deterministic) is
 * rejected, not stored: fl_keyed_backend_key_group returns -1, state reads
 * return NULL / empty, writes return FL_ESTATE and timer calls do nothing,
 * until a key of the range is set. Callers that can meet such keys check
 * fl_keyed_backend_key_group after set_key to raise their own error. */
void fl_keyed_backend_set_key(fl_keyed_backend *b, const void *key, uint32_t len, uint64_t hash);
const void *fl_keyed_backend_key(const fl_keyed_backend *b, uint32_t *len);
int fl_keyed_backend_key_group(const fl_keyed_backend *b);

/* Bytes held by all states and timers (entries, keys, values, nested maps,
 * hash-table slot arrays, timer nodes and their heap and set); returns to 0
 * when everything is cleared. Requested sizes (malloc's own overhead is not
 * counted), and not the fixed per-state cost (descriptor copies, builders,
 * one table header per key group) nor working buffers (list_get's pointer
 * array, the current key and namespace). While snapshot views live, it also
 * counts the copies they cause and what only they still reference; after
 * they are released (and reclaimed) it is what it would have been without. */
size_t fl_keyed_backend_bytes(const fl_keyed_backend *b);
/* Entries of all states (each (key, namespace) value, list, map entry counts one). */
size_t fl_keyed_backend_entries(const fl_keyed_backend *b);

/* ---- state declaration ------------------------------------------------------------------ */

typedef enum fl_state_kind {
    FL_STATE_VALUE = 1,
    FL_STATE_LIST,
    FL_STATE_MAP,
    FL_STATE_REDUCING,
    FL_STATE_AGGREGATING,
} fl_state_kind;

typedef enum fl_ttl_update {
    FL_TTL_DISABLED = 0,
    FL_TTL_ON_CREATE_AND_WRITE, /* the clock restarts when the value is written */
    FL_TTL_ON_READ_AND_WRITE,   /* ... and when it is read */
} fl_ttl_update;

/* Reduce: combine acc and in (both rows of the value schema) into out. */
typedef int (*fl_state_reduce_fn)(void *arg, const fl_row *acc, const fl_row *in,
                                  fl_row_builder *out);
/* Aggregate: accumulator rows of acc_schema, results of value_schema. */
typedef struct fl_state_aggregate {
    const fl_schema *acc_schema;
    int (*create)(void *arg, fl_row_builder *acc);
    int (*add)(void *arg, const fl_row *in, const fl_row *acc, fl_row_builder *out_acc);
    int (*result)(void *arg, const fl_row *acc, fl_row_builder *out);
    int (*merge)(void *arg, const fl_row *a, const fl_row *b, fl_row_builder *out_acc);
    void *arg;
} fl_state_aggregate;

typedef struct fl_state_desc {
    const char *name;
    fl_state_kind kind;
    const fl_schema *value_schema;   /* values; list elements; map values; reduce/aggregate
                                        inputs (aggregating: the input rows) */
    const fl_schema *map_key_schema; /* FL_STATE_MAP only */
    const fl_schema *result_schema;  /* FL_STATE_AGGREGATING only: get() rows */
    fl_state_reduce_fn reduce;       /* FL_STATE_REDUCING */
    void *reduce_arg;
    const fl_state_aggregate *aggregate; /* FL_STATE_AGGREGATING (copied) */
    int64_t ttl_ms;                      /* > 0 with ttl_update != DISABLED */
    fl_ttl_update ttl_update;
} fl_state_desc;

/* The state of that name, created on first use. Declaring the same name again
 * returns the same handle if kind and schemas are equal, else FL_ESTATE:
 * `state "counts" was declared as VALUE (BIGINT), not LIST`. Schemas are
 * referenced, not copied. User function failures inside reduce/aggregate
 * come back from the access calls as their negative codes. */
/* Re-declaring also needs the same TTL (ms and update type) and the same
 * reduce / aggregate functions and args, else FL_ESTATE. An incomplete
 * descriptor (no name, no schema, a missing function, ttl_ms <= 0 with TTL)
 * is FL_EINVAL. The handle lives as long as the backend.
 * A state created by fl_keyed_backend_restore is declared by its first
 * declaration: kind and schemas must be the snapshot's and TTL must stay on
 * or off (FL_ESTATE otherwise, as Flink's StateMigrationException); the
 * declaration attaches the functions and sets the TTL's duration and update
 * type (restored deadlines are kept). */
fl_kstate *fl_keyed_backend_state(fl_keyed_backend *b, const fl_state_desc *d, fl_error *err);

/* The namespace following accesses of this state are in (copied). The empty
 * namespace (NULL, 0) is the default. */
void fl_kstate_set_namespace(fl_kstate *s, const void *ns, uint32_t len);

/* Removes the current (key, namespace) entry of the state (any kind). */
void fl_kstate_clear(fl_kstate *s);
bool fl_kstate_is_empty(fl_kstate *s);

/* ---- value ------------------------------------------------------------------------------- */
const fl_row *fl_kstate_value_get(fl_kstate *s);               /* NULL when unset or expired */
int fl_kstate_value_update(fl_kstate *s, const fl_row *value); /* NULL clears (as in Flink) */

/* ---- list -------------------------------------------------------------------------------- */
int fl_kstate_list_add(fl_kstate *s, const fl_row *element);
/* The elements in insertion order (pointer array owned by the state, valid
 * until the next change); count in *n. Expired lists read as empty (NULL,
 * *n = 0). TTL is per list, not per element: add and update refresh it. */
const fl_row *const *fl_kstate_list_get(fl_kstate *s, size_t *n);
/* Replaces the list (elements may be the list's own, from list_get); n == 0
 * clears it. */
int fl_kstate_list_update(fl_kstate *s, const fl_row *const *elements, size_t n);

/* ---- map (per (key, namespace) a map from key rows to value rows) ------------------------ */
const fl_row *fl_kstate_map_get(fl_kstate *s, const fl_row *map_key);
int fl_kstate_map_put(fl_kstate *s, const fl_row *map_key, const fl_row *value);
int fl_kstate_map_remove(fl_kstate *s, const fl_row *map_key); /* 1 removed, 0 absent */
bool fl_kstate_map_contains(fl_kstate *s, const fl_row *map_key);
/* Entries in an unspecified but stable order while unchanged; count in *n.
 * keys[i]/values[i] valid until the next change. TTL applies per entry. */
size_t fl_kstate_map_entries(fl_kstate *s, const fl_row *const **keys,
                             const fl_row *const **values);

/* ---- reducing / aggregating --------------------------------------------------------------- */
int fl_kstate_add(fl_kstate *s, const fl_row *in); /* reduce or aggregate into the entry */
/* Merges an accumulator (aggregating: merge(); reducing: reduce()) of an
 * aggregation done elsewhere into the entry, or stores it when there is
 * none: how a window takes the rows a local pre-aggregation folded. */
int fl_kstate_merge_in(fl_kstate *s, const fl_row *acc);
const fl_row *fl_kstate_get(fl_kstate *s);         /* reduced value / aggregate result */
/* fl_kstate_get that tells a failure from an empty entry: 0 with *out (NULL
 * when empty), or result()'s negative return (FL_EUSER when the function
 * left its builder in error, FL_ESTATE without a valid key). */
int fl_kstate_get_checked(fl_kstate *s, const fl_row **out);
/* Prefetch hints for an access of s coming a few rows later, for the key of
 * hash key_hash in the namespace of hash ns_hash (fl_kstate_namespace_hash):
 * with entry false, the cache line of the key's home slot; with entry true
 * (issued some rows after the first, when the slot has arrived), the entry
 * that slot holds. Reads only; never changes anything, whatever the key. */
void fl_kstate_prefetch(const fl_kstate *s, uint64_t key_hash, uint64_t ns_hash, bool entry);
uint64_t fl_kstate_namespace_hash(const void *ns, uint32_t len);

/* The reduced value / aggregate result of the accumulators of the current
 * key in namespaces[0..n) (lens[i] bytes each) folded in that order --
 * reduce(), or merge() then result() -- without changing any of them: how a
 * sliding window is read from its slices. *out is NULL when none has one;
 * valid until the next call on s. Value, list and map states: FL_ESTATE. */
int fl_kstate_get_merged(fl_kstate *s, const void *const *namespaces, const uint32_t *lens,
                         size_t n, const fl_row **out);

/* Merges the entries of the source namespaces into target (and removes the
 * sources): lists are concatenated (target's elements first, then each
 * source's in order), reducing states reduced, aggregating states merged with
 * merge(). A source equal to the target or to an earlier source is skipped.
 * For merging session windows. Value and map states: FL_ESTATE. */
int fl_kstate_merge_namespaces(fl_kstate *s, const void *target, uint32_t target_len,
                               const void *const *sources, const uint32_t *source_lens,
                               size_t n_sources);

/* Calls fn for every key that has an entry in namespace (ns, len) of this
 * state (sets the backend's current key, and this state's namespace to ns,
 * before each call). The keys are collected first, so fn may read, write or
 * clear this state. Stops at a non-zero return and returns it. */
int fl_kstate_for_each_key(fl_kstate *s, const void *ns, uint32_t len,
                           int (*fn)(void *arg, const void *key, uint32_t klen), void *arg);

/* ---- timers --------------------------------------------------------------------------------- */

typedef enum fl_time_domain {
    FL_EVENT_TIME = 0,
    FL_PROCESSING_TIME = 1,
} fl_time_domain;

/* Registers a timer for the current key, namespace (ns, len) and time;
 * registering an existing (key, namespace, time) again does nothing. */
void fl_timer_register(fl_keyed_backend *b, fl_time_domain d, int64_t time, const void *ns,
                       uint32_t len);
/* Deletes it if present (a deleted timer never fires). */
void fl_timer_delete(fl_keyed_backend *b, fl_time_domain d, int64_t time, const void *ns,
                     uint32_t len);
/* The earliest registered time, INT64_MAX when none. */
int64_t fl_timer_next(const fl_keyed_backend *b, fl_time_domain d);
size_t fl_timer_count(const fl_keyed_backend *b, fl_time_domain d);

typedef struct fl_timer {
    int64_t time;
    const void *key; /* valid until the next pop */
    uint32_t key_len;
    const void *ns;
    uint32_t ns_len;
} fl_timer;

/* Removes the earliest timer with time <= upto into *out, sets the backend's
 * current key to the timer's key, and returns 1; 0 when there is none. Timers
 * come out in time order; each (key, namespace, time) exactly once. A timer
 * registered while firing (even for the same time) is popped in the same
 * round if its time <= upto. */
int fl_timer_pop(fl_keyed_backend *b, fl_time_domain d, int64_t upto, fl_timer *out);

/* ---- snapshots (checkpoints and savepoints) ---------------------------------------------- */

/* A consistent view of every state and both timer queues, taken in a short
 * synchronous step by the owner thread (at a checkpoint barrier). Writing it
 * out then runs in another thread while the owner keeps processing and
 * changing state: copy-on-write keeps the view unchanged (entries changed
 * after the view was taken are copied before the change). Several views may
 * exist at once (concurrent checkpoints). */
typedef struct fl_keyed_snapshot fl_keyed_snapshot;

/* Bytes out: returns 0 or a negative code (the write failed). */
typedef int (*fl_snapshot_write_fn)(void *arg, const void *p, size_t n);

/* Returns a new view (owned by the caller until released). The cost is
 * O(states x key groups), never per entry. */
fl_keyed_snapshot *fl_keyed_backend_snapshot(fl_keyed_backend *b);
/* Writes the view, self-describing: state descriptors (name, kind, schemas,
 * TTL), then entries and timers grouped by key group with an index, so a
 * restore reads only the key groups it owns. Any one thread, concurrently
 * with the owner; entries already expired when the view was taken are left
 * out. Returns 0, or the first negative code of write (err filled). */
int fl_keyed_snapshot_write(fl_keyed_snapshot *s, fl_snapshot_write_fn write, void *arg,
                            fl_error *err);
/* Gives the view up (any thread, once its writes are done; NULL is fine).
 * In the thread that took it, what only the view kept is freed at once;
 * from another thread, the owner frees it at its next set_key or snapshot.
 * Views not released when the backend is destroyed are freed with it (none
 * may be in use then). */
void fl_keyed_snapshot_release(fl_keyed_snapshot *s);

/* Restores from snapshot bytes written by any subtask of the same operator,
 * of any parallelism and key-group range: takes the entries and timers of
 * the key groups in this backend's range and ignores the rest; call once per
 * old subtask's bytes. States are re-created from their descriptors; the
 * operator declares them again as usual (reducing/aggregating functions are
 * attached then). TTL deadlines are kept (as absolute times of the clock;
 * entries expired by now are dropped); timers are deduplicated against
 * those registered. Corrupt or truncated bytes are FL_EFORMAT, never a
 * crash, and change nothing (only bytes crafted to pass the checksums can
 * fail after part is restored). FL_ESTATE: another max parallelism, a state
 * declared with another kind, schemas or TTL on/off (nothing restored), or
 * an entry the backend has already (the same snapshot twice: part of it is
 * restored then, and the backend should be discarded). */
int fl_keyed_backend_restore(fl_keyed_backend *b, const void *data, size_t len, fl_error *err);

#endif
