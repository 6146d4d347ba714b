/*
 * window_api.c - the window calls of flinc/window.h: assigners, windowed
 * streams (keyed, and window_all), triggers, evictors, allowed lateness, the
 * late-data side output, window functions, and window joins / co-groups.
 *
 * A windowed stream only gathers settings; the window function call adds
 * one "window" node (src/runtime/op_window.c) whose options carry them
 * (names in src/runtime/window_int.h) and whose user functions are "fn.<role>"
 * symbols. window_all is the same node fed by a GLOBAL edge, with one
 * constant key and parallelism 1. A window join is one window node with two
 * inputs, each keyed by its own key fields (of equal types), that keeps each
 * element with the input it came from and pairs them when the window fires:
 * Flink's tagged union of both sides, without the extra map and union nodes.
 *
 * Invalid settings are building errors reported where the user makes them
 * (a non-positive size, a slide larger than the size, a field that is not
 * numeric, global windows without a trigger, ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "flinc/window.h"
#include "mem.h"
#include "schema_text.h"
#include "window_int.h"

struct fl_windowed_stream {
    fl_env *env;
    fl_keyed_stream *keyed; /* keyed windows; NULL for window_all */
    fl_stream *input;       /* window_all: the input, GLOBAL-partitioned */
    const fl_schema *schema;
    fl_window_assigner assigner;
    fl_trigger trigger;
    fl_evictor evictor;
    int64_t lateness;
    const char *late_tag; /* kept with the environment */
    bool all;
};

/* ---- assigners ----------------------------------------------------------------------------- */

fl_window_assigner fl_tumbling_event_time_windows(int64_t size_ms, int64_t offset_ms) {
    return (fl_window_assigner){.kind = FL_WINDOW_TUMBLING,
                                .domain = FL_TIME_EVENT,
                                .size_ms = size_ms,
                                .slide_ms = size_ms,
                                .offset_ms = offset_ms};
}

fl_window_assigner fl_tumbling_processing_time_windows(int64_t size_ms, int64_t offset_ms) {
    fl_window_assigner a = fl_tumbling_event_time_windows(size_ms, offset_ms);
    a.domain = FL_TIME_PROCESSING;
    return a;
}

fl_window_assigner fl_sliding_event_time_windows(int64_t size_ms, int64_t slide_ms,
                                                 int64_t offset_ms) {
    return (fl_window_assigner){.kind = FL_WINDOW_SLIDING,
                                .domain = FL_TIME_EVENT,
                                .size_ms = size_ms,
                                .slide_ms = slide_ms,
                                .offset_ms = offset_ms};
}

fl_window_assigner fl_sliding_processing_time_windows(int64_t size_ms, int64_t slide_ms,
                                                      int64_t offset_ms) {
    fl_window_assigner a = fl_sliding_event_time_windows(size_ms, slide_ms, offset_ms);
    a.domain = FL_TIME_PROCESSING;
    return a;
}

fl_window_assigner fl_event_time_session_windows(int64_t gap_ms) {
    return (fl_window_assigner){
        .kind = FL_WINDOW_SESSION, .domain = FL_TIME_EVENT, .gap_ms = gap_ms};
}

fl_window_assigner fl_processing_time_session_windows(int64_t gap_ms) {
    return (fl_window_assigner){
        .kind = FL_WINDOW_SESSION, .domain = FL_TIME_PROCESSING, .gap_ms = gap_ms};
}

fl_window_assigner fl_global_windows(void) {
    return (fl_window_assigner){.kind = FL_WINDOW_GLOBAL, .domain = FL_TIME_PROCESSING};
}

static int64_t abs64(int64_t v) { return v < 0 ? (v == INT64_MIN ? INT64_MAX : -v) : v; }

