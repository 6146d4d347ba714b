/*
 * task.c - one subtask: a thread running its operator chain in a mailbox loop.
 *
 * A source task calls its connector's read again and again; any other task
 * sleeps on its mailbox until buffers arrive, then runs the records of each
 * buffer through the chain a batch at a time and handles the control
 * elements between them (watermarks, end of partition) in order. Between
 * rounds the task sends buffers that have waited longer than the buffer
 * timeout. The mailbox is the only place a task waits, and cancellation
 * wakes it wherever it waits (also while blocked on a full output).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "element.h"
#include "log.h"
#include "runtime_int.h"

bool fl__task_canceled(const fl_task *t) { return atomic_load(&((fl_task *)t)->canceled); }

void fl__task_deliver(fl_task *consumer, int channel, fl_buffer *b) {
    b->channel = channel;
    pthread_mutex_lock(&consumer->mu);
    fl_buffer_queue_push(&consumer->inbox, b);
    pthread_cond_signal(&consumer->cv);
    pthread_mutex_unlock(&consumer->mu);
}

void fl__task_note_pending(fl_task *t) {
    if (!t->pending_since_ns) t->pending_since_ns = fl_clock_monotonic_ns();
}

fl_buffer *fl__task_take_buffer(fl_task *t) {
    for (;;) {
        fl_buffer *b = fl_buffer_pool_take(t->pool);
        if (b) return b;
        pthread_mutex_lock(&t->mu);
        while (!t->buffer_returned && !fl__task_canceled(t)) pthread_cond_wait(&t->cv, &t->mu);
        t->buffer_returned = false;
        pthread_mutex_unlock(&t->mu);
        if (fl__task_canceled(t)) return NULL;
    }
}

/* Waits on the mailbox until input or cancellation arrives, or until
 * deadline_ns (monotonic; 0 = no deadline). Called with t->mu held. */
static void wait_locked(fl_task *t, int64_t deadline_ns) {
    if (deadline_ns <= 0) {
        pthread_cond_wait(&t->cv, &t->mu);
        return;
    }
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    pthread_cond_timedwait(&t->cv, &t->mu, &ts);
}

/* When the oldest unflushed output must be sent (0: nothing pending or no
 * timeout). */
static int64_t flush_deadline(const fl_task *t) {
    if (!t->pending_since_ns || t->settings->buffer_timeout_ns < 0) return 0;
    return t->pending_since_ns + t->settings->buffer_timeout_ns;
}

static int flush_writers(fl_task *t) {
    for (int i = 0; i < t->n_writers; i++) fl__writer_flush(&t->writers[i], &t->error);
    t->pending_since_ns = 0;
    return 0;
}

static void flush_if_due(fl_task *t) {
    int64_t d = flush_deadline(t);
    if (d && fl_clock_monotonic_ns() >= d) flush_writers(t);
}

/* ---- the chain -------------------------------------------------------------------------- */

static int open_chain(fl_task *t) {
    /* Tail first, so an operator's successors are ready before it emits. */
    for (int i = t->n_ops - 1; i >= 0; i--) {
        fl_operator *op = &t->ops[i];
        if (op->ops->open) {
            int rc = op->ops->open(op, &t->error);
            if (rc < 0) return rc;
        }
        if (op->open_hook) {
            op->hooks_opened = true;
            int rc = op->open_hook(&op->ctx);
            if (rc < 0 || op->ctx.failure)
                return fl__user_failure(op, "open function", rc, &t->error);
        }
    }
    return 0;
}

static void close_chain(fl_task *t) {
    for (int i = 0; i < t->n_ops; i++) {
        fl_operator *op = &t->ops[i];
        if (op->hooks_opened && op->close_hook) op->close_hook(&op->ctx);
        if (op->ops->close) op->ops->close(op);
        free(op->ctx.failure);
        op->ctx.failure = NULL;
    }
}

static int chain_watermark(fl_operator *head, int64_t wm, fl_error *err) {
    int rc = head->ops->watermark ? head->ops->watermark(head, wm, err)
                                  : fl__output_watermark(&head->out, wm);
    return rc < 0 ? rc : fl__output_flush(&head->out);
}

static int chain_end(fl_operator *head, fl_error *err) {
    int rc = head->ops->end_input ? head->ops->end_input(head, err) : 0;
    return rc < 0 ? rc : fl__output_end(&head->out);
}

/* ---- sources ------------------------------------------------------------------------------ */

