/*
 * window_int.h - the window operator's parts, shared by op_window.c (the
 * operator), window_assign.c (assigners, namespaces, the merging window set,
 * the node options), window_trigger.c (triggers), window_fn.c (window
 * functions, evictors, joins) and the API (src/api/window_api.c), which
 * writes the options the operator reads.
 *
 * A window node ("window") is a keyed operator; its plan is in the node's
 * options (names below), its user functions are "fn.<role>" options. Window
 * state is keyed state whose namespace is the window, serialized as 16 bytes
 * (start, end; little-endian), so a (key, window) pair finds its contents,
 * its trigger state and its timers. Everything here runs in the task's thread.
 */
#ifndef FL_RUNTIME_WINDOW_INT_H
#define FL_RUNTIME_WINDOW_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "flinc/window.h"
#include "kv.h"

/* ---- node options (written by the API, read by the operator) ------------------------------- */

#define FL_WIN_OPT_ASSIGNER         "assigner" /* tumbling, sliding, session, global */
#define FL_WIN_OPT_TIME             "time"     /* event, processing */
#define FL_WIN_OPT_SIZE             "size"     /* milliseconds */
#define FL_WIN_OPT_SLIDE            "slide"
#define FL_WIN_OPT_OFFSET           "offset"
#define FL_WIN_OPT_GAP              "gap"
#define FL_WIN_OPT_LATENESS         "allowed-lateness"
#define FL_WIN_OPT_LATE_TAG         "late-data-tag"
#define FL_WIN_OPT_TRIGGER          "trigger" /* see fl__win_trigger_name */
#define FL_WIN_OPT_TRIGGER_COUNT    "trigger.count"
#define FL_WIN_OPT_TRIGGER_INTERVAL "trigger.interval"
#define FL_WIN_OPT_TRIGGER_PURGING  "trigger.purging" /* "true" */
#define FL_WIN_OPT_EVICTOR          "evictor"         /* count, time */
#define FL_WIN_OPT_EVICTOR_COUNT    "evictor.count"
#define FL_WIN_OPT_EVICTOR_KEEP     "evictor.keep"
#define FL_WIN_OPT_EVICTOR_AFTER    "evictor.after" /* "true" */
#define FL_WIN_OPT_FUNCTION         "function"      /* see fl__win_fn_name */
#define FL_WIN_OPT_FIELD            "field"         /* sum/min/max: field index */
#define FL_WIN_OPT_ACC_SCHEMA       "aggregate.acc-schema"
#define FL_WIN_OPT_AGG_OUT_SCHEMA   "aggregate.out-schema"
/* "accumulators": the input rows are (key fields, accumulator fields) that a
 * local pre-aggregation (op_window_local.c) folded; the window merges them. */
#define FL_WIN_OPT_INPUT            "input"

/* Roles of the "fn.<role>" options. */
#define FL_WIN_FN_REDUCE             "reduce"
#define FL_WIN_FN_PROCESS            "process"
#define FL_WIN_FN_AGG_CREATE         "aggregate.create"
#define FL_WIN_FN_AGG_ADD            "aggregate.add"
#define FL_WIN_FN_AGG_RESULT         "aggregate.result"
#define FL_WIN_FN_AGG_MERGE          "aggregate.merge"
#define FL_WIN_FN_JOIN               "join"
#define FL_WIN_FN_COGROUP            "co_group"
#define FL_WIN_FN_TRIGGER_ELEMENT    "trigger.on_element"
#define FL_WIN_FN_TRIGGER_EVENT      "trigger.on_event_time"
#define FL_WIN_FN_TRIGGER_PROCESSING "trigger.on_processing_time"
#define FL_WIN_FN_TRIGGER_MERGE      "trigger.on_merge"
#define FL_WIN_FN_TRIGGER_CLEAR      "trigger.clear"

/* What runs when a window fires. */
typedef enum fl_win_fn_kind {
    FL_WIN_REDUCE = 1,
    FL_WIN_AGGREGATE,
    FL_WIN_PROCESS,
    FL_WIN_REDUCE_PROCESS,
    FL_WIN_AGGREGATE_PROCESS,
    FL_WIN_SUM,
    FL_WIN_MIN,
    FL_WIN_MAX,
    FL_WIN_JOIN,
    FL_WIN_COGROUP,
} fl_win_fn_kind;

/* "reduce", "aggregate", ...; NULL for an unknown kind. parse: 0 or FL_EINVAL. */
const char *fl__win_fn_name(fl_win_fn_kind k);
int fl__win_fn_parse(const char *name, fl_win_fn_kind *out);
/* "default", "event_time", "processing_time", "count", "continuous_event_time", "user". */
const char *fl__win_trigger_name(fl_trigger_kind k);
int fl__win_trigger_parse(const char *name, fl_trigger_kind *out);

