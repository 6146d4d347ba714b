/*
 * arena.h - bump allocation with one lifetime (per batch, per task, per job).
 *
 * Memory comes from chained blocks; fl_arena_reset keeps the first block and
 * frees the rest, so an arena reset after every batch stops allocating once
 * warm. Allocations are 8-byte aligned. Out of memory aborts (as malloc
 * failure does everywhere in flinc: see fl_xmalloc).
 */
#ifndef FL_CORE_ARENA_H
#define FL_CORE_ARENA_H

#include <stddef.h>

typedef struct fl_arena fl_arena;

fl_arena *fl_arena_create(size_t block_size);
void fl_arena_destroy(fl_arena *a);
void *fl_arena_alloc(fl_arena *a, size_t size);
char *fl_arena_strdup(fl_arena *a, const char *s);
void fl_arena_reset(fl_arena *a);
size_t fl_arena_used(const fl_arena *a);

#endif
