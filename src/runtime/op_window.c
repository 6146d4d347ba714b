/*
 * op_window.c - the window operator (Flink's WindowOperator and
 * EvictingWindowOperator): keyed windows, window_all (one constant key, one
 * subtask) and window joins (two inputs, one key per input), all one kind of
 * node, "window", configured by its options (window_int.h).
 *
 * Per element: the assigner gives its windows; a window whose cleanup time
 * (end - 1 + allowed lateness, event time) the watermark has reached is late
 * and skipped; the element goes into each remaining window's contents (keyed
 * state in the window's namespace, window_fn.c), then the trigger
 * (window_trigger.c) decides: FIRE runs the window function, which emits with
 * the window's last timestamp end - 1; PURGE clears the contents. An element
 * skipped by every window and older than watermark - allowed lateness is late
 * data: it goes to the late side output when there is one, else it is
 * dropped. Each window also gets a cleanup timer at its cleanup time (event
 * time for event-time windows, end - 1 in processing time otherwise) that
 * clears its contents, trigger state and per-window user state, so that
 * state returns to nothing once the watermark passed every window.
 *
 * Session windows merge (Flink's MergingWindowSet, window_assign.c): the
 * key's active windows live in keyed state, each mapped to the window whose
 * namespace holds its contents; a merge asks the trigger to merge (re-register
 * its timer for the merged window's end), clears the merged windows' triggers
 * and cleanup timers, and merges their contents into the state window with
 * fl_kstate_merge_namespaces.
 *
 * Timers are the keyed backend's, per (key, window namespace); keyed.c fires
 * them in time order as the watermark and the clock advance.
 *
 * A batch of elements keyed by fields has its keys projected and hashed
 * before the first element touches state (project_keys), then the elements
 * go one by one as above; the order of everything an element does is
 * unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "log.h"
#include "mem.h"
#include "row_int.h"
#include "schema_text.h"
#include "window_op.h"

int fl__win_user_failure(fl_win_op *w, const char *what, int rc) {
    fl_operator *op = w->op;
    if (rc == FL_ECANCELED && !op->ctx.failure) return rc;
    if (op->ctx.failure || rc >= 0)
        return fl__user_failure(op, what, rc < 0 ? rc : FL_EUSER, w->err);
    if (w->err->code) return w->err->code; /* already said (an invalid row, a merge) */
    return fl_error_set(w->err, FL_EUSER, "%s of \"%s\" failed: %s", what, op->node->name,
                        fl_strerror(rc));
}

/* ---- times --------------------------------------------------------------------------------- */

/* Flink's cleanupTime: when a window's state goes. INT64_MAX: never. */
static int64_t cleanup_time(const fl_win_op *w, const fl_window *win) {
    int64_t max_ts = fl__win_max_ts(win), t;
    if (!w->event_time) return max_ts;
    if (__builtin_add_overflow(max_ts, w->lateness, &t)) return INT64_MAX;
    return t;
}

static bool window_late(const fl_win_op *w, const fl_window *win) {
    return w->event_time && cleanup_time(w, win) <= w->op->watermark;
}

static bool element_late(const fl_win_op *w, int64_t ts) {
    int64_t t;
    if (!w->event_time) return false;
    if (__builtin_add_overflow(ts, w->lateness, &t)) return false;
    return t <= w->op->watermark;
}

static void cleanup_timer(fl_win_op *w, const fl_window *win, bool add) {
    int64_t t = cleanup_time(w, win);
    if (t == INT64_MAX) return;
    uint8_t ns[FL_WIN_NS_LEN];
    fl__win_ns(win, ns);
    fl__keyed_timer(w->op, w->event_time ? FL_EVENT_TIME : FL_PROCESSING_TIME, t, ns, FL_WIN_NS_LEN,
                    add);
}

/* ---- the merging window set in state ------------------------------------------------------- */