/* Records why an assigner is invalid; true when it is fine. */
static bool check_assigner(fl_env *env, const fl_window_assigner *a) {
    const char *time = a->domain == FL_TIME_PROCESSING ? "processing-time" : "event-time";
    if (a->domain != FL_TIME_EVENT && a->domain != FL_TIME_PROCESSING) {
        fl__env_fail(env, NULL, FL_EINVAL, "window assigner with an unknown time domain %d",
                     (int)a->domain);
        return false;
    }
    switch (a->kind) {
    case FL_WINDOW_TUMBLING:
        if (a->size_ms <= 0 || abs64(a->offset_ms) >= a->size_ms) {
            fl__env_fail(env, NULL, FL_EINVAL,
                         "tumbling %s windows need a positive size and an offset smaller than the "
                         "size, not size %lld ms and offset %lld ms",
                         time, (long long)a->size_ms, (long long)a->offset_ms);
            return false;
        }
        return true;
    case FL_WINDOW_SLIDING:
        if (a->size_ms <= 0 || a->slide_ms <= 0 || a->slide_ms > a->size_ms ||
            abs64(a->offset_ms) >= a->slide_ms) {
            fl__env_fail(env, NULL, FL_EINVAL,
                         "sliding %s windows need a positive size, a positive slide no larger than "
                         "the size and an offset smaller than the slide, not size %lld ms, slide "
                         "%lld ms and offset %lld ms",
                         time, (long long)a->size_ms, (long long)a->slide_ms,
                         (long long)a->offset_ms);
            return false;
        }
        if (a->size_ms / a->slide_ms > 100000) {
            fl__env_fail(env, NULL, FL_EINVAL,
                         "sliding %s windows of %lld ms sliding by %lld ms would put every element "
                         "into %lld windows; use a larger slide (at most 100000 windows each)",
                         time, (long long)a->size_ms, (long long)a->slide_ms,
                         (long long)(a->size_ms / a->slide_ms));
            return false;
        }
        return true;
    case FL_WINDOW_SESSION:
        if (a->gap_ms <= 0) {
            fl__env_fail(env, NULL, FL_EINVAL,
                         "%s session windows need a positive gap, not %lld ms", time,
                         (long long)a->gap_ms);
            return false;
        }
        return true;
    case FL_WINDOW_GLOBAL:
        return true;
    }
    fl__env_fail(env, NULL, FL_EINVAL, "unknown window assigner kind %d", (int)a->kind);
    return false;
}

/* ---- windowed streams ---------------------------------------------------------------------- */

static fl_windowed_stream *windowed(fl_env *env, const fl_schema *schema,
                                    fl_window_assigner assigner) {
    fl_windowed_stream *w = fl__env_keep(env, fl_xcalloc(1, sizeof *w));
    w->env = env;
    w->schema = schema;
    w->assigner = assigner;
    if (!fl__failed(env)) check_assigner(env, &assigner);
    return w;
}

fl_windowed_stream *fl_keyed_window(fl_keyed_stream *k, fl_window_assigner assigner) {
    fl_env *env = k->stream->env;
    fl_windowed_stream *w = windowed(env, k->stream->schema, assigner);
    w->keyed = k;
    return w;
}

fl_windowed_stream *fl_stream_window_all(fl_stream *s, fl_window_assigner assigner) {
    fl_windowed_stream *w = windowed(s->env, s->schema, assigner);
    w->all = true;
    w->input = fl__failed(s->env) ? s : fl_stream_global(s);
    return w;
}

fl_windowed_stream *fl_window_trigger(fl_windowed_stream *w, fl_trigger trigger) {
    fl_env *env = w->env;
    if (fl__failed(env)) return w;
    if (!fl__win_trigger_name(trigger.kind)) {
        fl__env_fail(env, NULL, FL_EINVAL, "unknown trigger kind %d", (int)trigger.kind);
    } else if (trigger.kind == FL_TRIGGER_COUNT && trigger.count <= 0) {
        fl__env_fail(env, NULL, FL_EINVAL, "a count trigger needs a positive count, not %lld",
                     (long long)trigger.count);
    } else if (trigger.kind == FL_TRIGGER_CONTINUOUS_EVENT_TIME && trigger.interval_ms <= 0) {
        fl__env_fail(env, NULL, FL_EINVAL,
                     "a continuous event-time trigger needs a positive interval, not %lld ms",
                     (long long)trigger.interval_ms);
    } else if (trigger.kind == FL_TRIGGER_USER &&
               (!trigger.fns || !(trigger.fns->on_element || trigger.fns->on_event_time ||
                                  trigger.fns->on_processing_time))) {
        fl__env_fail(env, NULL, FL_EINVAL,
                     "a user trigger needs its functions (fl_trigger_fns with at least one of "
                     "on_element, on_event_time, on_processing_time)");
    }
    w->trigger = trigger;
    return w;
}

