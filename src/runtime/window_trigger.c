/*
 * window_trigger.c - triggers of the window operator: Flink's EventTimeTrigger,
 * ProcessingTimeTrigger, NeverTrigger (global windows), CountTrigger,
 * ContinuousEventTimeTrigger, the PurgingTrigger wrapper, and user triggers
 * (fl_trigger_fns), with the context they run in (fl_trigger_ctx): time, timers
 * and per-(key, window) state of the window being triggered.
 *
 * Trigger state is keyed state in the window's namespace (the actual window,
 * not the state window of a merged session): the count trigger's count and the
 * continuous trigger's next fire time are reducing states, so merging windows
 * merges them as Flink's mergePartitionedState does. A user trigger's value
 * states cannot be merged; they are cleared with the windows merged away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "window_op.h"

/* ---- the context of user triggers (public API) --------------------------------------------- */

int64_t fl_trigger_current_watermark(const fl_trigger_ctx *t) { return t->w->op->watermark; }

int64_t fl_trigger_current_processing_time(const fl_trigger_ctx *t) {
    return fl__task_now_ms(t->w->op->task);
}

static void timer(fl_trigger_ctx *t, fl_time_domain d, int64_t time, bool add) {
    fl__keyed_timer(t->w->op, d, time, t->ns, FL_WIN_NS_LEN, add);
}

void fl_trigger_register_event_timer(fl_trigger_ctx *t, int64_t time) {
    timer(t, FL_EVENT_TIME, time, true);
}
void fl_trigger_register_processing_timer(fl_trigger_ctx *t, int64_t time) {
    timer(t, FL_PROCESSING_TIME, time, true);
}
void fl_trigger_delete_event_timer(fl_trigger_ctx *t, int64_t time) {
    timer(t, FL_EVENT_TIME, time, false);
}
void fl_trigger_delete_processing_timer(fl_trigger_ctx *t, int64_t time) {
    timer(t, FL_PROCESSING_TIME, time, false);
}

fl_value_state *fl_trigger_value_state(fl_trigger_ctx *t, const char *name,
                                       const fl_schema *schema) {
    fl_win_op *w = t->w;
    fl_context *ctx = &w->op->ctx;
    if (!name) {
        fl_context_fail(ctx, "a trigger state needs a name");
        return NULL;
    }
    /* Declared once (then the backend checks the schema); looked up by name
     * on every later call, which triggers make per element. */
    for (size_t i = 0; i < w->n_trigger_states; i++)
        if (strcmp(w->trigger_states[i].name, name) == 0) return w->trigger_states[i].state;
    /* Apart from the user's own states of the same operator. */
    char *full = fl_xasprintf("__trigger.%s", name);
    fl_value_state *s = fl_context_value_state(ctx, full, schema, NULL);
    free(full);
    if (!s) return NULL;
    w->trigger_states =
        fl_xrealloc(w->trigger_states, (w->n_trigger_states + 1) * sizeof *w->trigger_states);
    w->trigger_states[w->n_trigger_states].name = fl_xstrdup(name);
    w->trigger_states[w->n_trigger_states].state = s;
    w->n_trigger_states++;
    return s;
}

fl_context *fl_trigger_context(fl_trigger_ctx *t) { return &t->w->op->ctx; }

void fl__win_trigger_window(fl_win_op *w, const fl_window *win) {
    w->tctx.window = *win;
    fl__win_ns(win, w->tctx.ns);
}

/* ---- trigger states ------------------------------------------------------------------------ */

static int sum_longs(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    uint64_t s = (uint64_t)fl_row_get_bigint(acc, 0) + (uint64_t)fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, (int64_t)s);
    return 0;
}

static int min_longs(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    int64_t a = fl_row_get_bigint(acc, 0), b = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, a < b ? a : b);
    return 0;
}