static void load_set(fl_win_op *w) {
    const fl_row *r = fl_kstate_value_get(w->windows);
    uint32_t len = 0;
    const void *bytes = r ? fl_row_get_bytes(r, 0, &len) : NULL;
    fl__win_set_load(&w->set, bytes, len);
}

static int persist_set(fl_win_op *w) {
    if (!w->set.dirty) return 0;
    w->set.dirty = false;
    if (w->set.n == 0) {
        fl_kstate_clear(w->windows);
        return 0;
    }
    uint32_t len;
    const void *bytes = fl__win_set_bytes(&w->set, &len);
    fl_row_builder_reset(w->set_b);
    fl_row_builder_set_bytes(w->set_b, 0, bytes, len);
    int rc = fl_kstate_value_update(w->windows, fl_row_builder_finish(w->set_b));
    return rc < 0 ? fl__win_user_failure(w, "window state", rc) : 0;
}

/* ---- clearing ------------------------------------------------------------------------------ */

static void contents_in(fl_win_op *w, const uint8_t *ns) {
    fl_kstate_set_namespace(w->contents, ns, FL_WIN_NS_LEN);
}

/* The user's per-window states (process functions, user triggers) of win. */
static void clear_user_states(fl_win_op *w, const fl_window *win) {
    if (!w->keyed.states) return;
    uint8_t ns[FL_WIN_NS_LEN];
    fl__win_ns(win, ns);
    w->keyed.ns = ns;
    w->keyed.ns_len = FL_WIN_NS_LEN;
    fl__user_states_clear_current(&w->keyed);
    w->keyed.ns = NULL;
    w->keyed.ns_len = 0;
}

/* Flink's clearAllState: contents (in state_ns), trigger, per-window state,
 * and the window's place in the merging set. tctx is at win. */
static int clear_all(fl_win_op *w, const fl_window *win, const uint8_t *state_ns) {
    contents_in(w, state_ns);
    fl_kstate_clear(w->contents);
    int rc = fl__win_trigger_clear(w);
    clear_user_states(w, win);
    if (w->merging) fl__win_set_retire(&w->set, win);
    return rc;
}

/* ---- merging ------------------------------------------------------------------------------- */

static int merge_windows(void *arg, const fl_window *result, const fl_window *merged,
                         size_t n_merged, const fl_window *state_result,
                         const fl_window *merged_states, size_t n_states) {
    fl_win_op *w = arg;
    int64_t max_ts = fl__win_max_ts(result);
    if (w->event_time && cleanup_time(w, result) <= w->op->watermark)
        return fl_error_set(w->err, FL_ESTATE,
                            "\"%s\": merging made the end of an event-time window earlier than the "
                            "current watermark %lld",
                            w->op->node->name, (long long)w->op->watermark);
    if (!w->event_time && max_ts <= fl__task_now_ms(w->op->task))
        return fl_error_set(w->err, FL_ESTATE,
                            "\"%s\": merging made the end of a processing-time window earlier than "
                            "the current processing time",
                            w->op->node->name);
    fl__win_trigger_window(w, result);
    int rc = fl__win_trigger_merge(w, merged, n_merged);
    for (size_t i = 0; rc == 0 && i < n_merged; i++) {
        fl__win_trigger_window(w, &merged[i]);
        rc = fl__win_trigger_clear(w);
        cleanup_timer(w, &merged[i], false);
        clear_user_states(w, &merged[i]);
    }
    if (rc < 0 || n_states == 0) return rc;
    uint8_t target[FL_WIN_NS_LEN];
    fl__win_ns(state_result, target);
    const uint32_t *lens;
    const void *const *sources = fl__win_merge_sources(w, merged_states, n_states, &lens);
    rc = fl_kstate_merge_namespaces(w->contents, target, FL_WIN_NS_LEN, sources, lens, n_states);
    return rc < 0 ? fl__win_user_failure(w, "merging window contents", rc) : 0;
}

