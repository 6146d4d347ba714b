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
#include "mem.h"
#include "runtime_int.h"

bool fl__task_canceled(const fl_task *t) { return atomic_load(&((fl_task *)t)->canceled); }

void fl__task_deliver(fl_task *consumer, int channel, fl_buffer *b) {
    b->channel = channel;
    pthread_mutex_lock(&consumer->mu);
    fl_buffer_queue_push(&consumer->inbox, b);
    pthread_cond_signal(&consumer->cv);
    pthread_mutex_unlock(&consumer->mu);
}

void fl__task_post(fl_task *t, int kind, int64_t id) {
    fl_mail *m = fl_xcalloc(1, sizeof *m);
    m->kind = kind;
    m->id = id;
    pthread_mutex_lock(&t->mu);
    if (t->mail_tail)
        t->mail_tail->next = m;
    else
        t->mail_head = m;
    t->mail_tail = m;
    atomic_store(&t->has_mail, true);
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

int fl__task_maybe_fail(fl_task *t, unsigned point) {
    const fl_failure_injection *in = &t->settings->inject;
    if (!in->remaining || !(in->points & point) || in->probability <= 0) return 0;
    uint64_t x = t->inject_rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t->inject_rng = x;
    if ((double)(x >> 11) / (double)(1ULL << 53) >= in->probability) return 0;
    /* Take one failure from the budget shared by the job's attempts. */
    int64_t left = __atomic_load_n(in->remaining, __ATOMIC_SEQ_CST);
    do {
        if (left <= 0) return 0;
    } while (!__atomic_compare_exchange_n(in->remaining, &left, left - 1, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST));
    static const char *const names[] = {"", "processing", "snapshot", "", "commit"};
    return fl_error_set(&t->error, FL_EUSER, "injected failure during %s (attempt %d)",
                        names[point < 5 ? point : 0], t->eg->attempt);
}

static int unaligned_barrier(fl_task *t, fl_input_channel *ch, int64_t id, int64_t overtaken,
                             bool in_local);

/* A checkpoint triggered at this task itself: a source, or a task whose
 * upstream tasks all finished (no barrier can come). Unaligned, it snapshots
 * at once with everything still queued as channel state; aligned, it takes
 * the checkpoint when its inputs have drained (end of partition on every
 * channel), so nothing queued is left out. */
static int trigger_here(fl_task *t, int64_t id) {
    if (t->n_channels == 0) return fl__task_checkpoint(t, id, 0);
    if (t->settings->unaligned && !fl__task_is_stop(t, id, NULL)) {
        for (int c = 0; c < t->n_channels; c++) {
            fl_input_channel *ch = &t->channels[c];
            if (ch->ended) continue;
            int rc = unaligned_barrier(t, ch, id, INT64_MAX, false);
            if (rc < 0) return rc;
        }
        return 0;
    }
    if (t->n_ended == t->n_channels) return fl__task_checkpoint(t, id, 0);
    t->deferred_trigger = id; /* taken when the last channel ends */
    return 0;
}

/* The first mail, taken out of the mailbox; with wait, waits for one
 * (NULL: canceled), else NULL when there is none. */
static fl_mail *take_mail(fl_task *t, bool wait) {
    pthread_mutex_lock(&t->mu);
    while (wait && !t->mail_head && !fl__task_canceled(t)) pthread_cond_wait(&t->cv, &t->mu);
    fl_mail *m = fl__task_canceled(t) && wait ? NULL : t->mail_head;
    if (m) {
        t->mail_head = m->next;
        if (!t->mail_head) t->mail_tail = NULL;
    }
    atomic_store(&t->has_mail, t->mail_head != NULL);
    pthread_mutex_unlock(&t->mu);
    return m;
}

/* Runs one mail (in the task's thread) and frees it. */
static int run_mail(fl_task *t, fl_mail *m) {
    int rc = 0;
    switch (m->kind) {
    case FL_MAIL_TRIGGER_CHECKPOINT:
        if (m->id > t->last_checkpoint) rc = trigger_here(t, m->id);
        break;
    case FL_MAIL_CHECKPOINT_COMPLETE:
        if (m->id > t->last_completed) t->last_completed = m->id;
        rc = fl__task_maybe_fail(t, FL_INJECT_COMMIT);
        if (rc == 0) fl__task_checkpoint_complete(t, m->id);
        break;
    case FL_MAIL_CHECKPOINT_ABORTED:
        if (m->id > t->last_aborted) t->last_aborted = m->id;
        break;
    }
    free(m);
    return rc;
}

/* Runs the mail that arrived (in the task's thread). */
static int handle_mail(fl_task *t) {
    int rc = 0;
    fl_mail *m;
    while (rc == 0 && !t->stopped && (m = take_mail(t, false))) rc = run_mail(t, m);
    return rc;
}

int fl__task_await_stop(fl_task *t, int64_t id) {
    fl_debug("checkpoint", "%s waits for stop-with-savepoint %lld", t->name, (long long)id);
    /* Mail in order, up to the word on this savepoint: what follows (a new
     * trigger after a failure) is for the task going on. */
    while (t->last_completed < id && t->last_aborted < id) {
        fl_mail *m = take_mail(t, true);
        if (!m) return FL_ECANCELED;
        int rc = run_mail(t, m);
        if (rc < 0) return rc;
    }
    t->stopped = t->last_completed >= id;
    if (!t->stopped)
        fl_debug("checkpoint", "%s goes on: stop-with-savepoint %lld failed", t->name,
                 (long long)id);
    return 0;
}

int fl__task_await_final_commit(fl_task *t) {
    for (;;) {
        fl_mail *m = take_mail(t, true);
        if (!m) return FL_ECANCELED;
        /* Triggers and aborts: a finished task takes no more checkpoints. */
        int64_t id = m->kind == FL_MAIL_CHECKPOINT_COMPLETE ? m->id : 0;
        free(m);
        if (id == 0) continue;
        fl__task_checkpoint_complete(t, id);
        if (id == FL_CHECKPOINT_ID_FINAL) return t->error.code ? t->error.code : 0;
    }
}

void fl__task_await_snapshots(fl_task *t) {
    pthread_mutex_lock(&t->mu);
    while (t->snapshots_in_flight > 0) pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
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

/* ---- processing time --------------------------------------------------------------------- */

int64_t fl__task_now_ms(const fl_task *t) {
    fl_manual_clock *c = t->settings->clock;
    return c ? fl_manual_clock_now(c) : fl_clock_wall_ms();
}

static bool ptimer_before(const struct fl_ptimer *a, const struct fl_ptimer *b) {
    return a->time < b->time;
}

void fl__task_schedule(fl_task *t, fl_operator *op, int64_t time_ms) {
    for (int i = 0; i < t->n_ptimers; i++)
        if (t->ptimers[i].op == op && t->ptimers[i].time == time_ms) return;
    if (t->n_ptimers == t->cap_ptimers) {
        t->cap_ptimers = t->cap_ptimers ? t->cap_ptimers * 2 : 8;
        t->ptimers = fl_xrealloc(t->ptimers, (size_t)t->cap_ptimers * sizeof *t->ptimers);
    }
    int i = t->n_ptimers++;
    t->ptimers[i] = (struct fl_ptimer){time_ms, op};
    while (i > 0 && ptimer_before(&t->ptimers[i], &t->ptimers[(i - 1) / 2])) {
        struct fl_ptimer tmp = t->ptimers[i];
        t->ptimers[i] = t->ptimers[(i - 1) / 2];
        t->ptimers[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static struct fl_ptimer ptimer_pop(fl_task *t) {
    struct fl_ptimer top = t->ptimers[0];
    t->ptimers[0] = t->ptimers[--t->n_ptimers];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n_ptimers && ptimer_before(&t->ptimers[l], &t->ptimers[m])) m = l;
        if (r < t->n_ptimers && ptimer_before(&t->ptimers[r], &t->ptimers[m])) m = r;
        if (m == i) break;
        struct fl_ptimer tmp = t->ptimers[i];
        t->ptimers[i] = t->ptimers[m];
        t->ptimers[m] = tmp;
        i = m;
    }
    return top;
}

/* Runs every processing-time callback that is due. */
static int fire_processing_timers(fl_task *t) {
    if (t->n_ptimers == 0) return 0;
    int64_t now = fl__task_now_ms(t);
    while (t->n_ptimers > 0 && t->ptimers[0].time <= now) {
        struct fl_ptimer due = ptimer_pop(t);
        fl_operator *op = due.op;
        int rc = op->ops->on_processing_time(op, now, &t->error);
        if (rc == 0) rc = fl__op_flush(op);
        if (rc < 0) return rc;
    }
    return 0;
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

/* The monotonic time the task must wake up at for its next flush or
 * processing-time callback (0: none). A manual clock wakes it by itself. */
static int64_t next_deadline(const fl_task *t) {
    int64_t d = flush_deadline(t);
    if (t->n_ptimers > 0 && !t->settings->clock) {
        int64_t wait_ms = t->ptimers[0].time - fl_clock_wall_ms();
        if (wait_ms < 0) wait_ms = 0;
        int64_t at = fl_clock_monotonic_ns() + wait_ms * 1000000LL;
        if (!d || at < d) d = at;
    }
    return d;
}

/* Whether a due processing-time callback is waiting (manual clocks move
 * while the task sleeps). */
static bool timer_due(const fl_task *t) {
    return t->n_ptimers > 0 && t->ptimers[0].time <= fl__task_now_ms(t);
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
        int rrc = fl__restore_operator(op, &t->error);
        if (rrc < 0) return rrc;
        if (op->open_hook) {
            op->hooks_opened = true;
            int rc = op->open_hook(&op->ctx);
            if (rc < 0 || op->ctx.failure)
                return fl__user_failure(op, "open function", rc, &t->error);
        }
    }
    return 0;
}

static void close_chain(fl_task *t, bool failed) {
    for (int i = 0; i < t->n_ops; i++) {
        fl_operator *op = &t->ops[i];
        if (failed && fl__sink_is_transactional(op)) fl__sink_abort(op);
        if (op->hooks_opened && op->close_hook) op->close_hook(&op->ctx);
        if (op->ops->close) op->ops->close(op);
        fl__user_states_free(&op->op_states);
        fl__user_states_free(&op->restored_states);
        free(op->ctx.failure);
        op->ctx.failure = NULL;
    }
}

/* ---- sources ------------------------------------------------------------------------------ */

static int run_source(fl_task *t) {
    fl_operator *src = &t->ops[0];
    for (;;) {
        if (fl__task_canceled(t)) return FL_ECANCELED;
        if (atomic_load(&t->has_mail)) {
            int mrc = handle_mail(t);
            if (mrc < 0) return mrc;
            if (t->stopped) return 0; /* no final watermark: a stop is no end */
        }
        int64_t idle_until = 0;
        int rc = fl__source_read(src, &idle_until, &t->error);
        if (rc < 0) return rc;
        int idle = rc;
        if (idle == FL_SOURCE_END) break;
        if ((rc = fl__task_maybe_fail(t, FL_INJECT_PROCESS)) < 0) return rc;
        rc = fire_processing_timers(t);
        if (rc < 0) return rc;
        flush_if_due(t);
        if (rc == 0 && idle == FL_SOURCE_IDLE) {
            int64_t deadline = next_deadline(t);
            if (!idle_until) idle_until = fl_clock_monotonic_ns() + 10 * 1000000LL;
            if (!deadline || idle_until < deadline) deadline = idle_until;
            pthread_mutex_lock(&t->mu);
            if (!fl__task_canceled(t) && !timer_due(t) && !t->mail_head &&
                fl_clock_monotonic_ns() < deadline)
                wait_locked(t, deadline);
            pthread_mutex_unlock(&t->mu);
        }
    }
    /* A bounded source ends with the maximum watermark, so everything fires. */
    int rc = fl__op_watermark(src, INT64_MAX);
    if (rc == 0) rc = fl__op_end(src);
    if (rc == 0) rc = flush_writers(t);
    return rc;
}

/* ---- tasks with inputs ---------------------------------------------------------------------- */

static int advance_watermark(fl_task *t) {
    int64_t wm = INT64_MAX;
    bool any = false;
    for (int c = 0; c < t->n_channels; c++) {
        if (t->channels[c].ended || t->channels[c].idle) continue;
        any = true;
        if (t->channels[c].watermark < wm) wm = t->channels[c].watermark;
    }
    if (!any || wm <= t->watermark) return 0;
    t->watermark = wm;
    return fl__op_watermark(&t->ops[0], wm);
}

/* Idle when every live channel is idle; tells the chain when that changes. */
static int update_status(fl_task *t) {
    bool all_idle = true, any_live = false;
    for (int c = 0; c < t->n_channels; c++) {
        if (t->channels[c].ended) continue;
        any_live = true;
        if (!t->channels[c].idle) all_idle = false;
    }
    bool idle = any_live && all_idle;
    if (idle == t->idle) return 0;
    t->idle = idle;
    return fl__op_forward_status(&t->ops[0], idle);
}

static int run_batch(fl_task *t, int input) {
    fl_batch *b = &t->in_batch;
    if (b->n == 0) return 0;
    fl_operator *head = &t->ops[0];
    int rc = head->ops->process(head, input, b, &t->error);
    if (rc == 0) rc = fl__op_flush(head);
    if (rc == 0) rc = fl__task_maybe_fail(t, FL_INJECT_PROCESS);
    b->n = 0;
    return rc;
}

/* A barrier of checkpoint id arrived on ch. Returns 1 when ch must block
 * (exactly-once alignment waits for the other channels), 0 to go on, or a
 * negative error. */
static int on_barrier(fl_task *t, fl_input_channel *ch, int64_t id);

/* A channel ended: it no longer holds back an alignment in progress. */
static int on_channel_end(fl_task *t, fl_input_channel *ch);

/* Processes buf from offset on. Returns 0 when the buffer is done, 1 when a
 * barrier blocked its channel (*resume = where to continue later), or a
 * negative error. */
static int process_buffer(fl_task *t, fl_buffer *buf, uint32_t offset, uint32_t *resume) {
    fl_input_channel *ch = &t->channels[buf->channel];
    fl_batch *b = &t->in_batch;
    const uint8_t *p = buf->data + offset, *end = buf->data + buf->size;
    int rc = 0;
    while (rc == 0 && p < end) {
        fl_element_header h = fl_element_read_header(p);
        const uint8_t *next = p + FL_EL_HEADER + h.payload;
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
            case FL_EL_STATUS:
                ch->idle = h.value != 0;
                rc = update_status(t);
                if (rc == 0) rc = advance_watermark(t);
                break;
            case FL_EL_END_OF_PARTITION:
                if (!ch->ended) {
                    ch->ended = true;
                    t->n_ended++;
                    rc = advance_watermark(t);
                    if (rc == 0) rc = update_status(t);
                    if (rc == 0) rc = on_channel_end(t, ch);
                }
                break;
            case FL_EL_BARRIER:
                /* In unaligned mode a barrier in the data is a stop-with-
                 * savepoint's, which is aligned. */
                if (t->settings->unaligned && !fl__task_is_stop(t, h.value, NULL)) {
                    int64_t overtaken = 0;
                    if (h.payload >= 8) memcpy(&overtaken, p + FL_EL_HEADER, 8);
                    rc = unaligned_barrier(t, ch, h.value, overtaken, true);
                    break;
                }
                rc = on_barrier(t, ch, h.value);
                if (rc == 1) {
                    *resume = (uint32_t)(next - buf->data);
                    return next < end ? 1 : 0;
                }
                break;
            default:
                rc = fl_error_set(&t->error, FL_EFORMAT, "unexpected element %d on channel %d",
                                  h.tag, buf->channel);
            }
        }
        p = next;
    }
    if (rc == 0) rc = run_batch(t, ch->input);
    b->n = 0;
    return rc;
}

/* Processes buf of a channel that is not blocked, parking what follows a
 * blocking barrier. Takes buf. */
static int dispatch(fl_task *t, fl_buffer *buf) {
    fl_input_channel *ch = &t->channels[buf->channel];
    if (ch->blocked) {
        fl_buffer_queue_push(&ch->parked, buf);
        return 0;
    }
    bool unaligned = t->settings->unaligned && buf->pool;
    if (unaligned) fl__unaligned_capture(t, buf);
    uint32_t resume = 0;
    int rc = process_buffer(t, buf, 0, &resume);
    if (rc == 1) {
        /* The rest of this buffer waits at the head of the parked queue. */
        fl_buffer_queue_push_front(&ch->parked, buf);
        ch->parked_offset = resume;
        return 0;
    }
    fl_buffer_recycle(buf);
    if (rc == 0 && unaligned) rc = fl__unaligned_maybe_complete(t);
    return rc;
}

/* Alignment done: every channel goes on with what it parked (possibly up to
 * the next checkpoint's barrier). */
static int unblock_all(fl_task *t) {
    for (int c = 0; c < t->n_channels; c++) t->channels[c].blocked = false;
    for (int c = 0; c < t->n_channels; c++) {
        fl_input_channel *ch = &t->channels[c];
        while (!ch->blocked && ch->parked.head) {
            fl_buffer *buf = fl_buffer_queue_pop(&ch->parked);
            uint32_t offset = ch->parked_offset, resume = 0;
            ch->parked_offset = 0;
            int rc = process_buffer(t, buf, offset, &resume);
            if (rc == 1) {
                fl_buffer_queue_push_front(&ch->parked, buf);
                ch->parked_offset = resume;
                break;
            }
            fl_buffer_recycle(buf);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

static int finish_alignment(fl_task *t) {
    int64_t id = t->aligning;
    int64_t align_ns = fl_clock_monotonic_ns() - t->align_start_ns;
    t->aligning = 0;
    int rc = fl__task_checkpoint(t, id, align_ns);
    for (int c = 0; c < t->n_channels; c++) t->channels[c].barrier_seen = false;
    return rc;
}

/* A newer barrier overtook the unfinished alignment of t->aligning: that
 * checkpoint is abandoned here (the coordinator times it out). */
static int overtake_alignment(fl_task *t) {
    if (!t->aligning) return 0;
    if (t->aligning_unaligned) {
        fl__unaligned_abandon(t);
        return 0;
    }
    for (int c = 0; c < t->n_channels; c++) t->channels[c].barrier_seen = false;
    return unblock_all(t);
}

/* A barrier of unaligned checkpoint id; a newer one first ends an aligned
 * (stop-with-savepoint) alignment it overtakes. */
static int unaligned_barrier(fl_task *t, fl_input_channel *ch, int64_t id, int64_t overtaken,
                             bool in_local) {
    if (t->aligning && !t->aligning_unaligned && id > t->aligning) {
        int rc = overtake_alignment(t);
        if (rc < 0) return rc;
    }
    return fl__unaligned_on_barrier(t, ch, id, overtaken, in_local);
}

static int on_barrier(fl_task *t, fl_input_channel *ch, int64_t id) {
    if (id <= t->last_checkpoint) return 0; /* an older checkpoint: subsumed */
    if (id > t->aligning) {
        int rc = overtake_alignment(t);
        if (rc < 0) return rc;
        t->aligning = id;
        t->align_start_ns = fl_clock_monotonic_ns();
        t->barriers_missing = t->n_channels - t->n_ended;
    } else if (id < t->aligning) {
        return 0;
    }
    if (!ch->barrier_seen) {
        ch->barrier_seen = true;
        t->barriers_missing--;
    }
    if (t->barriers_missing > 0) {
        if (t->settings->checkpoint_mode == FL_CKPT_EXACTLY_ONCE) {
            ch->blocked = true;
            return 1;
        }
        return 0; /* at-least-once: keep processing */
    }
    int rc = finish_alignment(t);
    if (rc == 0) rc = unblock_all(t);
    return rc;
}

static int on_channel_end(fl_task *t, fl_input_channel *ch) {
    if (!t->aligning || ch->barrier_seen) return 0;
    if (t->aligning_unaligned) {
        /* Everything the channel sent is in (recorded already). */
        ch->barrier_seen = true;
        t->barriers_missing--;
        ch->capture_all = false;
        ch->capture_remaining = 0;
        return fl__unaligned_maybe_complete(t);
    }
    ch->barrier_seen = true;
    if (--t->barriers_missing > 0) return 0;
    int rc = finish_alignment(t);
    if (rc == 0) rc = unblock_all(t);
    return rc;
}

/* Unaligned checkpoints: barriers waiting at the front of the inbox are
 * handled now, ahead of the rest of the local list; buffers of their channel
 * still in the local list were delivered before them and are in-flight data
 * too. */
static int take_priority(fl_task *t) {
    pthread_mutex_lock(&t->mu);
    fl_buffer *events = NULL, **tail = &events;
    while (t->inbox.head && !t->inbox.head->pool) {
        fl_buffer *b = fl_buffer_queue_pop(&t->inbox);
        *tail = b;
        tail = &b->next;
    }
    atomic_store(&t->has_priority, false);
    pthread_mutex_unlock(&t->mu);
    int rc = 0;
    while (events) {
        fl_buffer *b = events;
        events = b->next;
        if (rc == 0) {
            fl_element_header h = fl_element_read_header(b->data);
            int64_t overtaken = 0;
            memcpy(&overtaken, b->data + FL_EL_HEADER, 8);
            rc = unaligned_barrier(t, &t->channels[b->channel], h.value, overtaken, false);
        }
        fl_buffer_recycle(b);
    }
    return rc;
}

static void recycle_all(fl_buffer *b) {
    while (b) {
        fl_buffer *next = b->next;
        fl_buffer_recycle(b);
        b = next;
    }
}

/* A stopped task's input ends where it is: after the barriers of the
 * savepoint it stopped with, its producers sent nothing more. */
static int stop_inputs(fl_task *t, fl_buffer *rest) {
    t->local = NULL;
    recycle_all(rest);
    for (int c = 0; c < t->n_channels; c++) {
        fl_buffer *b;
        while ((b = fl_buffer_queue_pop(&t->channels[c].parked))) fl_buffer_recycle(b);
    }
    return 0;
}

static int run_inputs(fl_task *t) {
    while (t->n_ended < t->n_channels) {
        pthread_mutex_lock(&t->mu);
        while (t->inbox.count == 0 && !fl__task_canceled(t) && !timer_due(t) && !t->mail_head) {
            int64_t deadline = next_deadline(t);
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
            t->local = next;
            int rc = dispatch(t, head);
            head = next;
            if (rc == 0 && atomic_load(&t->has_priority)) rc = take_priority(t);
            /* Unaligned: a trigger must not wait behind the backlog. */
            if (rc == 0 && t->settings->unaligned && atomic_load(&t->has_mail)) rc = handle_mail(t);
            if (rc < 0) {
                t->local = NULL;
                recycle_all(head);
                return rc;
            }
            if (t->stopped) return stop_inputs(t, head);
        }
        t->local = NULL;
        int rc = atomic_load(&t->has_mail) ? handle_mail(t) : 0;
        if (rc == 0 && t->stopped) return stop_inputs(t, NULL);
        if (rc == 0) rc = fire_processing_timers(t);
        if (rc < 0) return rc;
        flush_if_due(t);
    }
    int rc = 0;
    if (t->deferred_trigger > t->last_checkpoint)
        rc = fl__task_checkpoint(t, t->deferred_trigger, 0);
    /* Stopped there: no end of input, so nothing the savepoint misses. */
    if (t->stopped) return rc;
    if (rc == 0) rc = fl__op_end(&t->ops[0]);
    if (rc == 0) rc = flush_writers(t);
    return rc;
}

void *fl__task_thread_main(void *arg) {
    fl_task *t = arg;
    fl_debug("task", "%s started", t->name);
    int rc = open_chain(t);
    if (rc == 0) rc = fl__unaligned_replay(t, dispatch, &t->error);
    if (rc == 0) rc = t->ops[0].ops == &fl__op_source ? run_source(t) : run_inputs(t);
    /* A stopped task ends without a final state: the savepoint has it. */
    if (rc == 0 && !t->stopped) rc = fl__task_finish(t);
    /* Snapshots being written still read this task's state. */
    fl__task_await_snapshots(t);
    fl__unaligned_fini(t); /* its view reads state the operators free */
    close_chain(t, rc < 0);
    if (rc < 0 && !t->error.code) fl_error_set(&t->error, rc, "%s", fl_strerror(rc));
    if (rc < 0 && !(rc == FL_ECANCELED && fl__task_canceled(t)))
        fl__job_run_task_failed(t->run, t, &t->error);
    else
        fl__job_run_task_finished(t->run, t, rc == 0);
    return NULL;
}
