/*
 * unaligned.c - unaligned checkpoints (execution.checkpointing.unaligned):
 * barriers overtake the data queued in front of them, and that data is
 * stored with the checkpoint instead of being waited for, so checkpoints
 * complete quickly even under backpressure.
 *
 * A barrier is delivered as a priority event at the front of the consumer's
 * inbox, carrying how many buffers of its channel it jumped over. At the
 * first barrier of a checkpoint the consumer snapshots its operators at
 * once (between two buffers), forwards the barrier the same way, and from
 * then on records as channel state every buffer that logically precedes the
 * barrier on its channel: the overtaken ones, and everything a channel
 * delivers until its own barrier arrives. The recorded buffers are also
 * processed as usual. When every channel's barrier arrived and its overtaken
 * buffers were recorded, the channel state joins the snapshot. A restore
 * replays it before new input; upstream tasks resend what followed their
 * barriers, so nothing is lost or doubled.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "element.h"
#include "log.h"
#include "mem.h"
#include "runtime_int.h"
#include "storage.h"

void fl__task_deliver_barrier_priority(fl_task *consumer, int channel, int64_t id) {
    fl_buffer *b = fl_buffer_standalone(FL_EL_HEADER + 8);
    b->channel = channel;
    pthread_mutex_lock(&consumer->mu);
    int64_t overtaken = 0;
    for (fl_buffer *q = consumer->inbox.head; q; q = q->next)
        if (q->channel == channel && q->pool) overtaken++;
    fl_element_write_header(b->data, FL_EL_BARRIER, 8, id);
    memcpy(b->data + FL_EL_HEADER, &overtaken, 8);
    b->size = FL_EL_HEADER + 8;
    fl_buffer_queue_push_front(&consumer->inbox, b);
    atomic_store(&consumer->has_priority, true);
    pthread_cond_signal(&consumer->cv);
    pthread_mutex_unlock(&consumer->mu);
}

int fl__unaligned_forward_barrier(fl_task *t, int64_t id) {
    for (int w = 0; w < t->n_writers; w++) {
        fl_record_writer *wr = &t->writers[w];
        int rc = fl__writer_flush(wr, &t->error);
        if (rc < 0) return rc;
        for (int s = 0; s < wr->n_subs; s++)
            fl__task_deliver_barrier_priority(wr->subs[s].consumer, wr->subs[s].consumer_channel,
                                              id);
    }
    return 0;
}

void fl__unaligned_abandon(fl_task *t) {
    fl__task_snapshot_free(t->unaligned_snap);
    t->unaligned_snap = NULL;
    t->channel_state_len = 0;
    for (int c = 0; c < t->n_channels; c++) {
        t->channels[c].barrier_seen = false;
        t->channels[c].capture_all = false;
        t->channels[c].capture_remaining = 0;
    }
    t->aligning = 0;
    t->aligning_unaligned = false;
}

static void record(fl_task *t, const fl_buffer *b) {
    size_t need = t->channel_state_len + 8 + b->size;
    if (need > t->channel_state_cap) {
        size_t cap = t->channel_state_cap ? t->channel_state_cap : 64 * 1024;
        while (cap < need) cap *= 2;
        t->channel_state = fl_xrealloc(t->channel_state, cap);
        t->channel_state_cap = cap;
    }
    uint32_t channel = (uint32_t)b->channel, len = b->size;
    memcpy(t->channel_state + t->channel_state_len, &channel, 4);
    memcpy(t->channel_state + t->channel_state_len + 4, &len, 4);
    memcpy(t->channel_state + t->channel_state_len + 8, b->data, len);
    t->channel_state_len = need;
}

void fl__unaligned_capture(fl_task *t, const fl_buffer *b) {
    /* A channel whose barrier has not come yet: what it delivers now still
     * precedes its barrier. */
    if (t->aligning && b->channel >= 0 && t->channels[b->channel].capture_all) record(t, b);
}

/* Records at once the buffers of `channel` that a barrier overtook: the
 * first `n` of that channel in list (or all of them when n < 0). */
static int record_queued(fl_task *t, const fl_buffer *list, int channel, int64_t n) {
    int64_t done = 0;
    for (const fl_buffer *q = list; q && (n < 0 || done < n); q = q->next) {
        if (q->channel != channel || !q->pool) continue;
        record(t, q);
        done++;
    }
    return (int)done;
}