const void *const *fl__win_merge_sources(fl_win_op *w, const fl_window *windows, size_t n,
                                         const uint32_t **lens) {
    if (n > w->merge_cap) {
        w->merge_cap = n * 2;
        w->merge_ns = fl_xrealloc(w->merge_ns, w->merge_cap * FL_WIN_NS_LEN);
        w->merge_src = fl_xrealloc(w->merge_src, w->merge_cap * sizeof *w->merge_src);
        w->merge_lens = fl_xrealloc(w->merge_lens, w->merge_cap * sizeof *w->merge_lens);
    }
    for (size_t i = 0; i < n; i++) {
        fl__win_ns(&windows[i], w->merge_ns + i * FL_WIN_NS_LEN);
        w->merge_src[i] = w->merge_ns + i * FL_WIN_NS_LEN;
        w->merge_lens[i] = FL_WIN_NS_LEN;
    }
    *lens = w->merge_lens;
    return w->merge_src;
}

/* ---- elements ------------------------------------------------------------------------------ */

/* After the element went into win (contents in state_ns; win's own
 * namespace win_ns, or NULL to compute): the trigger's answer, then the
 * cleanup timer. */
static int triggered(fl_win_op *w, const fl_window *win, const uint8_t *win_ns,
                     const uint8_t *state_ns, const fl_row *row, int64_t ts, bool was_empty) {
    int r;
    /* The common case of the default triggers, decided here: the window had
     * contents, so its timer is registered and nothing fires yet. */
    if (!was_empty && w->skip_trigger_timer &&
        (w->trigger.kind == FL_TRIGGER_PROCESSING_TIME ||
         fl__win_max_ts(win) > w->op->watermark)) {
        r = FL_TRIGGER_CONTINUE;
    } else {
        if (win_ns) {
            w->tctx.window = *win;
            memcpy(w->tctx.ns, win_ns, FL_WIN_NS_LEN);
        } else {
            fl__win_trigger_window(w, win);
        }
        r = fl__win_trigger_element(w, row, ts, was_empty);
    }
    if (r < 0) return r;
    if (r & FL_TRIGGER_FIRE) {
        contents_in(w, state_ns);
        int rc = fl__win_fn_fire(w, win);
        if (rc < 0) return rc;
    }
    if (r & FL_TRIGGER_PURGE) {
        contents_in(w, state_ns);
        fl_kstate_clear(w->contents);
    }
    if ((was_empty && !w->cleanup_is_trigger_timer) || !w->skip_cleanup_timer)
        cleanup_timer(w, win, true);
    return 0;
}

static int add_plain(fl_win_op *w, int input, const fl_row *row, int64_t ts, size_t n,
                     bool *skipped) {
    for (size_t i = 0; i < n; i++) {
        const fl_window *win = &w->wins[i];
        if (window_late(w, win)) continue;
        *skipped = false;
        const uint8_t *ns = w->wins_ns[i];
        contents_in(w, ns);
        bool was_empty;
        int rc = fl__win_fn_add(w, input, row, ts, &was_empty);
        if (rc == 0) rc = triggered(w, win, ns, ns, row, ts, was_empty);
        if (rc < 0) return rc;
    }
    return 0;
}

static int add_merging(fl_win_op *w, int input, const fl_row *row, int64_t ts, size_t n,
                       bool *skipped) {
    load_set(w);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        fl_window actual;
        rc = fl__win_set_add(&w->set, &w->wins[i], merge_windows, w, &actual);
        if (rc < 0) break;
        if (window_late(w, &actual)) {
            fl__win_set_retire(&w->set, &actual);
            continue;
        }
        *skipped = false;
        uint8_t state_ns[FL_WIN_NS_LEN];
        fl__win_ns(fl__win_set_state_window(&w->set, &actual), state_ns);
        contents_in(w, state_ns);
        bool was_empty;
        rc = fl__win_fn_add(w, input, row, ts, &was_empty);
        if (rc == 0) rc = triggered(w, &actual, NULL, state_ns, row, ts, was_empty);
    }
    int prc = persist_set(w);
    return rc < 0 ? rc : prc;
}