fl_windowed_stream *fl_window_evictor(fl_windowed_stream *w, fl_evictor evictor) {
    fl_env *env = w->env;
    if (fl__failed(env)) return w;
    if (evictor.kind == FL_EVICTOR_COUNT && evictor.count <= 0)
        fl__env_fail(env, NULL, FL_EINVAL, "a count evictor needs a positive count, not %lld",
                     (long long)evictor.count);
    else if (evictor.kind == FL_EVICTOR_TIME && evictor.keep_ms < 0)
        fl__env_fail(env, NULL, FL_EINVAL,
                     "a time evictor needs a time to keep of 0 ms or more, "
                     "not %lld ms",
                     (long long)evictor.keep_ms);
    else if (evictor.kind < FL_EVICTOR_NONE || evictor.kind > FL_EVICTOR_TIME)
        fl__env_fail(env, NULL, FL_EINVAL, "unknown evictor kind %d", (int)evictor.kind);
    w->evictor = evictor;
    return w;
}

fl_windowed_stream *fl_window_allowed_lateness(fl_windowed_stream *w, int64_t lateness_ms) {
    if (!fl__failed(w->env) && lateness_ms < 0)
        fl__env_fail(w->env, NULL, FL_EINVAL, "allowed lateness must be 0 ms or more, not %lld ms",
                     (long long)lateness_ms);
    w->lateness = lateness_ms;
    return w;
}

fl_windowed_stream *fl_window_side_output_late_data(fl_windowed_stream *w, const char *tag) {
    if (fl__failed(w->env)) return w;
    if (!tag || !*tag) {
        fl__env_fail(w->env, NULL, FL_EINVAL, "the late-data side output needs a tag");
        return w;
    }
    w->late_tag = fl__env_keep(w->env, fl_xstrdup(tag));
    return w;
}

/* ---- window nodes -------------------------------------------------------------------------- */

typedef struct fn_role {
    const char *role;
    void *fn;
    const char *what; /* for errors */
} fn_role;

static void set_ms(fl_stream_node *n, const char *key, int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    fl_kv_set(n->options, key, buf);
}

/* Resolves every function's symbol into n's "fn.<role>" options; false
 * after recording an error. */
static bool set_fns(fl_env *env, fl_stream_node *n, const fn_role *fns, int count) {
    for (int i = 0; i < count; i++)
        if (fns[i].fn && !fl__set_fn_option(env, n, fns[i].role, fns[i].fn, fns[i].what))
            return false;
    return true;
}

/* Checks symbols can be named before anything is added to the graph. */
static bool nameable(fl_env *env, const fn_role *fns, int count) {
    for (int i = 0; i < count; i++) {
        if (!fns[i].fn) continue;
        char *sym = fl__symbol_name(env, fns[i].fn, fns[i].what);
        if (!sym) return false;
        free(sym);
    }
    return true;
}

static const char *trigger_display(const fl_trigger *t, const fl_window_assigner *a) {
    switch (t->kind) {
    case FL_TRIGGER_DEFAULT:
        if (a->kind == FL_WINDOW_GLOBAL) return "NeverTrigger";
        return a->domain == FL_TIME_PROCESSING ? "ProcessingTimeTrigger" : "EventTimeTrigger";
    case FL_TRIGGER_EVENT_TIME:
        return "EventTimeTrigger";
    case FL_TRIGGER_PROCESSING_TIME:
        return "ProcessingTimeTrigger";
    case FL_TRIGGER_COUNT:
        return "CountTrigger";
    case FL_TRIGGER_CONTINUOUS_EVENT_TIME:
        return "ContinuousEventTimeTrigger";
    case FL_TRIGGER_USER:
        return "Trigger";
    }
    return "Trigger";
}

static void set_assigner(fl_stream_node *n, const fl_window_assigner *a) {
    fl__win_assigner_to_options(a, n->options);
}

/* A window node for w running function kind (user functions fns), with
 * output schema out; the handle of its output. */
