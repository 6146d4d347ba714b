/*
 * window_assign.c - what windows an element belongs to: Flink's assigners
 * (tumbling, sliding, session, global; by event time or processing time),
 * windows as state namespaces, the merging window set of session windows,
 * and the node options that carry an assigner (and other window settings)
 * from the API to the operator.
 *
 * Window arithmetic saturates at INT64_MIN / INT64_MAX instead of
 * overflowing, so timestamps near the ends of the range stay well defined.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mem.h"
#include "runtime_int.h"
#include "window_int.h"

/* ---- names --------------------------------------------------------------------------------- */

static const char *const fn_names[] = {
    [FL_WIN_REDUCE] = "reduce",
    [FL_WIN_AGGREGATE] = "aggregate",
    [FL_WIN_PROCESS] = "process",
    [FL_WIN_REDUCE_PROCESS] = "reduce_process",
    [FL_WIN_AGGREGATE_PROCESS] = "aggregate_process",
    [FL_WIN_SUM] = "sum",
    [FL_WIN_MIN] = "min",
    [FL_WIN_MAX] = "max",
    [FL_WIN_JOIN] = "join",
    [FL_WIN_COGROUP] = "co_group",
};

const char *fl__win_fn_name(fl_win_fn_kind k) {
    return (unsigned)k < sizeof fn_names / sizeof fn_names[0] ? fn_names[k] : NULL;
}

int fl__win_fn_parse(const char *name, fl_win_fn_kind *out) {
    for (size_t i = 1; name && i < sizeof fn_names / sizeof fn_names[0]; i++)
        if (strcmp(fn_names[i], name) == 0) return *out = (fl_win_fn_kind)i, 0;
    return FL_EINVAL;
}

static const char *const trigger_names[] = {
    [FL_TRIGGER_DEFAULT] = "default",
    [FL_TRIGGER_EVENT_TIME] = "event_time",
    [FL_TRIGGER_PROCESSING_TIME] = "processing_time",
    [FL_TRIGGER_COUNT] = "count",
    [FL_TRIGGER_CONTINUOUS_EVENT_TIME] = "continuous_event_time",
    [FL_TRIGGER_USER] = "user",
};

const char *fl__win_trigger_name(fl_trigger_kind k) {
    return (unsigned)k < sizeof trigger_names / sizeof trigger_names[0] ? trigger_names[k] : NULL;
}

int fl__win_trigger_parse(const char *name, fl_trigger_kind *out) {
    for (size_t i = 0; name && i < sizeof trigger_names / sizeof trigger_names[0]; i++)
        if (strcmp(trigger_names[i], name) == 0) return *out = (fl_trigger_kind)i, 0;
    return FL_EINVAL;
}

/* ---- assigners as options ------------------------------------------------------------------ */

static const char *const assigner_names[] = {
    [FL_WINDOW_TUMBLING] = "tumbling",
    [FL_WINDOW_SLIDING] = "sliding",
    [FL_WINDOW_SESSION] = "session",
    [FL_WINDOW_GLOBAL] = "global",
};

static void set_ms(fl_kv *o, const char *key, int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    fl_kv_set(o, key, buf);
}

void fl__win_assigner_to_options(const fl_window_assigner *a, fl_kv *o) {
    fl_kv_set(o, FL_WIN_OPT_ASSIGNER, assigner_names[a->kind]);
    fl_kv_set(o, FL_WIN_OPT_TIME, a->domain == FL_TIME_PROCESSING ? "processing" : "event");
    switch (a->kind) {
    case FL_WINDOW_SLIDING:
        set_ms(o, FL_WIN_OPT_SLIDE, a->slide_ms);
        /* fall through */
    case FL_WINDOW_TUMBLING:
        set_ms(o, FL_WIN_OPT_SIZE, a->size_ms);
        set_ms(o, FL_WIN_OPT_OFFSET, a->offset_ms);
        break;
    case FL_WINDOW_SESSION:
        set_ms(o, FL_WIN_OPT_GAP, a->gap_ms);
        break;
    case FL_WINDOW_GLOBAL:
        break;
    }
}

/* The integer option key (what set_ms wrote), read as the operators read
 * theirs (fl__op_option_int). */