static int run_source(fl_task *t) {
    fl_operator *src = &t->ops[0];
    for (;;) {
        if (fl__task_canceled(t)) return FL_ECANCELED;
        int64_t idle_until = 0;
        int rc = fl__source_read(src, &idle_until, &t->error);
        if (rc < 0) return rc;
        if (rc == FL_SOURCE_END) break;
        flush_if_due(t);
        if (rc == FL_SOURCE_IDLE) {
            int64_t deadline = flush_deadline(t);
            if (!idle_until) idle_until = fl_clock_monotonic_ns() + 10 * 1000000LL;
            if (!deadline || idle_until < deadline) deadline = idle_until;
            pthread_mutex_lock(&t->mu);
            if (!fl__task_canceled(t) && fl_clock_monotonic_ns() < deadline)
                wait_locked(t, deadline);
            pthread_mutex_unlock(&t->mu);
        }
    }
    /* A bounded source ends with the maximum watermark, so everything fires. */
    int rc = chain_watermark(src, INT64_MAX, &t->error);
    if (rc == 0) rc = fl__output_end(&src->out);
    if (rc == 0) rc = flush_writers(t);
    return rc;
}

/* ---- tasks with inputs ---------------------------------------------------------------------- */

static int advance_watermark(fl_task *t) {
    int64_t wm = INT64_MAX;
    bool any = false;
    for (int c = 0; c < t->n_channels; c++) {
        if (t->channels[c].ended) continue;
        any = true;
        if (t->channels[c].watermark < wm) wm = t->channels[c].watermark;
    }
    if (!any || wm <= t->watermark) return 0;
    t->watermark = wm;
    return chain_watermark(&t->ops[0], wm, &t->error);
}

static int run_batch(fl_task *t, int input) {
    fl_batch *b = &t->in_batch;
    if (b->n == 0) return 0;
    fl_operator *head = &t->ops[0];
    int rc = head->ops->process(head, input, b, &t->error);
    if (rc == 0) rc = fl__output_flush(&head->out);
    b->n = 0;
    return rc;
}

static int process_buffer(fl_task *t, fl_buffer *buf) {
    fl_input_channel *ch = &t->channels[buf->channel];
    fl_batch *b = &t->in_batch;
    const uint8_t *p = buf->data, *end = buf->data + buf->size;
    int rc = 0;
    while (rc == 0 && p < end) {
        fl_element_header h = fl_element_read_header(p);
        if (h.tag == FL_EL_RECORD) {
            b->rows[b->n] = (const fl_row *)(p + FL_EL_HEADER);
            b->ts[b->n] = h.value;
            if (++b->n == b->cap) rc = run_batch(t, ch->input);
        } else {
            rc = run_batch(t, ch->input);
            if (rc < 0) break;
            switch (h.tag) {
            case FL_EL_WATERMARK:
                if (h.value > ch->watermark) {
                    ch->watermark = h.value;
                    rc = advance_watermark(t);
                }
                break;
            case FL_EL_END_OF_PARTITION:
                if (!ch->ended) {
                    ch->ended = true;
                    t->n_ended++;
                    rc = advance_watermark(t);
                }
                break;
            default:
                rc = fl_error_set(&t->error, FL_EFORMAT, "unexpected element %d on channel %d",
                                  h.tag, buf->channel);
            }
        }
        p += FL_EL_HEADER + h.payload;
    }
    if (rc == 0) rc = run_batch(t, ch->input);
    b->n = 0;
    return rc;
}

static void recycle_all(fl_buffer *b) {
    while (b) {
        fl_buffer *next = b->next;
        fl_buffer_recycle(b);
        b = next;
    }
}

static int run_inputs(fl_task *t) {
    while (t->n_ended < t->n_channels) {
        pthread_mutex_lock(&t->mu);
        while (t->inbox.count == 0 && !fl__task_canceled(t)) {
            int64_t deadline = flush_deadline(t);
            if (deadline && fl_clock_monotonic_ns() >= deadline) break;
            wait_locked(t, deadline);
        }
        fl_buffer *head = t->inbox.head;
        t->inbox.head = t->inbox.tail = NULL;
        t->inbox.count = 0;
        pthread_mutex_unlock(&t->mu);

        if (fl__task_canceled(t)) {
            recycle_all(head);
            return FL_ECANCELED;
        }
        while (head) {
            fl_buffer *next = head->next;
            int rc = process_buffer(t, head);
            fl_buffer_recycle(head);
            head = next;
            if (rc < 0) {
                recycle_all(head);
                return rc;
            }
        }
        flush_if_due(t);
    }
    int rc = chain_end(&t->ops[0], &t->error);
    if (rc == 0) rc = flush_writers(t);
    return rc;
}

void *fl__task_thread_main(void *arg) {
    fl_task *t = arg;
    fl_debug("task", "%s started", t->name);
    int rc = open_chain(t);
    if (rc == 0) rc = t->ops[0].ops == &fl__op_source ? run_source(t) : run_inputs(t);
    close_chain(t);
    if (rc < 0 && !t->error.code) fl_error_set(&t->error, rc, "%s", fl_strerror(rc));
    if (rc < 0 && !(rc == FL_ECANCELED && fl__task_canceled(t)))
        fl__job_run_task_failed(t->run, t, &t->error);
    else
        fl__job_run_task_finished(t->run, t);
    return NULL;
}