static fl_stream *window_node(fl_windowed_stream *w, fl_win_fn_kind kind, const fl_schema *out,
                              const fn_role *fns, int n_fns, const char *fn_display) {
    fl_env *env = w->env;
    if (fl__failed(env) || (!w->all && !w->keyed->key)) return fl__poison(env, out);
    const fl_window_assigner *a = &w->assigner;
    if (a->kind == FL_WINDOW_GLOBAL && w->trigger.kind == FL_TRIGGER_DEFAULT)
        return fl__fail(env, out, FL_EINVAL,
                        "global windows never fire with their default trigger; set one with "
                        "fl_window_trigger (a count trigger, for example)");
    if (fl__win_merging(a) && w->trigger.kind == FL_TRIGGER_USER && !w->trigger.fns->on_merge)
        return fl__fail(env, out, FL_EINVAL,
                        "session windows merge, but the user trigger cannot: give it an on_merge "
                        "function");
    fn_role all[16];
    int n_all = 0;
    for (int i = 0; i < n_fns; i++) all[n_all++] = fns[i];
    if (w->trigger.kind == FL_TRIGGER_USER) {
        const fl_trigger_fns *t = w->trigger.fns;
        all[n_all++] = (fn_role){FL_WIN_FN_TRIGGER_ELEMENT, (void *)t->on_element,
                                 "trigger on_element function"};
        all[n_all++] = (fn_role){FL_WIN_FN_TRIGGER_EVENT, (void *)t->on_event_time,
                                 "trigger on_event_time function"};
        all[n_all++] = (fn_role){FL_WIN_FN_TRIGGER_PROCESSING, (void *)t->on_processing_time,
                                 "trigger on_processing_time function"};
        all[n_all++] =
            (fn_role){FL_WIN_FN_TRIGGER_MERGE, (void *)t->on_merge, "trigger on_merge function"};
        all[n_all++] =
            (fn_role){FL_WIN_FN_TRIGGER_CLEAR, (void *)t->clear, "trigger clear function"};
    }
    if (!nameable(env, all, n_all)) return fl__poison(env, out);

    char assigner[96], name[256];
    fl__win_assigner_describe(a, assigner, sizeof assigner);
    snprintf(name, sizeof name, "%s(%s, %s%s, %s)", w->all ? "AllWindow" : "Window", assigner,
             w->trigger.purging ? "Purging" : "", trigger_display(&w->trigger, a), fn_display);
    fl_stream *h;
    if (w->all) {
        fl_stream_node *n = fl__add_node(w->input, "window", name);
        n->schema = fl_schema_ref((fl_schema *)w->schema);
        n->parallelism = 1;
        h = fl__stream_of_node(env, n->id);
    } else {
        h = fl__keyed_node(w->keyed, "window", name);
    }
    fl_stream_node *n = env->graph->nodes[h->node];
    fl_schema_unref(n->schema);
    n->schema = fl_schema_ref((fl_schema *)out);
    h->schema = n->schema;

    set_assigner(n, a);
    set_ms(n, FL_WIN_OPT_LATENESS, w->lateness);
    if (w->late_tag) {
        fl_kv_set(n->options, FL_WIN_OPT_LATE_TAG, w->late_tag);
        fl_stream_node_add_side_output(n, w->late_tag, w->schema);
    }
    fl_kv_set(n->options, FL_WIN_OPT_TRIGGER, fl__win_trigger_name(w->trigger.kind));
    if (w->trigger.kind == FL_TRIGGER_COUNT) set_ms(n, FL_WIN_OPT_TRIGGER_COUNT, w->trigger.count);
    if (w->trigger.kind == FL_TRIGGER_CONTINUOUS_EVENT_TIME)
        set_ms(n, FL_WIN_OPT_TRIGGER_INTERVAL, w->trigger.interval_ms);
    if (w->trigger.purging) fl_kv_set(n->options, FL_WIN_OPT_TRIGGER_PURGING, "true");
    if (w->evictor.kind != FL_EVICTOR_NONE) {
        fl_kv_set(n->options, FL_WIN_OPT_EVICTOR,
                  w->evictor.kind == FL_EVICTOR_COUNT ? "count" : "time");
        set_ms(n, FL_WIN_OPT_EVICTOR_COUNT, w->evictor.count);
        set_ms(n, FL_WIN_OPT_EVICTOR_KEEP, w->evictor.keep_ms);
        if (w->evictor.after) fl_kv_set(n->options, FL_WIN_OPT_EVICTOR_AFTER, "true");
    }
    fl_kv_set(n->options, FL_WIN_OPT_FUNCTION, fl__win_fn_name(kind));
    set_fns(env, n, all, n_all);
    return h;
}

