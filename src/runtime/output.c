/*
 * output.c - where rows go after an operator: batches pushed to chained
 * operators, and record writers that partition rows into the network buffers
 * of the consumers' channels.
 *
 * A writer fills one buffer per consumer channel and sends it when it is full
 * or when the buffer timeout expires (task.c flushes). Taking a new buffer may
 * block: that is backpressure. A row larger than a buffer goes alone in a
 * jumbo buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "element.h"
#include "hash.h"
#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"

/* ---- batches ------------------------------------------------------------------------ */

void fl__batch_init(fl_batch *b, uint32_t cap) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->rows = fl_xmalloc(cap * sizeof *b->rows);
    b->ts = fl_xmalloc(cap * sizeof *b->ts);
}

void fl__batch_fini(fl_batch *b) {
    free(b->rows);
    free(b->ts);
    free(b->bytes);
    memset(b, 0, sizeof *b);
}

/* ---- operator outputs ---------------------------------------------------------------- */

static int push_batch(fl_output *o, fl_error *err) {
    fl_batch *b = &o->batch;
    for (int i = 0; i < o->n_targets; i++) {
        fl_output_target *t = &o->targets[i];
        int rc;
        if (t->chained) {
            fl_operator *op = t->chained;
            rc = op->ops->process(op, 0, b, err);
            if (rc == 0) rc = fl__op_flush(op);
        } else {
            rc = fl__writer_write_batch(t->writer, b, err);
        }
        if (rc < 0) return rc;
    }
    return 0;
}

static int flush_with(fl_output *o, fl_error *err) {
    if (o->batch.n == 0) return 0;
    int rc = push_batch(o, err);
    o->batch.n = 0;
    o->batch.used = 0;
    return rc;
}

int fl__output_flush(fl_output *o) { return flush_with(o, &o->task->error); }

int fl__output_emit_refs(fl_output *o, const fl_row *const *rows, const int64_t *ts, uint32_t n) {
    fl_batch *b = &o->batch;
    while (n > 0) {
        if (b->n == b->cap) {
            int rc = fl__output_flush(o);
            if (rc < 0) return rc;
        }
        uint32_t k = b->cap - b->n < n ? b->cap - b->n : n;
        memcpy(b->rows + b->n, rows, k * sizeof *rows);
        memcpy(b->ts + b->n, ts, k * sizeof *ts);
        b->n += k;
        rows += k;
        ts += k;
        n -= k;
    }
    return 0;
}

int fl__output_make_room(fl_output *o, uint32_t len) {
    fl_batch *b = &o->batch;
    int rc = fl__output_flush(o);
    if (rc < 0) return rc;
    if (len > b->bytes_cap) {
        /* Only grown while empty, so no borrowed pointer dangles. */
        size_t cap = b->bytes_cap ? b->bytes_cap : FL_BATCH_BYTES;
        while (cap < len) cap *= 2;
        free(b->bytes);
        b->bytes = fl_xmalloc(cap);
        b->bytes_cap = cap;
    }
    return 0;
}

int fl__output_emit(fl_output *o, const fl_row *row, int64_t ts) {
    uint32_t len = fl__row_len(row);
    uint8_t *at;
    int rc = fl__output_reserve(o, len, ts, &at);
    if (rc == 0) memcpy(at, row, len);
    return rc;
}

/* Flushes, then passes a control element (FL_EL_WATERMARK, FL_EL_STATUS
 * or FL_EL_END_OF_PARTITION, with its value) to every target: a chained
 * operator gets the matching call, a network output the element. */