static fl_kstate *long_state(fl_win_op *w, const char *name, fl_state_reduce_fn fn, fl_error *err) {
    fl_state_desc d = {.name = name,
                       .kind = FL_STATE_REDUCING,
                       .value_schema = w->long_schema,
                       .reduce = fn,
                       .reduce_arg = w};
    return fl_keyed_backend_state(w->keyed.backend, &d, err);
}

int fl__win_trigger_open(fl_win_op *w, fl_error *err) {
    w->tctx.w = w;
    w->long_schema = fl_schema_of(1, "value", FL_BIGINT);
    w->long_b = fl_row_builder_create(w->long_schema);
    if (w->trigger.kind == FL_TRIGGER_COUNT) {
        w->count = long_state(w, "__window.trigger.count", sum_longs, err);
        fl_row_builder_reset(w->long_b);
        fl_row_builder_set_bigint(w->long_b, 0, 1);
        w->one = fl_row_copy(fl_row_builder_finish(w->long_b));
        if (!w->count) return err->code;
    }
    if (w->trigger.kind == FL_TRIGGER_CONTINUOUS_EVENT_TIME) {
        w->fire_time = long_state(w, "__window.trigger.fire-time", min_longs, err);
        if (!w->fire_time) return err->code;
    }
    return 0;
}

void fl__win_trigger_close(fl_win_op *w) {
    fl_row_builder_destroy(w->long_b);
    fl_schema_unref(w->long_schema);
    free(w->one);
}

static fl_kstate *in_window(fl_win_op *w, fl_kstate *s) {
    fl_kstate_set_namespace(s, w->tctx.ns, FL_WIN_NS_LEN);
    return s;
}

/* The value of a (BIGINT) trigger state in the window, or INT64_MIN when unset. */
static int64_t long_get(fl_win_op *w, fl_kstate *s) {
    const fl_row *r = fl_kstate_get(in_window(w, s));
    return r ? fl_row_get_bigint(r, 0) : INT64_MIN;
}

static int long_add(fl_win_op *w, fl_kstate *s, int64_t v) {
    fl_row_builder_reset(w->long_b);
    fl_row_builder_set_bigint(w->long_b, 0, v);
    int rc = fl_kstate_add(in_window(w, s), fl_row_builder_finish(w->long_b));
    return rc < 0 ? fl__win_user_failure(w, "trigger state", rc) : 0;
}

/* ---- user triggers ------------------------------------------------------------------------- */

/* Runs with the window as the namespace of the trigger's states. */
static void enter(fl_win_op *w) {
    w->keyed.ns = w->tctx.ns;
    w->keyed.ns_len = FL_WIN_NS_LEN;
}

static void leave(fl_win_op *w) {
    w->keyed.ns = NULL;
    w->keyed.ns_len = 0;
}

static int user_result(fl_win_op *w, const char *what, int rc) {
    if (rc < 0 || w->op->ctx.failure) return fl__win_user_failure(w, what, rc < 0 ? rc : FL_EUSER);
    if (rc > FL_TRIGGER_FIRE_AND_PURGE)
        return fl_error_set(
            w->err, FL_EUSER,
            "%s of the trigger of \"%s\" returned %d, which is not a trigger result", what,
            w->op->node->name, rc);
    return rc;
}

static int user_element(fl_win_op *w, const fl_row *row, int64_t ts) {
    if (!w->user_trigger.on_element) return FL_TRIGGER_CONTINUE;
    enter(w);
    int rc = w->user_trigger.on_element(&w->tctx, row, ts, &w->tctx.window);
    leave(w);
    return user_result(w, "on_element", rc);
}

static int user_time(fl_win_op *w, fl_time_domain d, int64_t time) {
    int (*fn)(fl_trigger_ctx *, int64_t, const fl_window *) =
        d == FL_EVENT_TIME ? w->user_trigger.on_event_time : w->user_trigger.on_processing_time;
    if (!fn) return FL_TRIGGER_CONTINUE;
    enter(w);
    int rc = fn(&w->tctx, time, &w->tctx.window);
    leave(w);
    return user_result(w, d == FL_EVENT_TIME ? "on_event_time" : "on_processing_time", rc);
}