fl_stream *fl_window_reduce(fl_windowed_stream *w, fl_reduce_fn fn) {
    fn_role f[] = {{FL_WIN_FN_REDUCE, (void *)fn, "reduce function"}};
    if (!fn && !fl__failed(w->env))
        return fl__fail(w->env, w->schema, FL_EINVAL, "no reduce function given (NULL)");
    return window_node(w, FL_WIN_REDUCE, w->schema, f, 1, "Reduce");
}

/* Records why agg cannot serve as a window aggregate; true when it can. */
static bool check_aggregate(fl_windowed_stream *w, const fl_aggregate_function *agg) {
    fl_env *env = w->env;
    if (fl__failed(env)) return false;
    if (!agg || !agg->create_accumulator || !agg->add || !agg->get_result || !agg->acc_schema ||
        !agg->out_schema) {
        fl__env_fail(env, NULL, FL_EINVAL,
                     "a window aggregate needs create_accumulator, add, get_result, an "
                     "accumulator schema and an output schema");
        return false;
    }
    if (fl__win_merging(&w->assigner) && !agg->merge) {
        fl__env_fail(env, NULL, FL_EINVAL,
                     "an aggregate on session windows needs a merge function: merging windows "
                     "merges their accumulators");
        return false;
    }
    return true;
}

static int aggregate_roles(const fl_aggregate_function *agg, fn_role *f) {
    f[0] = (fn_role){FL_WIN_FN_AGG_CREATE, (void *)agg->create_accumulator,
                     "create_accumulator function"};
    f[1] = (fn_role){FL_WIN_FN_AGG_ADD, (void *)agg->add, "aggregate add function"};
    f[2] = (fn_role){FL_WIN_FN_AGG_RESULT, (void *)agg->get_result, "get_result function"};
    f[3] = (fn_role){FL_WIN_FN_AGG_MERGE, (void *)agg->merge, "aggregate merge function"};
    return 4;
}

static void set_agg_schemas(fl_stream *h, const fl_aggregate_function *agg) {
    if (h->node < 0) return;
    fl_stream_node *n = h->env->graph->nodes[h->node];
    char *acc = fl__schema_encode(agg->acc_schema),
         *out = fl__schema_encode(agg->out_schema);
    fl_kv_set(n->options, FL_WIN_OPT_ACC_SCHEMA, acc);
    fl_kv_set(n->options, FL_WIN_OPT_AGG_OUT_SCHEMA, out);
    free(acc);
    free(out);
}

fl_stream *fl_window_aggregate(fl_windowed_stream *w, const fl_aggregate_function *agg) {
    if (!check_aggregate(w, agg)) return fl__poison(w->env, agg ? agg->out_schema : NULL);
    fn_role f[4];
    int n = aggregate_roles(agg, f);
    fl_stream *h = window_node(w, FL_WIN_AGGREGATE, agg->out_schema, f, n, "Aggregate");
    if (!fl__failed(w->env)) set_agg_schemas(h, agg);
    return h;
}

static fl_stream *field_aggregation(fl_windowed_stream *w, fl_win_fn_kind kind, const char *field) {
    fl_env *env = w->env;
    if (fl__failed(env) || !w->schema) return fl__poison(env, w->schema);
    const char *what = fl__win_fn_name(kind);
    int idx = field ? fl_schema_index_of(w->schema, field) : -1;
    if (idx < 0) {
        char sbuf[512];
        fl_schema_format(w->schema, sbuf, sizeof sbuf);
        return fl__fail(env, w->schema, FL_ESCHEMA, "window %s: no field \"%s\" in %s", what,
                        field ? field : "(null)", sbuf);
    }
    fl_type t = fl_schema_field_type(w->schema, idx);
    bool numeric = t == FL_INT || t == FL_BIGINT || t == FL_DOUBLE;
    if (kind == FL_WIN_SUM ? !numeric : !(numeric || t == FL_TIMESTAMP))
        return fl__fail(env, w->schema, FL_ESCHEMA,
                        "window %s needs a numeric field, but \"%s\" is %s", what, field,
                        fl_type_name(t));
    const char *display = kind == FL_WIN_SUM ? "Sum" : kind == FL_WIN_MIN ? "Min" : "Max";
    fl_stream *h = window_node(w, kind, w->schema, NULL, 0, display);
    if (h->node >= 0 && !fl__failed(env)) set_ms(env->graph->nodes[h->node], FL_WIN_OPT_FIELD, idx);
    return h;
}