static int output_control(fl_output *o, uint8_t tag, int64_t value) {
    fl_error *err = &o->task->error;
    int rc = fl__output_flush(o);
    for (int i = 0; rc == 0 && i < o->n_targets; i++) {
        fl_output_target *t = &o->targets[i];
        if (!t->chained) {
            rc = fl__writer_broadcast_control(t->writer, tag, value, err);
            if (rc == 0 && tag == FL_EL_END_OF_PARTITION) rc = fl__writer_flush(t->writer, err);
        } else if (tag == FL_EL_WATERMARK) {
            rc = fl__op_watermark(t->chained, value);
        } else if (tag == FL_EL_STATUS) {
            rc = fl__op_forward_status(t->chained, value != 0);
        } else {
            rc = fl__op_end(t->chained);
        }
    }
    return rc;
}

int fl__output_watermark(fl_output *o, int64_t watermark) {
    return output_control(o, FL_EL_WATERMARK, watermark);
}

int fl__output_status(fl_output *o, bool idle) {
    return output_control(o, FL_EL_STATUS, idle ? 1 : 0);
}

int fl__output_end(fl_output *o) { return output_control(o, FL_EL_END_OF_PARTITION, 0); }

/* ---- all outputs of an operator --------------------------------------------------------- */

int fl__op_flush(fl_operator *op) {
    int rc = fl__output_flush(&op->out);
    for (int i = 0; rc == 0 && i < op->n_side_outs; i++) rc = fl__output_flush(&op->side_outs[i].out);
    return rc;
}

int fl__op_forward_watermark(fl_operator *op, int64_t watermark) {
    int rc = fl__output_watermark(&op->out, watermark);
    for (int i = 0; rc == 0 && i < op->n_side_outs; i++)
        rc = fl__output_watermark(&op->side_outs[i].out, watermark);
    return rc;
}

int fl__op_forward_status(fl_operator *op, bool idle) {
    int rc = fl__output_status(&op->out, idle);
    for (int i = 0; rc == 0 && i < op->n_side_outs; i++)
        rc = fl__output_status(&op->side_outs[i].out, idle);
    return rc;
}

int fl__op_watermark(fl_operator *op, int64_t watermark) {
    fl_error *err = &op->task->error;
    op->watermark = watermark;
    int rc = op->ops->watermark ? op->ops->watermark(op, watermark, err)
                                : fl__op_forward_watermark(op, watermark);
    return rc < 0 ? rc : fl__op_flush(op);
}

int fl__op_end(fl_operator *op) {
    fl_error *err = &op->task->error;
    int rc = op->ops->end_input ? op->ops->end_input(op, err) : 0;
    if (rc == 0) rc = fl__output_end(&op->out);
    for (int i = 0; rc == 0 && i < op->n_side_outs; i++) rc = fl__output_end(&op->side_outs[i].out);
    return rc;
}

/* ---- record writers ------------------------------------------------------------------- */

static int send_current(fl_record_writer *w, fl_subpartition *sp) {
    fl_buffer *b = sp->current;
    sp->current = NULL;
    if (b->size == 0) {
        fl_buffer_recycle(b);
        return 0;
    }
    fl__task_deliver(sp->consumer, sp->consumer_channel, b);
    return 0;
}

/* Room for `need` bytes in sp's current buffer, taking a new one (and sending
 * the full one) as needed. */
static uint8_t *reserve(fl_record_writer *w, fl_subpartition *sp, uint32_t need, fl_error *err) {
    if (sp->current && sp->current->size + need > sp->current->capacity) send_current(w, sp);
    if (!sp->current) {
        fl_buffer *b = fl__task_take_buffer(w->task);
        if (!b) {
            fl_error_set(err, FL_ECANCELED, "task canceled");
            return NULL;
        }
        if (need > b->capacity) fl_buffer_make_jumbo(b, need);
        sp->current = b;
        fl__task_note_pending(w->task);
    }
    uint8_t *at = sp->current->data + sp->current->size;
    sp->current->size += need;
    return at;
}