/* Sliced windows: the element goes into its slice (one accumulator), and
 * each of the slice's windows that is not late gets its timers when the
 * slice gets its first element; a window the watermark already passed (within
 * the allowed lateness) fires at once, as Flink's event-time trigger does. */
static int add_sliced(fl_win_op *w, const fl_row *row, int64_t ts, size_t n, bool *skipped) {
    size_t live = 0;
    for (size_t i = 0; i < n; i++) live += !window_late(w, &w->wins[i]);
    if (live == 0) return 0;
    *skipped = false;
    contents_in(w, w->slice_ns);
    bool was_empty;
    int rc = fl__win_fn_add(w, 0, row, ts, &was_empty);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const fl_window *win = &w->wins[i];
        if (window_late(w, win)) continue;
        int64_t max_ts = fl__win_max_ts(win);
        bool passed = max_ts <= w->op->watermark;
        if (was_empty && !passed)
            fl_timer_register(w->keyed.backend, FL_EVENT_TIME, max_ts, w->wins_ns[i],
                              FL_WIN_NS_LEN);
        if (was_empty && w->lateness > 0) cleanup_timer(w, win, true);
        if (passed) rc = fl__win_fn_fire_slices(w, win);
    }
    return rc;
}

/* Sliced windows: a window's timer fires it; its cleanup clears its
 * per-window state and its first slice, which no later window holds. */
static int sliced_timer(fl_win_op *w, int domain, const fl_window *win, int64_t time) {
    if (domain != FL_EVENT_TIME) return 0;
    int rc = 0;
    if (time == fl__win_max_ts(win)) rc = fl__win_fn_fire_slices(w, win);
    if (rc == 0 && time == cleanup_time(w, win)) {
        clear_user_states(w, win);
        fl_window first = {win->start, win->start + w->assigner.slide_ms};
        uint8_t ns[FL_WIN_NS_LEN];
        fl__win_ns(&first, ns);
        contents_in(w, ns);
        fl_kstate_clear(w->contents);
    }
    return rc;
}

/* The windows of time t into w->wins and their namespaces; for aligned
 * windows also the times that share them. */
static size_t assign(fl_win_op *w, int64_t t) {
    size_t n = fl__win_assign(&w->assigner, t, w->wins);
    for (size_t i = 0; i < n; i++) fl__win_ns(&w->wins[i], w->wins_ns[i]);
    if (w->aligned) {
        const fl_window_assigner *a = &w->assigner;
        int64_t lo = fl__win_start(t, a->offset_ms, a->slide_ms), hi;
        if (__builtin_add_overflow(lo, a->slide_ms, &hi)) hi = lo; /* no reuse at the edge */
        w->assigned_lo = lo;
        w->assigned_hi = hi;
        w->n_assigned = n;
        if (w->sliced) fl__win_ns(&(fl_window){lo, lo + a->slide_ms}, w->slice_ns);
        if (n > 0)
            w->assigned_ns_hash =
                fl_kstate_namespace_hash(w->sliced ? w->slice_ns : w->wins_ns[0], FL_WIN_NS_LEN);
    }
    return n;
}

/* Prefetching: the rows PREFETCH_SLOT ahead get their state slot fetched,
 * the rows PREFETCH_ENTRY ahead (whose slot has arrived by then) their
 * entry, so the misses of several rows overlap instead of each row waiting
 * for its own two (a window's contents rarely fit in the core's cache). */
#define PREFETCH_SLOT  8
#define PREFETCH_ENTRY 4

static void prefetch_row(fl_win_op *w, const fl_batch *in, uint32_t j, bool entry) {
    int64_t t = in->ts[j];
    if (t >= w->assigned_lo && t < w->assigned_hi)
        fl_kstate_prefetch(w->contents, w->keys.hash[j], w->assigned_ns_hash, entry);
}