fl_stream *fl_window_sum(fl_windowed_stream *w, const char *field) {
    return field_aggregation(w, FL_WIN_SUM, field);
}
fl_stream *fl_window_min(fl_windowed_stream *w, const char *field) {
    return field_aggregation(w, FL_WIN_MIN, field);
}
fl_stream *fl_window_max(fl_windowed_stream *w, const char *field) {
    return field_aggregation(w, FL_WIN_MAX, field);
}

static bool check_process(fl_windowed_stream *w, fl_window_process_fn fn, const fl_schema *out) {
    if (fl__failed(w->env)) return false;
    if (!fn || !out) {
        fl__env_fail(w->env, NULL, FL_EINVAL,
                     "a process window function needs a function and an "
                     "output schema");
        return false;
    }
    return true;
}

fl_stream *fl_window_process(fl_windowed_stream *w, fl_window_process_fn fn,
                             const fl_schema *out_schema) {
    if (!check_process(w, fn, out_schema)) return fl__poison(w->env, out_schema);
    fn_role f[] = {{FL_WIN_FN_PROCESS, (void *)fn, "process window function"}};
    return window_node(w, FL_WIN_PROCESS, out_schema, f, 1, "Process");
}

fl_stream *fl_window_reduce_process(fl_windowed_stream *w, fl_reduce_fn reduce,
                                    fl_window_process_fn fn, const fl_schema *out_schema) {
    if (!check_process(w, fn, out_schema)) return fl__poison(w->env, out_schema);
    if (!reduce) return fl__fail(w->env, out_schema, FL_EINVAL, "no reduce function given (NULL)");
    fn_role f[] = {{FL_WIN_FN_REDUCE, (void *)reduce, "reduce function"},
                   {FL_WIN_FN_PROCESS, (void *)fn, "process window function"}};
    return window_node(w, FL_WIN_REDUCE_PROCESS, out_schema, f, 2, "Reduce, Process");
}

fl_stream *fl_window_aggregate_process(fl_windowed_stream *w, const fl_aggregate_function *agg,
                                       fl_window_process_fn fn, const fl_schema *out_schema) {
    if (!check_process(w, fn, out_schema) || !check_aggregate(w, agg))
        return fl__poison(w->env, out_schema);
    fn_role f[5];
    int n = aggregate_roles(agg, f);
    f[n++] = (fn_role){FL_WIN_FN_PROCESS, (void *)fn, "process window function"};
    fl_stream *h = window_node(w, FL_WIN_AGGREGATE_PROCESS, out_schema, f, n, "Aggregate, Process");
    if (!fl__failed(w->env)) set_agg_schemas(h, agg);
    return h;
}

/* ---- window joins -------------------------------------------------------------------------- */

