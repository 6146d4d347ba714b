/*
 * flinc/window.h - windows, two-input streams and joins.
 *
 * Windows follow Flink's model: an assigner puts each row into windows
 * (tumbling, sliding, session, global; event or processing time, with
 * offsets); a trigger decides when a window's function runs (by default when
 * the watermark or the clock passes the window's end); an optional evictor
 * removes rows before or after the function; allowed lateness keeps windows
 * for late rows, which fire again; rows later than that can go to a side
 * output. Window state is keyed state in the window's namespace and is freed
 * when the watermark passes the window's end plus the allowed lateness.
 */
#ifndef FLINC_WINDOW_H
#define FLINC_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "flinc/datastream.h"
#include "flinc/state.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- windows and assigners ----------------------------------------------------------------- */

/* A time window [start, end): end is exclusive, the last timestamp it holds
 * is end - 1. The global window is [INT64_MIN, INT64_MAX). */
typedef struct fl_window {
    int64_t start;
    int64_t end;
} fl_window;

typedef enum fl_window_kind {
    FL_WINDOW_TUMBLING = 1,
    FL_WINDOW_SLIDING,
    FL_WINDOW_SESSION,
    FL_WINDOW_GLOBAL,
} fl_window_kind;

typedef struct fl_window_assigner {
    fl_window_kind kind;
    fl_time_domain_kind domain; /* event or processing time */
    int64_t size_ms;            /* tumbling, sliding */
    int64_t slide_ms;           /* sliding */
    int64_t offset_ms;          /* tumbling, sliding: windows start at offset + k * slide */
    int64_t gap_ms;             /* session */
} fl_window_assigner;

fl_window_assigner fl_tumbling_event_time_windows(int64_t size_ms, int64_t offset_ms);
fl_window_assigner fl_tumbling_processing_time_windows(int64_t size_ms, int64_t offset_ms);
fl_window_assigner fl_sliding_event_time_windows(int64_t size_ms, int64_t slide_ms,
                                                 int64_t offset_ms);
fl_window_assigner fl_sliding_processing_time_windows(int64_t size_ms, int64_t slide_ms,
                                                      int64_t offset_ms);
fl_window_assigner fl_event_time_session_windows(int64_t gap_ms);
fl_window_assigner fl_processing_time_session_windows(int64_t gap_ms);
/* Everything in one window per key; needs a trigger (the default never fires). */
fl_window_assigner fl_global_windows(void);

/* ---- triggers ----------------------------------------------------------------------------------- */

typedef enum fl_trigger_result {
    FL_TRIGGER_CONTINUE = 0,
    FL_TRIGGER_FIRE = 1,
    FL_TRIGGER_PURGE = 2,
    FL_TRIGGER_FIRE_AND_PURGE = 3,
} fl_trigger_result;

typedef struct fl_trigger_ctx fl_trigger_ctx;

/* What a user trigger can do: look at time, set timers for its window, and
 * keep per-(key, window) state. */
int64_t fl_trigger_current_watermark(const fl_trigger_ctx *t);
int64_t fl_trigger_current_processing_time(const fl_trigger_ctx *t);
void fl_trigger_register_event_timer(fl_trigger_ctx *t, int64_t time);
void fl_trigger_register_processing_timer(fl_trigger_ctx *t, int64_t time);
void fl_trigger_delete_event_timer(fl_trigger_ctx *t, int64_t time);
void fl_trigger_delete_processing_timer(fl_trigger_ctx *t, int64_t time);
fl_value_state *fl_trigger_value_state(fl_trigger_ctx *t, const char *name,
                                       const fl_schema *schema);
fl_context *fl_trigger_context(fl_trigger_ctx *t); /* parameters, failing */

/* A user trigger (Flink's Trigger): functions return an fl_trigger_result or
 * a negative error. on_merge (session windows) may be NULL when the trigger
 * cannot merge; clear removes the trigger's timers and state of a window. */
