/*
 * arena.c - bump allocation from chained blocks, freed all at once.
 *
 * An arena serves one lifetime (a batch, a task, a job). Allocation bumps a
 * pointer in the current block; a request that does not fit starts a new
 * block (at least block_size, larger for a large request). Reset keeps one
 * block: the first, or, when the last lifetime spilled into more blocks, a
 * single block as large as all of them together, so an arena that is reset
 * after every batch stops calling malloc once it has seen its largest batch.
 */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#define ARENA_ALIGN 8u

typedef struct arena_block {
    struct arena_block *next; /* older block */
    size_t size;              /* bytes of data[] */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} arena_block;

struct fl_arena {
    arena_block *head; /* current block; its chain holds the older ones */
    size_t block_size;
    size_t used;       /* bytes handed out since create/reset, with alignment */
};

static arena_block *block_new(size_t size) {
    arena_block *b = fl_xmalloc(sizeof *b + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

fl_arena *fl_arena_create(size_t block_size) {
    fl_arena *a = fl_xmalloc(sizeof *a);
    if (block_size < 64)
        block_size = 64;
    a->block_size = block_size;
    a->head = block_new(block_size);
    a->used = 0;
    return a;
}

void fl_arena_destroy(fl_arena *a) {
    if (a == NULL)
        return;
    arena_block *b = a->head;
    while (b != NULL) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *fl_arena_alloc(fl_arena *a, size_t size) {
    size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < size)
        need = SIZE_MAX; /* overflow: block_new aborts */
    if (need == 0)
        need = ARENA_ALIGN; /* distinct pointers for zero-size requests */
    arena_block *b = a->head;
    if (b->size - b->used < need) {
        size_t size_new = need > a->block_size ? need : a->block_size;
        arena_block *nb = block_new(size_new);
        nb->next = b;
        a->head = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used += need;
    return p;
}

char *fl_arena_strdup(fl_arena *a, const char *s) {
    size_t n = strlen(s);
    char *d = fl_arena_alloc(a, n + 1);
    memcpy(d, s, n + 1);
    return d;
}

void fl_arena_reset(fl_arena *a) {
    arena_block *b = a->head;
    if (b->next == NULL) {
        b->used = 0;
        a->used = 0;
        return;
    }
    size_t total = 0;
    while (b != NULL) {
        arena_block *next = b->next;
        total += b->size;
        free(b);
        b = next;
    }
    a->head = block_new(total);
    a->used = 0;
}

size_t fl_arena_used(const fl_arena *a) { return a->used; }