static int get_ms(const fl_kv *o, const char *key, int64_t *out, fl_error *err) {
    const char *v = fl_kv_get(o, key);
    if (!v || !*v) return fl_error_set(err, FL_EINVAL, "window option \"%s\" is missing", key);
    if (fl_parse_int(v, out) != 0)
        return fl_error_set(err, FL_EINVAL, "window option \"%s\" is not a number: %s", key, v);
    return 0;
}

int fl__win_assigner_from_options(const fl_kv *o, fl_window_assigner *a, fl_error *err) {
    memset(a, 0, sizeof *a);
    const char *kind = fl_kv_get(o, FL_WIN_OPT_ASSIGNER), *time = fl_kv_get(o, FL_WIN_OPT_TIME);
    for (int k = FL_WINDOW_TUMBLING; kind && k <= FL_WINDOW_GLOBAL; k++)
        if (strcmp(kind, assigner_names[k]) == 0) a->kind = (fl_window_kind)k;
    if (!a->kind)
        return fl_error_set(err, FL_EINVAL, "unknown window assigner \"%s\"", kind ? kind : "");
    a->domain = time && strcmp(time, "processing") == 0 ? FL_TIME_PROCESSING : FL_TIME_EVENT;
    int rc = 0;
    switch (a->kind) {
    case FL_WINDOW_SLIDING:
        rc = get_ms(o, FL_WIN_OPT_SLIDE, &a->slide_ms, err);
        /* fall through */
    case FL_WINDOW_TUMBLING:
        if (rc == 0) rc = get_ms(o, FL_WIN_OPT_SIZE, &a->size_ms, err);
        if (rc == 0) rc = get_ms(o, FL_WIN_OPT_OFFSET, &a->offset_ms, err);
        if (a->kind == FL_WINDOW_TUMBLING) a->slide_ms = a->size_ms;
        break;
    case FL_WINDOW_SESSION:
        rc = get_ms(o, FL_WIN_OPT_GAP, &a->gap_ms, err);
        break;
    case FL_WINDOW_GLOBAL:
        break;
    }
    if (rc == 0 && a->kind != FL_WINDOW_GLOBAL &&
        (a->kind == FL_WINDOW_SESSION ? a->gap_ms <= 0 : (a->size_ms <= 0 || a->slide_ms <= 0)))
        return fl_error_set(err, FL_EINVAL, "window sizes must be positive");
    return rc;
}

const char *fl__win_assigner_describe(const fl_window_assigner *a, char *buf, size_t size) {
    const char *dom = a->domain == FL_TIME_PROCESSING ? "ProcessingTime" : "EventTime";
    switch (a->kind) {
    case FL_WINDOW_TUMBLING:
        snprintf(buf, size, "Tumbling%sWindows(%lld)", dom, (long long)a->size_ms);
        break;
    case FL_WINDOW_SLIDING:
        snprintf(buf, size, "Sliding%sWindows(%lld, %lld)", dom, (long long)a->size_ms,
                 (long long)a->slide_ms);
        break;
    case FL_WINDOW_SESSION:
        snprintf(buf, size, "%sSessionWindows(%lld)", dom, (long long)a->gap_ms);
        break;
    case FL_WINDOW_GLOBAL:
        snprintf(buf, size, "GlobalWindows()");
        break;
    }
    return buf;
}

/* ---- windows as namespaces ----------------------------------------------------------------- */

/* Little-endian whatever the host (a plain copy on little-endian hosts). */
static void put64(uint8_t *p, int64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(u >> (8 * i));
#endif
}

static int64_t get64(const uint8_t *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    int64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u |= (uint64_t)p[i] << (8 * i);
    return (int64_t)u;
#endif
}

void fl__win_ns(const fl_window *w, uint8_t ns[FL_WIN_NS_LEN]) {
    put64(ns, w->start);
    put64(ns + 8, w->end);
}

fl_window fl__win_of_ns(const void *ns) {
    const uint8_t *p = ns;
    return (fl_window){.start = get64(p), .end = get64(p + 8)};
}

/* ---- assigning ----------------------------------------------------------------------------- */

