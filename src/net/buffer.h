/*
 * buffer.h - network buffers and the bounded pools they come from.
 *
 * Records travel between tasks in fixed-size buffers (32 KiB by default).
 * Each producing task owns one pool with a fixed number of buffers; a buffer
 * handed to a consumer goes back to its pool when the consumer has read it.
 * An empty pool is backpressure: fl_buffer_pool_take returns NULL and the
 * producer waits until the pool's listener tells it a buffer came back.
 * Nothing is allocated per record or per buffer once the pool exists.
 *
 * A record larger than a buffer travels alone in a "jumbo" buffer: a pool
 * buffer whose data is temporarily replaced by a larger allocation, so that
 * oversized records still count against the pool and still backpressure.
 */
#ifndef FL_NET_BUFFER_H
#define FL_NET_BUFFER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fl_buffer_pool fl_buffer_pool;

typedef struct fl_buffer {
    uint8_t *data; /* 8-byte aligned */
    uint32_t size; /* bytes written */
    uint32_t capacity;
    int channel;            /* input channel at the consumer, set when sent */
    fl_buffer_pool *pool;   /* owner; the buffer returns there */
    struct fl_buffer *next; /* queue link while queued */
    uint8_t *own_data;      /* the pool's memory while a jumbo is attached */
    uint32_t own_capacity;
} fl_buffer;

/* Called (without the pool's lock) when a buffer returns to a pool that had
 * none free, so the owner can wake up. */
typedef void (*fl_buffer_available_fn)(void *arg);

/* A pool of count buffers of buffer_size bytes. Returns new. */
fl_buffer_pool *fl_buffer_pool_create(int count, uint32_t buffer_size,
                                      fl_buffer_available_fn on_available, void *arg);
/* Frees the pool; every buffer must have come back. */
void fl_buffer_pool_destroy(fl_buffer_pool *p);
/* A free buffer (size 0) or NULL when none is free. Thread-safe. */
fl_buffer *fl_buffer_pool_take(fl_buffer_pool *p);
int fl_buffer_pool_available(fl_buffer_pool *p);
int fl_buffer_pool_count(const fl_buffer_pool *p);
uint32_t fl_buffer_pool_buffer_size(const fl_buffer_pool *p);
/* Buffers taken and not yet recycled (for tests and metrics). */
int fl_buffer_pool_in_use(fl_buffer_pool *p);

/* Makes b (empty, from a pool) able to hold `bytes` by attaching a larger
 * allocation until it is recycled. */
void fl_buffer_make_jumbo(fl_buffer *b, uint32_t bytes);
/* Gives b back to its pool (any thread); a standalone buffer is freed. */
void fl_buffer_recycle(fl_buffer *b);

/* A standalone buffer of `size` bytes, outside every pool (priority events
 * that must not wait for a pool buffer, replayed channel state). */
fl_buffer *fl_buffer_standalone(uint32_t size);

/* A FIFO of buffers linked through `next`; not locked (its owner locks). */
typedef struct fl_buffer_queue {
    fl_buffer *head, *tail;
    int count;
} fl_buffer_queue;

static inline void fl_buffer_queue_push(fl_buffer_queue *q, fl_buffer *b) {
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->count++;
}
/* Puts b first: a buffer taken back (partly processed) or one that
 * overtakes the queue (a priority event). */
static inline void fl_buffer_queue_push_front(fl_buffer_queue *q, fl_buffer *b) {
    b->next = q->head;
    q->head = b;
    if (!q->tail) q->tail = b;
    q->count++;
}
static inline fl_buffer *fl_buffer_queue_pop(fl_buffer_queue *q) {
    fl_buffer *b = q->head;
    if (b) {
        q->head = b->next;
        if (!q->head) q->tail = NULL;
        q->count--;
        b->next = NULL;
    }
    return b;
}

#endif