int fl__unaligned_maybe_complete(fl_task *t) {
    if (!t->aligning_unaligned || t->barriers_missing > 0) return 0;
    for (int c = 0; c < t->n_channels; c++)
        if (t->channels[c].capture_remaining > 0) return 0;
    int64_t id = t->aligning;
    fl_task_snapshot *snap = t->unaligned_snap;
    t->unaligned_snap = NULL;
    if (snap && t->channel_state_len > 0)
        fl__task_snapshot_add_bytes(snap, &t->ops[0], FL_STATE_ROLE_CHANNEL, t->channel_state,
                                    t->channel_state_len);
    int64_t took = fl_clock_monotonic_ns() - t->align_start_ns;
    fl_debug("checkpoint", "%s: unaligned checkpoint %lld with %zu bytes of in-flight data",
             t->name, (long long)id, t->channel_state_len);
    fl__unaligned_abandon(t); /* resets the capture bookkeeping; snap was taken out */
    t->last_checkpoint = id;
    return fl__task_checkpoint_submit(t, snap, id, took);
}

int fl__unaligned_on_barrier(fl_task *t, fl_input_channel *ch, int64_t id, int64_t overtaken,
                             bool in_local) {
    if (id <= t->last_checkpoint || id < t->aligning) return 0;
    if (id > t->aligning) {
        if (t->aligning) fl__unaligned_abandon(t); /* a newer checkpoint overtook this one */
        t->aligning = id;
        t->aligning_unaligned = true;
        t->align_start_ns = fl_clock_monotonic_ns();
        fl_task_snapshot *snap = NULL;
        int rc = fl__task_checkpoint_begin(t, id, &snap);
        if (rc == 0) rc = fl__unaligned_forward_barrier(t, id);
        if (rc < 0) {
            fl__task_snapshot_free(snap);
            return rc;
        }
        t->unaligned_snap = snap;
        t->barriers_missing = 0;
        for (int c = 0; c < t->n_channels; c++) {
            fl_input_channel *x = &t->channels[c];
            x->barrier_seen = x->ended;
            x->capture_all = !x->ended;
            x->capture_remaining = 0;
            if (!x->ended) t->barriers_missing++;
        }
    }
    if (!ch->barrier_seen) {
        ch->barrier_seen = true;
        t->barriers_missing--;
        ch->capture_all = false;
        ch->capture_remaining = 0;
        int channel = (int)(ch - t->channels);
        if (in_local) {
            /* The event came with the inbox: the buffers it overtook follow
             * it in the local list. */
            record_queued(t, t->local, channel, overtaken);
        } else {
            /* Taken from the inbox's front: the whole rest of the local list
             * was delivered before it, and `overtaken` buffers in the inbox. */
            record_queued(t, t->local, channel, -1);
            pthread_mutex_lock(&t->mu);
            record_queued(t, t->inbox.head, channel, overtaken);
            pthread_mutex_unlock(&t->mu);
        }
    }
    return fl__unaligned_maybe_complete(t);
}

int fl__unaligned_replay(fl_task *t, int (*dispatch)(fl_task *, fl_buffer *), fl_error *err) {
    if (!t->settings->restore || t->n_channels == 0) return 0;
    void *data;
    size_t len;
    int rc = fl__restore_own_part(&t->ops[0], FL_STATE_ROLE_CHANNEL, &data, &len, err);
    if (rc < 0 || !data) return rc;
    fl_info("checkpoint", "%s: replaying %zu bytes of in-flight data", t->name, len);
    size_t at = 0;
    while (rc == 0 && at + 8 <= len) {
        uint32_t channel, blen;
        memcpy(&channel, (uint8_t *)data + at, 4);
        memcpy(&blen, (uint8_t *)data + at + 4, 4);
        if (channel >= (uint32_t)t->n_channels || at + 8 + blen > len) {
            rc = fl_error_set(err, FL_EFORMAT, "%s: malformed channel state", t->name);
            break;
        }
        fl_buffer *b = fl_buffer_standalone(blen);
        memcpy(b->data, (uint8_t *)data + at + 8, blen);
        b->size = blen;
        b->channel = (int)channel;
        rc = dispatch(t, b);
        at += 8 + blen;
    }
    free(data);
    return rc;
}

void fl__unaligned_fini(fl_task *t) {
    fl__task_snapshot_free(t->unaligned_snap);
    t->unaligned_snap = NULL;
    free(t->channel_state);
    t->channel_state = NULL;
}
