/*
 * buffer.c - fixed pools of network buffers (see buffer.h).
 *
 * All buffers of a pool live in one aligned allocation; the free list is a
 * stack under a mutex. The lock is taken once per buffer (tens of KiB of
 * records), not per record.
 */
#include "buffer.h"

#include <stdlib.h>

#include "mem.h"

struct fl_buffer_pool {
    pthread_mutex_t mu;
    int count;
    uint32_t buffer_size;
    uint8_t *memory;
    fl_buffer *buffers;
    fl_buffer **free_list;
    int n_free;
    fl_buffer_available_fn on_available;
    void *arg;
};

fl_buffer_pool *fl_buffer_pool_create(int count, uint32_t buffer_size,
                                      fl_buffer_available_fn on_available, void *arg) {
    fl_buffer_pool *p = fl_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->count = count;
    p->buffer_size = (buffer_size + 7u) & ~7u;
    if (posix_memalign((void **)&p->memory, 64, (size_t)count * p->buffer_size) != 0)
        p->memory = fl_xmalloc((size_t)count * p->buffer_size); /* malloc is 16-aligned */
    p->buffers = fl_xcalloc((size_t)count, sizeof *p->buffers);
    p->free_list = fl_xcalloc((size_t)count, sizeof *p->free_list);
    for (int i = 0; i < count; i++) {
        fl_buffer *b = &p->buffers[i];
        b->data = p->memory + (size_t)i * p->buffer_size;
        b->capacity = p->buffer_size;
        b->pool = p;
        p->free_list[p->n_free++] = b;
    }
    p->on_available = on_available;
    p->arg = arg;
    return p;
}

void fl_buffer_pool_destroy(fl_buffer_pool *p) {
    if (!p) return;
    for (int i = 0; i < p->count; i++)
        if (p->buffers[i].own_data) free(p->buffers[i].data);
    pthread_mutex_destroy(&p->mu);
    free(p->memory);
    free(p->buffers);
    free(p->free_list);
    free(p);
}

fl_buffer *fl_buffer_pool_take(fl_buffer_pool *p) {
    fl_buffer *b = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n_free > 0) b = p->free_list[--p->n_free];
    pthread_mutex_unlock(&p->mu);
    if (b) {
        b->size = 0;
        b->channel = -1;
        b->next = NULL;
    }
    return b;
}

int fl_buffer_pool_available(fl_buffer_pool *p) {
    pthread_mutex_lock(&p->mu);
    int n = p->n_free;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int fl_buffer_pool_in_use(fl_buffer_pool *p) { return p->count - fl_buffer_pool_available(p); }
int fl_buffer_pool_count(const fl_buffer_pool *p) { return p->count; }
uint32_t fl_buffer_pool_buffer_size(const fl_buffer_pool *p) { return p->buffer_size; }

void fl_buffer_make_jumbo(fl_buffer *b, uint32_t bytes) {
    if (bytes <= b->capacity) return;
    uint32_t cap = (bytes + 7u) & ~7u;
    uint8_t *mem = NULL;
    if (posix_memalign((void **)&mem, 64, cap) != 0) mem = fl_xmalloc(cap);
    if (!b->own_data) {
        b->own_data = b->data;
        b->own_capacity = b->capacity;
    } else {
        free(b->data);
    }
    b->data = mem;
    b->capacity = cap;
}

fl_buffer *fl_buffer_standalone(uint32_t size) {
    fl_buffer *b = fl_xcalloc(1, sizeof *b);
    b->capacity = (size + 7u) & ~7u;
    if (posix_memalign((void **)&b->data, 64, b->capacity ? b->capacity : 8) != 0)
        b->data = fl_xmalloc(b->capacity ? b->capacity : 8);
    b->channel = -1;
    return b;
}

void fl_buffer_recycle(fl_buffer *b) {
    fl_buffer_pool *p = b->pool;
    if (!p) {
        free(b->data);
        free(b);
        return;
    }
    if (b->own_data) {
        free(b->data);
        b->data = b->own_data;
        b->capacity = b->own_capacity;
        b->own_data = NULL;
        b->own_capacity = 0;
    }
    b->size = 0;
    pthread_mutex_lock(&p->mu);
    int was_empty = p->n_free == 0;
    p->free_list[p->n_free++] = b;
    pthread_mutex_unlock(&p->mu);
    if (was_empty && p->on_available) p->on_available(p->arg);
}