static int64_t sat_sub(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) return b > 0 ? INT64_MIN : INT64_MAX;
    return r;
}

int64_t fl__win_start(int64_t ts, int64_t offset, int64_t slide) {
    /* (ts - offset) mod slide, computed from the parts so that it cannot
     * overflow; then into [0, slide). */
    int64_t r = ts % slide;
    if (offset != 0) r = (r - offset % slide) % slide;
    if (r < 0) r += slide;
    return sat_sub(ts, r);
}

size_t fl__win_max_windows(const fl_window_assigner *a) {
    if (a->kind != FL_WINDOW_SLIDING) return 1;
    return (size_t)(a->size_ms / a->slide_ms) + 1;
}

size_t fl__win_assign(const fl_window_assigner *a, int64_t ts, fl_window *out) {
    switch (a->kind) {
    case FL_WINDOW_TUMBLING: {
        int64_t start = fl__win_start(ts, a->offset_ms, a->size_ms);
        out[0] = (fl_window){start, fl__sat_add(start, a->size_ms)};
        return 1;
    }
    case FL_WINDOW_SLIDING: {
        /* Latest window first, as Flink lists them. */
        size_t n = 0;
        int64_t last = fl__win_start(ts, a->offset_ms, a->slide_ms);
        int64_t lowest = sat_sub(ts, a->size_ms);
        for (int64_t start = last; start > lowest; start = sat_sub(start, a->slide_ms)) {
            out[n++] = (fl_window){start, fl__sat_add(start, a->size_ms)};
            if (start == INT64_MIN || n == fl__win_max_windows(a)) break;
        }
        return n;
    }
    case FL_WINDOW_SESSION:
        out[0] = (fl_window){ts, fl__sat_add(ts, a->gap_ms)};
        return 1;
    case FL_WINDOW_GLOBAL:
        out[0] = (fl_window){INT64_MIN, INT64_MAX};
        return 1;
    }
    return 0;
}

/* ---- the merging window set ---------------------------------------------------------------- */

void fl__win_set_fini(fl_win_set *s) {
    free(s->v);
    free(s->cand);
    free(s->merged);
    free(s->merged_states);
    memset(s, 0, sizeof *s);
}

static void reserve(fl_win_set *s, size_t n) {
    if (n <= s->cap) return;
    size_t cap = s->cap ? s->cap : 8;
    while (cap < n) cap *= 2;
    s->v = fl_xrealloc(s->v, cap * sizeof *s->v);
    s->cap = cap;
}

void fl__win_set_load(fl_win_set *s, const void *bytes, uint32_t len) {
    size_t n = len / (2 * FL_WIN_NS_LEN);
    reserve(s, n);
    const uint8_t *p = bytes;
    for (size_t i = 0; i < n; i++, p += 2 * FL_WIN_NS_LEN) {
        s->v[i].window = fl__win_of_ns(p);
        s->v[i].state_window = fl__win_of_ns(p + FL_WIN_NS_LEN);
    }
    s->n = n;
    s->dirty = false;
}

const void *fl__win_set_bytes(fl_win_set *s, uint32_t *len) {
    /* Serialized over the candidates' buffer (2 windows per mapping). */
    size_t need = 2 * s->n;
    if (need > s->cand_cap) {
        s->cand_cap = need;
        s->cand = fl_xrealloc(s->cand, need * sizeof *s->cand);
        s->merged = fl_xrealloc(s->merged, need * sizeof *s->merged);
        s->merged_states = fl_xrealloc(s->merged_states, need * sizeof *s->merged_states);
    }
    uint8_t *p = (uint8_t *)s->cand;
    for (size_t i = 0; i < s->n; i++, p += 2 * FL_WIN_NS_LEN) {
        fl__win_ns(&s->v[i].window, p);
        fl__win_ns(&s->v[i].state_window, p + FL_WIN_NS_LEN);
    }
    *len = (uint32_t)(s->n * 2 * FL_WIN_NS_LEN);
    return s->cand;
}

static ssize_t find(const fl_win_set *s, const fl_window *w) {
    for (size_t i = 0; i < s->n; i++)
        if (fl__win_equal(&s->v[i].window, w)) return (ssize_t)i;
    return -1;
}