static int win_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    fl_win_op *w = op->impl;
    bool keyed = op->node->key != NULL;
    bool by_clock = !w->event_time;
    bool projected = false;
    if (keyed) {
        fl_keyed_op *k = &w->keyed;
        fl_key_extractor *kx = &k->key[input == 1 && k->key[1].builder ? 1 : 0];
        if (kx->spec->n_fields > 0) {
            fl__batch_keys_project(&w->keys, kx, in);
            projected = true;
        }
    }
    bool prefetch = projected && !by_clock && !w->merging && w->aligned;
    for (uint32_t i = 0; i < in->n; i++) {
        const fl_row *row = in->rows[i];
        int64_t ts = in->ts[i];
        if (prefetch) {
            if (i + PREFETCH_SLOT < in->n) prefetch_row(w, in, i + PREFETCH_SLOT, false);
            if (i + PREFETCH_ENTRY < in->n) prefetch_row(w, in, i + PREFETCH_ENTRY, true);
        }
        if (keyed) {
            int rc = fl__keyed_set_key_at(op, input, row, projected ? &w->keys : NULL, i, err);
            if (rc < 0) return rc;
        }
        if (!by_clock && ts == FL_NO_TIMESTAMP)
            return fl_error_set(
                err, FL_EINVAL,
                "\"%s\" uses event-time windows, but a row has no timestamp; assign "
                "timestamps and watermarks before the window, or use "
                "processing-time windows",
                op->node->name);
        int64_t t = by_clock ? fl__task_now_ms(op->task) : ts;
        size_t n = t >= w->assigned_lo && t < w->assigned_hi ? w->n_assigned : assign(w, t);
        bool skipped = true;
        op->ctx.timestamp = ts;
        int rc = w->merging  ? add_merging(w, input, row, ts, n, &skipped)
                 : w->sliced ? add_sliced(w, row, ts, n, &skipped)
                             : add_plain(w, input, row, ts, n, &skipped);
        if (rc < 0) return rc;
        if (skipped && element_late(w, ts)) {
            if (w->late_out < 0) {
                w->late_dropped++;
                continue;
            }
            rc = fl__output_emit(&op->side_outs[w->late_out].out, row, ts);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* ---- timers -------------------------------------------------------------------------------- */

static int win_on_timer(fl_operator *op, int domain, const void *ns, uint32_t ns_len, int64_t time,
                        fl_error *err) {
    fl_win_op *w = op->impl;
    if (ns_len != FL_WIN_NS_LEN) return 0; /* not a window's (a user function's own timer) */
    fl_window win = fl__win_of_ns(ns);
    if (w->sliced) return sliced_timer(w, domain, &win, time);
    fl__win_trigger_window(w, &win);
    uint8_t state_ns[FL_WIN_NS_LEN];
    memcpy(state_ns, w->tctx.ns, FL_WIN_NS_LEN);
    if (w->merging) {
        load_set(w);
        const fl_window *sw = fl__win_set_state_window(&w->set, &win);
        if (!sw) return 0; /* the window was merged away or cleared */
        fl__win_ns(sw, state_ns);
    }
    int r = fl__win_trigger_time(w, (fl_time_domain)domain, time);
    int rc = r < 0 ? r : 0;
    if (rc == 0 && (r & FL_TRIGGER_FIRE)) {
        contents_in(w, state_ns);
        rc = fl__win_fn_fire(w, &win);
    }
    if (rc == 0 && (r & FL_TRIGGER_PURGE)) {
        contents_in(w, state_ns);
        fl_kstate_clear(w->contents);
    }
    bool cleanup_domain = (domain == FL_EVENT_TIME) == w->event_time;
    if (rc == 0 && cleanup_domain && time == cleanup_time(w, &win)) {
        fl__win_trigger_window(w, &win);
        rc = clear_all(w, &win, state_ns);
    }
    if (w->merging) {
        int prc = persist_set(w);
        if (rc == 0) rc = prc;
    }
    return rc;
}

/* ---- opening ------------------------------------------------------------------------------- */

static int open_plan(fl_operator *op, fl_win_op *w, fl_error *err) {
    const fl_stream_node *n = op->node;
    int rc = fl__win_assigner_from_options(n->options, &w->assigner, err);
    if (rc < 0) return rc;
    w->event_time = fl__win_event_time(&w->assigner);
    w->merging = fl__win_merging(&w->assigner);
    w->lateness = fl__op_option_int(op, FL_WIN_OPT_LATENESS, 0);
    const char *tag = fl_kv_get(n->options, FL_WIN_OPT_LATE_TAG);
    w->late_out = -1;
    for (int i = 0; tag && i < op->n_side_outs; i++)
        if (strcmp(op->side_outs[i].tag, tag) == 0) w->late_out = i;

    if (fl__win_trigger_parse(fl_kv_get(n->options, FL_WIN_OPT_TRIGGER), &w->trigger.kind) < 0)
        w->trigger.kind = FL_TRIGGER_DEFAULT;
    w->trigger.count = fl__op_option_int(op, FL_WIN_OPT_TRIGGER_COUNT, 0);
    w->trigger.interval_ms = fl__op_option_int(op, FL_WIN_OPT_TRIGGER_INTERVAL, 0);
    w->trigger.purging = fl__op_option_true(op, FL_WIN_OPT_TRIGGER_PURGING);
    if (w->trigger.kind == FL_TRIGGER_DEFAULT && w->assigner.kind != FL_WINDOW_GLOBAL)
        w->trigger.kind = w->assigner.domain == FL_TIME_PROCESSING ? FL_TRIGGER_PROCESSING_TIME
                                                                   : FL_TRIGGER_EVENT_TIME;
    if ((w->trigger.kind == FL_TRIGGER_COUNT && w->trigger.count <= 0) ||
        (w->trigger.kind == FL_TRIGGER_CONTINUOUS_EVENT_TIME && w->trigger.interval_ms <= 0))
        return fl_error_set(err, FL_EINVAL,
                            "\"%s\": the trigger needs a positive count or interval", n->name);
    fl_trigger_fns *u = &w->user_trigger;
    u->on_element = (int (*)(fl_trigger_ctx *, const fl_row *, int64_t,
                             const fl_window *))fl__op_fn(op, FL_WIN_FN_TRIGGER_ELEMENT);
    u->on_event_time = (int (*)(fl_trigger_ctx *, int64_t, const fl_window *))fl__op_fn(
        op, FL_WIN_FN_TRIGGER_EVENT);
    u->on_processing_time = (int (*)(fl_trigger_ctx *, int64_t, const fl_window *))fl__op_fn(
        op, FL_WIN_FN_TRIGGER_PROCESSING);
    u->on_merge =
        (int (*)(fl_trigger_ctx *, const fl_window *))fl__op_fn(op, FL_WIN_FN_TRIGGER_MERGE);
    u->clear =
        (void (*)(fl_trigger_ctx *, const fl_window *))fl__op_fn(op, FL_WIN_FN_TRIGGER_CLEAR);

    const char *ev = fl_kv_get(n->options, FL_WIN_OPT_EVICTOR);
    if (ev && strcmp(ev, "count") == 0) w->evictor.kind = FL_EVICTOR_COUNT;
    if (ev && strcmp(ev, "time") == 0) w->evictor.kind = FL_EVICTOR_TIME;
    w->evictor.count = fl__op_option_int(op, FL_WIN_OPT_EVICTOR_COUNT, 0);
    w->evictor.keep_ms = fl__op_option_int(op, FL_WIN_OPT_EVICTOR_KEEP, 0);
    w->evictor.after = fl__op_option_true(op, FL_WIN_OPT_EVICTOR_AFTER);

    const char *function = fl_kv_get(n->options, FL_WIN_OPT_FUNCTION);
    if (fl__win_fn_parse(function, &w->fn_kind) < 0)
        return fl_error_set(err, FL_EINVAL, "\"%s\": unknown window function \"%s\"", n->name,
                            function);
    fl_field_agg_kind fold;
    if (fl__field_agg_parse(function, &fold)) { /* sum/min/max */
        int field = (int)fl__op_option_int(op, FL_WIN_OPT_FIELD, -1);
        if (field < 0 || field >= fl_schema_num_fields(op->input_schema))
            return fl_error_set(err, FL_EINVAL, "\"%s\": bad field index", n->name);
        w->field_agg = fl__field_agg_of(fold, op->input_schema, field);
    }
    w->reduce = (fl_reduce_fn)fl__op_fn(op, FL_WIN_FN_REDUCE);
    w->process = (fl_window_process_fn)fl__op_fn(op, FL_WIN_FN_PROCESS);
    w->join = (fl_join_fn)fl__op_fn(op, FL_WIN_FN_JOIN);
    w->cogroup = (fl_cogroup_fn)fl__op_fn(op, FL_WIN_FN_COGROUP);
    fl_aggregate_function *a = &w->agg;
    a->create_accumulator =
        (int (*)(fl_context *, fl_row_builder *))fl__op_fn(op, FL_WIN_FN_AGG_CREATE);
    a->add = (int (*)(fl_context *, const fl_row *, const fl_row *, fl_row_builder *))fl__op_fn(
        op, FL_WIN_FN_AGG_ADD);
    a->get_result = (int (*)(fl_context *, const fl_row *, fl_row_builder *))fl__op_fn(
        op, FL_WIN_FN_AGG_RESULT);
    a->merge = (int (*)(fl_context *, const fl_row *, const fl_row *, fl_row_builder *))fl__op_fn(
        op, FL_WIN_FN_AGG_MERGE);
    const char *input = fl_kv_get(n->options, FL_WIN_OPT_INPUT);
    w->acc_input = input && strcmp(input, "accumulators") == 0;
    if (w->acc_input && (!n->key || n->key->n_fields == 0 || !a->merge ||
                         (w->fn_kind != FL_WIN_AGGREGATE && w->fn_kind != FL_WIN_AGGREGATE_PROCESS)))
        return fl_error_set(err, FL_EINVAL,
                            "\"%s\": accumulator input needs a keyed aggregate function that merges",
                            n->name);
    if (w->acc_input) w->n_key_fields = n->key->n_fields;
    if (w->fn_kind == FL_WIN_AGGREGATE || w->fn_kind == FL_WIN_AGGREGATE_PROCESS) {
        const char *where = "the window's options";
        a->acc_schema = fl__schema_decode(fl_kv_get(n->options, FL_WIN_OPT_ACC_SCHEMA), where, err);
        if (!a->acc_schema) return err->code;
        a->out_schema =
            fl__schema_decode(fl_kv_get(n->options, FL_WIN_OPT_AGG_OUT_SCHEMA), where, err);
        if (!a->out_schema) return err->code;
        if (!a->create_accumulator || !a->add || !a->get_result)
            return fl_error_set(err, FL_EINVAL, "\"%s\": the aggregate function is incomplete",
                                n->name);
    }
    bool missing = false;
    switch (w->fn_kind) {
    case FL_WIN_REDUCE:
        missing = !w->reduce;
        break;
    case FL_WIN_PROCESS:
        missing = !w->process;
        break;
    case FL_WIN_REDUCE_PROCESS:
        missing = !w->reduce || !w->process;
        break;
    case FL_WIN_AGGREGATE_PROCESS:
        missing = !w->process;
        break;
    case FL_WIN_JOIN:
        missing = !w->join;
        break;
    case FL_WIN_COGROUP:
        missing = !w->cogroup;
        break;
    default:
        break;
    }
    if (missing)
        return fl_error_set(err, FL_EINVAL, "\"%s\": the window function is missing", n->name);
    return 0;
}

static int win_open(fl_operator *op, fl_error *err) {
    fl_win_op *w = fl_xcalloc(1, sizeof *w);
    op->impl = w;
    w->op = op;
    w->err = err; /* the task's error: every call of the operator reports there */
    int rc = open_plan(op, w, err);
    if (rc < 0) return rc;
    w->keyed.on_timer = win_on_timer;
    /* window_all: one constant key; its state is restored like a keyed window's */
    rc = op->node->key ? fl__keyed_open(op, &w->keyed, err)
                       : fl__keyed_open_unkeyed(op, &w->keyed, err);
    if (rc < 0) return rc;
    w->wins = fl_xcalloc(fl__win_max_windows(&w->assigner), sizeof *w->wins);
    w->wins_ns = fl_xcalloc(fl__win_max_windows(&w->assigner), sizeof *w->wins_ns);
    const fl_window_assigner *a = &w->assigner;
    w->aligned = a->kind == FL_WINDOW_TUMBLING ||
                 (a->kind == FL_WINDOW_SLIDING && a->size_ms % a->slide_ms == 0);
    w->assigned_lo = INT64_MAX; /* nothing assigned yet */
    w->assigned_hi = INT64_MIN;
    if (w->merging) {
        w->set_schema = fl_schema_of(1, "windows", FL_BYTES);
        w->set_b = fl_row_builder_create(w->set_schema);
        fl_state_desc d = {.name = "__window.merging-windows",
                           .kind = FL_STATE_VALUE,
                           .value_schema = w->set_schema};
        w->windows = fl_keyed_backend_state(w->keyed.backend, &d, err);
        if (!w->windows) return err->code;
    }
    bool same_domain =
        w->assigner.kind != FL_WINDOW_GLOBAL &&
        ((w->trigger.kind == FL_TRIGGER_EVENT_TIME && w->assigner.domain == FL_TIME_EVENT) ||
         (w->trigger.kind == FL_TRIGGER_PROCESSING_TIME &&
          w->assigner.domain == FL_TIME_PROCESSING));
    w->skip_cleanup_timer = !w->merging;
    w->skip_trigger_timer = !w->merging && same_domain;
    w->cleanup_is_trigger_timer = w->skip_trigger_timer && (!w->event_time || w->lateness == 0);
    rc = fl__win_trigger_open(w, err);
    if (rc == 0) rc = fl__win_fn_open(w, err);
    if (rc < 0) return rc;
    w->sliced = a->kind == FL_WINDOW_SLIDING && w->aligned && w->event_time &&
                a->size_ms > a->slide_ms && w->trigger.kind == FL_TRIGGER_EVENT_TIME &&
                !w->trigger.purging && w->evictor.kind == FL_EVICTOR_NONE &&
                w->contents_kind == FL_WIN_AGGREGATING && w->agg.merge;
    if (w->sliced) {
        w->n_slices = (size_t)(a->size_ms / a->slide_ms);
        w->slices = fl_xcalloc(w->n_slices, sizeof *w->slices);
    }
    return 0;
}

static void win_close(fl_operator *op) {
    fl_win_op *w = op->impl;
    if (!w) return;
    if (w->late_dropped > 0)
        fl_debug("window", "%s dropped %lld late rows", op->task->name, (long long)w->late_dropped);
    if (w->keyed.backend) fl__keyed_close(&w->keyed);
    fl__win_fn_close(w);
    if (w->long_schema) fl__win_trigger_close(w);
    fl__win_set_fini(&w->set);
    fl_row_builder_destroy(w->set_b);
    fl_schema_unref(w->set_schema);
    fl_schema_unref((fl_schema *)w->agg.acc_schema);
    fl_schema_unref((fl_schema *)w->agg.out_schema);
    free(w->wins);
    free(w->wins_ns);
    free(w->slices);
    free(w->merge_ns);
    free(w->merge_src);
    free(w->merge_lens);
    fl__batch_keys_fini(&w->keys);
    for (size_t i = 0; i < w->n_trigger_states; i++) free(w->trigger_states[i].name);
    free(w->trigger_states);
    free(w);
    op->impl = NULL;
    op->keyed = NULL;
}

const fl_operator_ops fl__op_window = {
    .kind = "window",
    .open = win_open,
    .process = win_process,
    .watermark = fl__keyed_watermark,
    .on_processing_time = fl__keyed_processing_time,
    .close = win_close,
};
