/*
 * state_table.h - the heap backend's keyed state: one hash table per key group.
 *
 * Keys and values are opaque byte strings (a key is its serialized key row, a
 * value usually a row). Entries live in the table of their key group, so a
 * snapshot or a restore can take any range of key groups, and rescaling moves
 * whole tables. Callers pass the key's hash (computed once per record for
 * partitioning and reused here). Single-threaded: a table belongs to one
 * subtask.
 */
#ifndef FL_STATE_TABLE_H
#define FL_STATE_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fl_state_table fl_state_table;

/* A table for key groups first..last (inclusive). Returns new. */
fl_state_table *fl_state_table_create(int first_key_group, int last_key_group);
void fl_state_table_destroy(fl_state_table *t);

/* The value stored for key (borrowed, valid until the next put/remove of the
 * same key) and its length in *vlen, or NULL. */
const void *fl_state_table_get(fl_state_table *t, int key_group, uint64_t hash, const void *key,
                               uint32_t klen, uint32_t *vlen);
/* Stores a copy of value for key (a copy of key is kept when new). */
void fl_state_table_put(fl_state_table *t, int key_group, uint64_t hash, const void *key,
                        uint32_t klen, const void *value, uint32_t vlen);
/* 1 when the key was there, 0 otherwise. */
int fl_state_table_remove(fl_state_table *t, int key_group, uint64_t hash, const void *key,
                          uint32_t klen);
size_t fl_state_table_count(const fl_state_table *t);
/* Bytes held by entries (keys, values and headers). */
size_t fl_state_table_bytes(const fl_state_table *t);

/* Visits every entry, key group by key group; a non-zero return stops and is
 * returned. */
typedef int (*fl_state_visit_fn)(void *arg, int key_group, const void *key, uint32_t klen,
                                 const void *value, uint32_t vlen);
int fl_state_table_foreach(const fl_state_table *t, fl_state_visit_fn fn, void *arg);

#endif