static fl_stream *window_join(fl_stream *left, const char *left_key, fl_stream *right,
                              const char *right_key, fl_window_assigner assigner,
                              fl_win_fn_kind kind, void *fn, const fl_schema *out) {
    fl_env *env = left->env;
    const char *what = kind == FL_WIN_JOIN ? "window join" : "window co-group";
    if (fl__failed(env)) return fl__poison(env, out);
    if (right->env != env)
        return fl__fail(env, out, FL_EINVAL, "%s of streams from different environments", what);
    if (!fn || !out)
        return fl__fail(env, out, FL_EINVAL, "a %s needs a function and an output schema", what);
    if (!check_assigner(env, &assigner)) return fl__poison(env, out);
    if (assigner.kind == FL_WINDOW_GLOBAL)
        return fl__fail(env, out, FL_EINVAL,
                        "a %s over global windows would never fire; use time windows", what);
    fl_keyed_stream *lk = fl_stream_key_by(left, left_key);
    fl_keyed_stream *rk = fl_stream_key_by(right, right_key);
    if (fl__failed(env) || !lk->key || !rk->key) return fl__poison(env, out);
    if (!fl__same_key_types(lk->key, rk->key)) {
        char a[512], b[512];
        fl_schema_format(lk->key->key_schema, a, sizeof a);
        fl_schema_format(rk->key->key_schema, b, sizeof b);
        return fl__fail(env, out, FL_ESCHEMA,
                        "%s: the left key %s and the right key %s have different types; key both "
                        "sides by fields of the same types",
                        what, a, b);
    }
    fn_role f[] = {{kind == FL_WIN_JOIN ? FL_WIN_FN_JOIN : FL_WIN_FN_COGROUP, fn,
                    kind == FL_WIN_JOIN ? "join function" : "co-group function"}};
    if (!nameable(env, f, 1)) return fl__poison(env, out);

    char assigner_name[96], name[256];
    fl__win_assigner_describe(&assigner, assigner_name, sizeof assigner_name);
    snprintf(name, sizeof name, "%s(%s)", kind == FL_WIN_JOIN ? "Window Join" : "Window CoGroup",
             assigner_name);
    /* Both sides come from key_by: explicit HASH edges by their own keys. */
    fl_stream_node *n = fl__two_input_node(lk->stream, rk->stream, "window", name, false);
    n->key = fl_key_spec_clone(lk->key);
    n->key2 = fl_key_spec_clone(rk->key);
    n->schema = fl_schema_ref((fl_schema *)out);
    set_assigner(n, &assigner);
    fl_kv_set(n->options, FL_WIN_OPT_TRIGGER, "default");
    fl_kv_set(n->options, FL_WIN_OPT_FUNCTION, fl__win_fn_name(kind));
    set_fns(env, n, f, 1);
    return fl__stream_of_node(env, n->id);
}

fl_stream *fl_window_join(fl_stream *left, const char *left_key, fl_stream *right,
                          const char *right_key, fl_window_assigner assigner, fl_join_fn fn,
                          const fl_schema *out_schema) {
    return window_join(left, left_key, right, right_key, assigner, FL_WIN_JOIN, (void *)fn,
                       out_schema);
}

fl_stream *fl_window_co_group(fl_stream *left, const char *left_key, fl_stream *right,
                              const char *right_key, fl_window_assigner assigner, fl_cogroup_fn fn,
                              const fl_schema *out_schema) {
    return window_join(left, left_key, right, right_key, assigner, FL_WIN_COGROUP, (void *)fn,
                       out_schema);
}

/* ---- two-phase window aggregation ------------------------------------------------------------ */

/* Whether window node n sums, or takes the min or max of, a field, or runs
 * an aggregate function that merges without a late-data side output (rows
 * then cross as accumulators), over tumbling or aligned sliding event-time
 * windows of a key_by on fields, with the default trigger and no evictor,
 * and its input's producer chains to a new node in front of the key_by.
 * *aggregate tells which. */
static bool local_aggregation_applies(const fl_stream_graph *g, const fl_stream_node *n,
                                      bool *aggregate) {
    if (strcmp(n->op, "window") || n->n_inputs != 1 || !n->key || n->key->n_fields == 0) return false;
    const fl_stream_edge *e = &n->inputs[0];
    if (e->partitioner != FL_PART_HASH) return false;
    const fl_stream_node *src = g->nodes[e->source_id];
    if (!g->chaining_enabled || src->chaining == FL_CHAIN_NEVER || !strcmp(src->op, "sink"))
        return false;
    fl_win_fn_kind fn;
    if (fl__win_fn_parse(fl_kv_get(n->options, FL_WIN_OPT_FUNCTION), &fn) < 0) return false;
    *aggregate = fn == FL_WIN_AGGREGATE || fn == FL_WIN_AGGREGATE_PROCESS;
    const char *merge = fl_kv_get(n->options, "fn." FL_WIN_FN_AGG_MERGE);
    if (*aggregate ? !merge || !*merge || fl_kv_get(n->options, FL_WIN_OPT_LATE_TAG)
                   : fn != FL_WIN_SUM && fn != FL_WIN_MIN && fn != FL_WIN_MAX)
        return false;
    fl_trigger_kind t;
    if (fl__win_trigger_parse(fl_kv_get(n->options, FL_WIN_OPT_TRIGGER), &t) < 0 ||
        (t != FL_TRIGGER_DEFAULT && t != FL_TRIGGER_EVENT_TIME) ||
        fl_kv_get(n->options, FL_WIN_OPT_TRIGGER_PURGING) || fl_kv_get(n->options, FL_WIN_OPT_EVICTOR))
        return false;
    fl_window_assigner a;
    if (fl__win_assigner_from_options(n->options, &a, NULL) < 0 || a.domain != FL_TIME_EVENT)
        return false;
    return a.kind == FL_WINDOW_TUMBLING || (a.kind == FL_WINDOW_SLIDING && a.size_ms % a.slide_ms == 0);
}