/* Writes the assigner into options / reads it back (0 or FL_EINVAL with err). */
void fl__win_assigner_to_options(const fl_window_assigner *a, fl_kv *options);
int fl__win_assigner_from_options(const fl_kv *options, fl_window_assigner *a, fl_error *err);
/* "TumblingEventTimeWindows(5000)" and the like, Flink's names, into buf. */
const char *fl__win_assigner_describe(const fl_window_assigner *a, char *buf, size_t size);
/* Whether the assigner's windows merge (session windows). */
static inline bool fl__win_merging(const fl_window_assigner *a) {
    return a->kind == FL_WINDOW_SESSION;
}
/* Flink's WindowAssigner.isEventTime(): the global assigner is not. */
static inline bool fl__win_event_time(const fl_window_assigner *a) {
    return a->kind != FL_WINDOW_GLOBAL && a->domain == FL_TIME_EVENT;
}


/* ---- windows ------------------------------------------------------------------------------- */

#define FL_WIN_NS_LEN 16

/* The window's namespace bytes. */
void fl__win_ns(const fl_window *w, uint8_t ns[FL_WIN_NS_LEN]);
fl_window fl__win_of_ns(const void *ns);
/* The last timestamp of w (end - 1; INT64_MAX for the global window, as
 * Flink's GlobalWindow.maxTimestamp()). Results of w carry it. */
static inline int64_t fl__win_max_ts(const fl_window *w) {
    return w->end == INT64_MAX ? INT64_MAX : w->end - 1;
}
static inline bool fl__win_equal(const fl_window *a, const fl_window *b) {
    return a->start == b->start && a->end == b->end;
}
/* Flink's TimeWindow.intersects: closed on both ends, so [0, 5) and [5, 9)
 * of a session merge. */
static inline bool fl__win_intersects(const fl_window *a, const fl_window *b) {
    return a->start <= b->end && a->end >= b->start;
}

/* Flink's TimeWindow.getWindowStartWithOffset, for negative timestamps too
 * (saturating at INT64_MIN instead of overflowing). */
int64_t fl__win_start(int64_t ts, int64_t offset, int64_t slide);
/* Most windows one element can be in. */
size_t fl__win_max_windows(const fl_window_assigner *a);
/* The windows of an element at time ts (event timestamp or processing time)
 * into out (room for fl__win_max_windows); returns how many. */
size_t fl__win_assign(const fl_window_assigner *a, int64_t ts, fl_window *out);

/* ---- the merging window set (session windows) ---------------------------------------------- */

/* Flink's MergingWindowSet: the key's active windows, each mapped to the
 * window whose namespace holds its state (a merged window keeps the state
 * window of one of its parts, so merging moves only the others' state). It
 * lives in keyed state between elements; the operator loads it, changes it,
 * and writes it back when dirty. */
typedef struct fl_win_mapping {
    fl_window window;
    fl_window state_window;
} fl_win_mapping;

typedef struct fl_win_set {
    fl_win_mapping *v;
    size_t n, cap;
    bool dirty;
    /* working memory of add (grow-only) */
    fl_window *cand, *merged, *merged_states;
    size_t cand_cap;
} fl_win_set;

/* Called by add for every merge: result covers merged[0..n_merged) (the
 * pre-existing windows merged into it); its state lives in state_result,
 * into which the namespaces merged_states[0..n_states) must be merged. */
typedef int (*fl_win_merge_fn)(void *arg, const fl_window *result, const fl_window *merged,
                               size_t n_merged, const fl_window *state_result,
                               const fl_window *merged_states, size_t n_states);

void fl__win_set_fini(fl_win_set *s);
/* Loads the set from bytes (a multiple of 32: window, state window); len 0 is empty. */
void fl__win_set_load(fl_win_set *s, const void *bytes, uint32_t len);
/* The set as bytes (valid until the next change), length in *len. */
const void *fl__win_set_bytes(fl_win_set *s, uint32_t *len);
/* Adds new_window, merging it with overlapping ones (Flink's addWindow);
 * *actual is the window the element belongs to afterwards. 0 or merge's error. */
int fl__win_set_add(fl_win_set *s, const fl_window *new_window, fl_win_merge_fn merge, void *arg,
                    fl_window *actual);
/* The state window of an active window, or NULL. */
const fl_window *fl__win_set_state_window(const fl_win_set *s, const fl_window *w);
/* Removes an active window (its state was cleared). */
void fl__win_set_retire(fl_win_set *s, const fl_window *w);

#endif