/* ---- the trigger calls --------------------------------------------------------------------- */

static int purging(const fl_win_op *w, int r) {
    if (r >= 0 && w->trigger.purging && (r & FL_TRIGGER_FIRE)) return FL_TRIGGER_FIRE_AND_PURGE;
    return r;
}

static int next_fire(fl_win_op *w, int64_t time) {
    int64_t max_ts = fl__win_max_ts(&w->tctx.window), next;
    if (__builtin_add_overflow(time, w->trigger.interval_ms, &next)) next = INT64_MAX;
    if (next > max_ts) next = max_ts;
    int rc = long_add(w, w->fire_time, next);
    if (rc == 0) timer(&w->tctx, FL_EVENT_TIME, next, true);
    return rc;
}

static int element(fl_win_op *w, const fl_row *row, int64_t ts, bool was_empty) {
    int64_t max_ts = fl__win_max_ts(&w->tctx.window);
    switch (w->trigger.kind) {
    case FL_TRIGGER_DEFAULT: /* what remains of it after open: global windows' NeverTrigger */
        return FL_TRIGGER_CONTINUE;
    case FL_TRIGGER_EVENT_TIME:
        if (max_ts <= w->op->watermark) return FL_TRIGGER_FIRE;
        if (was_empty || !w->skip_trigger_timer) timer(&w->tctx, FL_EVENT_TIME, max_ts, true);
        return FL_TRIGGER_CONTINUE;
    case FL_TRIGGER_PROCESSING_TIME:
        if (was_empty || !w->skip_trigger_timer) timer(&w->tctx, FL_PROCESSING_TIME, max_ts, true);
        return FL_TRIGGER_CONTINUE;
    case FL_TRIGGER_COUNT: {
        int rc = fl_kstate_add(in_window(w, w->count), w->one);
        if (rc < 0) return fl__win_user_failure(w, "trigger state", rc);
        if (long_get(w, w->count) < w->trigger.count) return FL_TRIGGER_CONTINUE;
        fl_kstate_clear(w->count);
        return FL_TRIGGER_FIRE;
    }
    case FL_TRIGGER_CONTINUOUS_EVENT_TIME: {
        if (max_ts <= w->op->watermark) return FL_TRIGGER_FIRE;
        timer(&w->tctx, FL_EVENT_TIME, max_ts, true);
        if (long_get(w, w->fire_time) != INT64_MIN) return FL_TRIGGER_CONTINUE;
        int rc = next_fire(w, ts - ts % w->trigger.interval_ms);
        return rc < 0 ? rc : FL_TRIGGER_CONTINUE;
    }
    case FL_TRIGGER_USER:
        return user_element(w, row, ts);
    }
    return FL_TRIGGER_CONTINUE;
}

int fl__win_trigger_element(fl_win_op *w, const fl_row *row, int64_t ts, bool was_empty) {
    return purging(w, element(w, row, ts, was_empty));
}

static int on_time(fl_win_op *w, fl_time_domain d, int64_t time) {
    int64_t max_ts = fl__win_max_ts(&w->tctx.window);
    switch (w->trigger.kind) {
    case FL_TRIGGER_DEFAULT:
        return FL_TRIGGER_CONTINUE;
    case FL_TRIGGER_EVENT_TIME:
        return d == FL_EVENT_TIME && time == max_ts ? FL_TRIGGER_FIRE : FL_TRIGGER_CONTINUE;
    case FL_TRIGGER_PROCESSING_TIME:
        return d == FL_PROCESSING_TIME ? FL_TRIGGER_FIRE : FL_TRIGGER_CONTINUE;
    case FL_TRIGGER_COUNT:
        return FL_TRIGGER_CONTINUE;
    case FL_TRIGGER_CONTINUOUS_EVENT_TIME: {
        if (d != FL_EVENT_TIME) return FL_TRIGGER_CONTINUE;
        if (time == max_ts) return FL_TRIGGER_FIRE;
        if (long_get(w, w->fire_time) != time) return FL_TRIGGER_CONTINUE;
        fl_kstate_clear(w->fire_time);
        int rc = next_fire(w, time);
        return rc < 0 ? rc : FL_TRIGGER_FIRE;
    }
    case FL_TRIGGER_USER:
        return user_time(w, d, time);
    }
    return FL_TRIGGER_CONTINUE;
}