typedef struct fl_trigger_fns {
    int (*on_element)(fl_trigger_ctx *t, const fl_row *row, int64_t timestamp,
                      const fl_window *w);
    int (*on_event_time)(fl_trigger_ctx *t, int64_t time, const fl_window *w);
    int (*on_processing_time)(fl_trigger_ctx *t, int64_t time, const fl_window *w);
    int (*on_merge)(fl_trigger_ctx *t, const fl_window *w);
    void (*clear)(fl_trigger_ctx *t, const fl_window *w);
} fl_trigger_fns;

typedef enum fl_trigger_kind {
    FL_TRIGGER_DEFAULT = 0,     /* the assigner's: event-time, processing-time, or never */
    FL_TRIGGER_EVENT_TIME,      /* fires when the watermark passes the window's end */
    FL_TRIGGER_PROCESSING_TIME, /* fires when the clock passes the window's end */
    FL_TRIGGER_COUNT,           /* fires every `count` rows */
    FL_TRIGGER_CONTINUOUS_EVENT_TIME, /* fires every `interval_ms` of event time */
    FL_TRIGGER_USER,            /* fns */
} fl_trigger_kind;

typedef struct fl_trigger {
    fl_trigger_kind kind;
    int64_t count;
    int64_t interval_ms;
    bool purging;               /* PurgingTrigger: every FIRE becomes FIRE_AND_PURGE */
    const fl_trigger_fns *fns;  /* FL_TRIGGER_USER */
} fl_trigger;

/* ---- evictors ------------------------------------------------------------------------------------- */

typedef enum fl_evictor_kind {
    FL_EVICTOR_NONE = 0,
    FL_EVICTOR_COUNT, /* keeps the last `count` rows */
    FL_EVICTOR_TIME,  /* keeps rows with timestamp > max timestamp - `keep_ms` (Flink's) */
} fl_evictor_kind;

typedef struct fl_evictor {
    fl_evictor_kind kind;
    int64_t count;
    int64_t keep_ms;
    bool after;       /* evict after the window function instead of before */
} fl_evictor;

/* ---- windowed streams --------------------------------------------------------------------------- */

typedef struct fl_windowed_stream fl_windowed_stream;

fl_windowed_stream *fl_keyed_window(fl_keyed_stream *k, fl_window_assigner assigner);
/* All rows in the same windows (non-keyed; runs with parallelism 1). */
fl_windowed_stream *fl_stream_window_all(fl_stream *s, fl_window_assigner assigner);

fl_windowed_stream *fl_window_trigger(fl_windowed_stream *w, fl_trigger trigger);
fl_windowed_stream *fl_window_evictor(fl_windowed_stream *w, fl_evictor evictor);
fl_windowed_stream *fl_window_allowed_lateness(fl_windowed_stream *w, int64_t lateness_ms);
/* Rows too late for their windows go to side output `tag` (same schema as
 * the input) instead of being dropped; take it with fl_stream_side_output on
 * the window's result stream. */
fl_windowed_stream *fl_window_side_output_late_data(fl_windowed_stream *w, const char *tag);

/* A process window function (ProcessWindowFunction): all rows of the
 * window (after eviction), the window, and a context with per-window state
 * (fl_context_* state calls inside it use the window's namespace). */
typedef int (*fl_window_process_fn)(fl_context *ctx, const fl_window *w,
                                    const fl_row *const *rows, size_t n, fl_collector *out);

/* Incremental: one accumulated row per key and window. */
fl_stream *fl_window_reduce(fl_windowed_stream *w, fl_reduce_fn fn);
fl_stream *fl_window_aggregate(fl_windowed_stream *w, const fl_aggregate_function *agg);
/* Field aggregations of the window's rows (like the keyed ones). */
fl_stream *fl_window_sum(fl_windowed_stream *w, const char *field);
fl_stream *fl_window_min(fl_windowed_stream *w, const char *field);
fl_stream *fl_window_max(fl_windowed_stream *w, const char *field);
/* All rows kept until the window fires. */
fl_stream *fl_window_process(fl_windowed_stream *w, fl_window_process_fn fn,
                             const fl_schema *out_schema);
/* Incremental aggregation, then the process function on the one result. */
fl_stream *fl_window_reduce_process(fl_windowed_stream *w, fl_reduce_fn reduce,
                                    fl_window_process_fn fn, const fl_schema *out_schema);