const fl_window *fl__win_set_state_window(const fl_win_set *s, const fl_window *w) {
    ssize_t i = find(s, w);
    return i < 0 ? NULL : &s->v[i].state_window;
}

void fl__win_set_retire(fl_win_set *s, const fl_window *w) {
    ssize_t i = find(s, w);
    if (i < 0) return;
    s->v[i] = s->v[--s->n];
    s->dirty = true;
}

static void put(fl_win_set *s, const fl_window *w, const fl_window *state) {
    ssize_t i = find(s, w);
    if (i < 0) {
        reserve(s, s->n + 1);
        i = (ssize_t)s->n++;
    }
    s->v[i].window = *w;
    s->v[i].state_window = *state;
    s->dirty = true;
}

static int by_start(const void *a, const void *b) {
    const fl_window *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* One group of overlapping candidates [from, to) merged into result. */
static int merge_group(fl_win_set *s, const fl_window *group, size_t count, const fl_window *result,
                       const fl_window *new_window, bool *merged_new, fl_window *actual,
                       fl_win_merge_fn merge, void *arg) {
    /* The pre-existing windows of the group (the new one had no state). */
    size_t n_merged = 0;
    for (size_t i = 0; i < count; i++) {
        if (!*merged_new && fl__win_equal(&group[i], new_window) && find(s, &group[i]) < 0) {
            *merged_new = true;
            *actual = *result;
            continue;
        }
        s->merged[n_merged++] = group[i];
    }
    if (n_merged == 0) return 0;
    /* The merged window keeps the state window of its first part. */
    fl_window state_result = *fl__win_set_state_window(s, &s->merged[0]);
    size_t n_states = 0;
    for (size_t i = 0; i < n_merged; i++) {
        ssize_t j = find(s, &s->merged[i]);
        if (j < 0) continue;
        fl_window st = s->v[j].state_window;
        s->v[j] = s->v[--s->n];
        if (!fl__win_equal(&st, &state_result)) s->merged_states[n_states++] = st;
    }
    put(s, result, &state_result);
    /* A new window inside one existing window changes nothing. */
    if (n_merged == 1 && fl__win_equal(&s->merged[0], result)) return 0;
    return merge(arg, result, s->merged, n_merged, &state_result, s->merged_states, n_states);
}

int fl__win_set_add(fl_win_set *s, const fl_window *new_window, fl_win_merge_fn merge, void *arg,
                    fl_window *actual) {
    /* A window equal to an active one changes nothing (Flink's merge works
     * on a set, where the two are one). */
    *actual = *new_window;
    if (find(s, new_window) >= 0) return 0;
    size_t n = s->n + 1;
    if (n > s->cand_cap) {
        s->cand_cap = 2 * n;
        s->cand = fl_xrealloc(s->cand, s->cand_cap * sizeof *s->cand);
        s->merged = fl_xrealloc(s->merged, s->cand_cap * sizeof *s->merged);
        s->merged_states = fl_xrealloc(s->merged_states, s->cand_cap * sizeof *s->merged_states);
    }
    for (size_t i = 0; i < s->n; i++) s->cand[i] = s->v[i].window;
    s->cand[s->n] = *new_window;
    qsort(s->cand, n, sizeof *s->cand, by_start);

    bool merged_new = false, any_merge = false;
    /* Flink's TimeWindow.mergeWindows: runs of intersecting windows. The
     * candidates are copied before the first merge changes the set. */
    size_t from = 0;
    while (from < n) {
        fl_window cover = s->cand[from];
        size_t to = from + 1;
        while (to < n && fl__win_intersects(&cover, &s->cand[to])) {
            if (s->cand[to].end > cover.end) cover.end = s->cand[to].end;
            to++;
        }
        if (to - from > 1) {
            any_merge = true;
            int rc = merge_group(s, s->cand + from, to - from, &cover, new_window, &merged_new,
                                 actual, merge, arg);
            if (rc < 0) return rc;
        }
        from = to;
    }
    if (!any_merge || (fl__win_equal(actual, new_window) && !merged_new))
        put(s, new_window, new_window);
    return 0;
}