int fl__win_trigger_time(fl_win_op *w, fl_time_domain d, int64_t time) {
    return purging(w, on_time(w, d, time));
}

/* Merges a reducing trigger state of the merged windows into tctx's window. */
static int merge_state(fl_win_op *w, fl_kstate *s, const fl_window *merged, size_t n) {
    const uint32_t *lens;
    const void *const *sources = fl__win_merge_sources(w, merged, n, &lens);
    int rc = fl_kstate_merge_namespaces(s, w->tctx.ns, FL_WIN_NS_LEN, sources, lens, n);
    return rc < 0 ? fl__win_user_failure(w, "merging trigger state", rc) : 0;
}

int fl__win_trigger_merge(fl_win_op *w, const fl_window *merged, size_t n) {
    int64_t max_ts = fl__win_max_ts(&w->tctx.window);
    switch (w->trigger.kind) {
    case FL_TRIGGER_DEFAULT:
        return 0;
    case FL_TRIGGER_EVENT_TIME:
        /* Not when the watermark passed the end: onElement fires then. */
        if (max_ts > w->op->watermark) timer(&w->tctx, FL_EVENT_TIME, max_ts, true);
        return 0;
    case FL_TRIGGER_PROCESSING_TIME:
        if (max_ts > fl__task_now_ms(w->op->task))
            timer(&w->tctx, FL_PROCESSING_TIME, max_ts, true);
        return 0;
    case FL_TRIGGER_COUNT:
        return merge_state(w, w->count, merged, n);
    case FL_TRIGGER_CONTINUOUS_EVENT_TIME: {
        int rc = merge_state(w, w->fire_time, merged, n);
        int64_t next = rc < 0 ? INT64_MIN : long_get(w, w->fire_time);
        if (next != INT64_MIN) timer(&w->tctx, FL_EVENT_TIME, next, true);
        return rc;
    }
    case FL_TRIGGER_USER: {
        if (!w->user_trigger.on_merge) return 0;
        enter(w);
        int rc = w->user_trigger.on_merge(&w->tctx, &w->tctx.window);
        leave(w);
        rc = user_result(w, "on_merge", rc);
        return rc < 0 ? rc : 0;
    }
    }
    return 0;
}

int fl__win_trigger_clear(fl_win_op *w) {
    int64_t max_ts = fl__win_max_ts(&w->tctx.window);
    switch (w->trigger.kind) {
    case FL_TRIGGER_DEFAULT:
        return 0;
    case FL_TRIGGER_EVENT_TIME:
        timer(&w->tctx, FL_EVENT_TIME, max_ts, false);
        return 0;
    case FL_TRIGGER_PROCESSING_TIME:
        timer(&w->tctx, FL_PROCESSING_TIME, max_ts, false);
        return 0;
    case FL_TRIGGER_COUNT:
        fl_kstate_clear(in_window(w, w->count));
        return 0;
    case FL_TRIGGER_CONTINUOUS_EVENT_TIME: {
        int64_t t = long_get(w, w->fire_time);
        if (t != INT64_MIN) timer(&w->tctx, FL_EVENT_TIME, t, false);
        fl_kstate_clear(w->fire_time);
        return 0;
    }
    case FL_TRIGGER_USER:
        if (!w->user_trigger.clear) return 0;
        enter(w);
        w->user_trigger.clear(&w->tctx, &w->tctx.window);
        leave(w);
        return w->op->ctx.failure ? fl__win_user_failure(w, "clear", FL_EUSER) : 0;
    }
    return 0;
}