static int write_record(fl_record_writer *w, int sub, const fl_row *row, int64_t ts,
                        fl_error *err) {
    uint32_t len = fl__row_len(row);
    uint8_t *at = reserve(w, &w->subs[sub], FL_EL_HEADER + len, err);
    if (!at) return FL_ECANCELED;
    fl_element_write_header(at, FL_EL_RECORD, len, ts);
    memcpy(at + FL_EL_HEADER, row, len);
    return 0;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Index into w->subs of the consumer a row goes to; -1 for all (broadcast),
 * a negative error below -1 is never returned: errors come back as < -1 via rc. */
static int choose(fl_record_writer *w, const fl_row *row, int *sub, fl_error *err) {
    switch (w->partitioner) {
    case FL_PART_FORWARD:
    case FL_PART_GLOBAL:
        *sub = 0;
        return 0;
    case FL_PART_REBALANCE:
    case FL_PART_RESCALE:
        *sub = (int)(w->next_channel++ % (uint32_t)w->n_subs);
        return 0;
    case FL_PART_SHUFFLE:
        *sub = (int)(xorshift(&w->rng) % (uint64_t)w->n_subs);
        return 0;
    case FL_PART_BROADCAST:
        *sub = -1;
        return 0;
    case FL_PART_HASH: {
        uint64_t hash;
        if (!fl__key_extract(&w->key, row, &hash, w->owner, err)) return FL_EUSER;
        int kg = fl_key_group_of_hash(hash, w->max_parallelism);
        *sub = fl_key_group_to_subtask(kg, w->max_parallelism, w->consumer_parallelism) -
               w->first_consumer;
        return 0;
    }
    case FL_PART_CUSTOM: {
        uint64_t hash;
        const fl_row *key = fl__key_extract(&w->key, row, &hash, w->owner, err);
        if (!key) return FL_EUSER;
        fl_context *ctx = &w->owner->ctx;
        int p = w->custom(ctx, key, w->consumer_parallelism);
        if (ctx->failure) return fl__user_failure(w->owner, "partition function", -1, err);
        if (p < 0 || p >= w->consumer_parallelism)
            return fl_error_set(err, FL_EUSER,
                                "custom partitioner returned partition %d; it must be in "
                                "[0, %d)",
                                p, w->consumer_parallelism);
        *sub = p - w->first_consumer;
        return 0;
    }
    }
    return fl_error_set(err, FL_ESTATE, "unknown partitioner %d", (int)w->partitioner);
}

int fl__writer_write_batch(fl_record_writer *w, const fl_batch *b, fl_error *err) {
    for (uint32_t i = 0; i < b->n; i++) {
        int sub = 0, rc = choose(w, b->rows[i], &sub, err);
        if (rc < 0) return rc;
        if (sub >= 0) {
            rc = write_record(w, sub, b->rows[i], b->ts[i], err);
        } else {
            for (int s = 0; rc == 0 && s < w->n_subs; s++)
                rc = write_record(w, s, b->rows[i], b->ts[i], err);
        }
        if (rc < 0) return rc;
    }
    if (w->task->settings->buffer_timeout_ns == 0) return fl__writer_flush(w, err);
    return 0;
}

int fl__writer_broadcast_control(fl_record_writer *w, uint8_t tag, int64_t value, fl_error *err) {
    for (int s = 0; s < w->n_subs; s++) {
        uint8_t *at = reserve(w, &w->subs[s], FL_EL_HEADER, err);
        if (!at) return FL_ECANCELED;
        fl_element_write_header(at, tag, 0, value);
    }
    if (w->task->settings->buffer_timeout_ns == 0) return fl__writer_flush(w, err);
    return 0;
}

int fl__writer_flush(fl_record_writer *w, fl_error *err) {
    for (int s = 0; s < w->n_subs; s++)
        if (w->subs[s].current) send_current(w, &w->subs[s]);
    return 0;
}

void fl__writer_fini(fl_record_writer *w) {
    for (int s = 0; s < w->n_subs; s++) {
        if (w->subs[s].current) {
            fl_buffer_recycle(w->subs[s].current);
            w->subs[s].current = NULL;
        }
    }
    fl__key_extractor_fini(&w->key);
    free(w->subs);
    w->subs = NULL;
}