/* The rows an aggregate's local step sends: the key fields of `in`, then the
 * accumulator's fields (named "acc.<name>"); NULL when the accumulator
 * schema does not decode. */
static fl_schema *partial_schema(const fl_schema *in, const fl_key_spec *key, const char *acc_text,
                                 fl_error *err) {
    fl_schema *acc = fl__schema_decode(acc_text, "the window's options", err);
    if (!acc) return NULL;
    int k = key->n_fields, m = fl_schema_num_fields(acc);
    fl_field *fields = fl_xcalloc((size_t)(k + m), sizeof *fields);
    char **names = fl_xcalloc((size_t)(k + m), sizeof *names);
    for (int i = 0; i < k; i++) {
        names[i] = fl_xstrdup(fl_schema_field_name(in, key->fields[i]));
        fields[i] = (fl_field){names[i], fl_schema_field_type(in, key->fields[i])};
    }
    for (int j = 0; j < m; j++) {
        names[k + j] = fl_xasprintf("acc.%s", fl_schema_field_name(acc, j));
        fields[k + j] = (fl_field){names[k + j], fl_schema_field_type(acc, j)};
    }
    fl_schema *s = fl_schema_create(fields, k + m, err);
    for (int i = 0; i < k + m; i++) free(names[i]);
    free(names);
    free(fields);
    fl_schema_unref(acc);
    return s;
}

/* The key of the accumulator rows: their first n fields, as key was. */
static fl_key_spec *leading_key(const fl_key_spec *key) {
    fl_key_spec *k = fl_key_spec_clone(key);
    for (int i = 0; i < k->n_fields; i++) k->fields[i] = i;
    return k;
}

int fl__window_plan_local_aggregation(fl_stream_graph *g, fl_error *err) {
    fl_config *config = fl_config_from_kv(g->config);
    bool on = true;
    int rc = fl_config_get_bool(config, FL_CONF_WINDOW_LOCAL_AGGREGATION, true, &on, err);
    fl_config_destroy(config);
    if (rc < 0) return rc;
    int n_nodes = g->n_nodes; /* not the nodes added here */
    for (int i = 0; on && i < n_nodes; i++) {
        fl_stream_node *w = g->nodes[i];
        bool aggregate = false;
        if (!local_aggregation_applies(g, w, &aggregate)) continue;
        fl_stream_edge *e = &w->inputs[0];
        const fl_stream_node *src = g->nodes[e->source_id];
        const fl_schema *in = fl_stream_edge_schema(g, e);
        fl_schema *out = aggregate ? partial_schema(in, w->key,
                                                    fl_kv_get(w->options, FL_WIN_OPT_ACC_SCHEMA), err)
                                   : fl_schema_ref((fl_schema *)in);
        if (!out) return err->code;
        char name[256];
        snprintf(name, sizeof name, "Local %s", w->name);
        fl_stream_node *l = fl_stream_graph_add_node(g, "window_local", name);
        l->parallelism = src->parallelism;
        l->max_parallelism = src->max_parallelism;
        l->schema = out;
        l->key = fl_key_spec_clone(w->key);
        fl_kv_destroy(l->options);
        l->options = fl_kv_clone(w->options);
        fl_stream_edge *edge = fl_stream_node_add_input(l, e->source_id, FL_PART_FORWARD, true);
        edge->side_output = e->side_output; /* moves to the new edge */
        e->side_output = NULL;
        e->source_id = l->id;
        if (aggregate) { /* the window and the exchange key the accumulator rows */
            fl_key_spec *k = leading_key(w->key);
            fl_key_spec_destroy(w->key);
            w->key = k;
            if (e->key) {
                fl_key_spec_destroy(e->key);
                e->key = leading_key(k);
            }
            fl_kv_set(w->options, FL_WIN_OPT_INPUT, "accumulators");
        }
    }
    return 0;
}