fl_stream *fl_window_aggregate_process(fl_windowed_stream *w, const fl_aggregate_function *agg,
                                       fl_window_process_fn fn, const fl_schema *out_schema);

/* ---- connected streams ----------------------------------------------------------------------------- */

typedef struct fl_connected_streams fl_connected_streams;

/* Two streams, possibly of different schemas, into one two-input operator. */
fl_connected_streams *fl_stream_connect(fl_stream *a, fl_stream *b);
/* Both keyed (keys of equal schema): each key's rows from both sides meet in
 * one subtask, with keyed state and timers. */
fl_connected_streams *fl_keyed_connect(fl_keyed_stream *a, fl_keyed_stream *b);

/* fn1 runs on rows of the first input, fn2 on the second; both build rows of
 * out_schema. */
fl_stream *fl_connected_map(fl_connected_streams *c, fl_map_fn fn1, fl_map_fn fn2,
                            const fl_schema *out_schema);
fl_stream *fl_connected_flat_map(fl_connected_streams *c, fl_flat_map_fn fn1,
                                 fl_flat_map_fn fn2, const fl_schema *out_schema);
/* CoProcessFunction / KeyedCoProcessFunction (on_timer for keyed only; may
 * be NULL). */
fl_stream *fl_connected_process(fl_connected_streams *c, fl_process_fn fn1, fl_process_fn fn2,
                                fl_on_timer_fn on_timer, const fl_schema *out_schema);

/* The broadcast state pattern: `rules` is broadcast to every parallel
 * instance of the operator, which keeps it in a map state named
 * `state_name` (key_schema -> value_schema). fn_element runs on rows of s
 * and may only read the broadcast state; fn_broadcast runs on rules rows and
 * may change it (every instance sees the same rows, so all copies agree).
 * The state is part of checkpoints and savepoints: a restore, also at another
 * parallelism, gives every instance a copy of it. */
fl_stream *fl_stream_connect_broadcast(fl_stream *s, fl_stream *rules, const char *state_name,
                                       const fl_schema *key_schema,
                                       const fl_schema *value_schema, fl_process_fn fn_element,
                                       fl_process_fn fn_broadcast, const fl_schema *out_schema);
/* In a broadcast-connected function: the broadcast map state. */
fl_map_state *fl_context_broadcast_state(fl_context *ctx);

/* ---- joins ---------------------------------------------------------------------------------------- */

/* JoinFunction: one output row per matching pair. */
typedef int (*fl_join_fn)(fl_context *ctx, const fl_row *left, const fl_row *right,
                          fl_row_builder *out);
/* CoGroupFunction: all rows of both sides for a key and window. */
typedef int (*fl_cogroup_fn)(fl_context *ctx, const fl_row *const *left, size_t n_left,
                             const fl_row *const *right, size_t n_right, fl_collector *out);

/* Window join: pairs of rows with equal keys (key fields of each side, equal
 * key schemas) in the same window. */
fl_stream *fl_window_join(fl_stream *left, const char *left_key, fl_stream *right,
                          const char *right_key, fl_window_assigner assigner, fl_join_fn fn,
                          const fl_schema *out_schema);
fl_stream *fl_window_co_group(fl_stream *left, const char *left_key, fl_stream *right,
                              const char *right_key, fl_window_assigner assigner,
                              fl_cogroup_fn fn, const fl_schema *out_schema);

/* Interval join (event time): joins a left row at time t with right rows of
 * the same key in [t + lower_ms, t + upper_ms], bounds inclusive unless
 * excluded. State is freed once the watermark makes a row unmatchable. */
typedef struct fl_interval {
    int64_t lower_ms;
    int64_t upper_ms;
    bool lower_exclusive;
    bool upper_exclusive;
} fl_interval;

fl_stream *fl_keyed_interval_join(fl_keyed_stream *left, fl_keyed_stream *right,
                                  fl_interval interval, fl_join_fn fn,
                                  const fl_schema *out_schema);

#ifdef __cplusplus
}
#endif
#endif
