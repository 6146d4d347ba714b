/*
 * flinc/state.h - keyed state and timers for functions on a keyed stream.
 *
 * A function running on a keyed stream (keyed process, window process,
 * co-process on connected keyed streams) declares states by name through its
 * context, usually in its open hook, and keeps the handles in its user
 * pointer. Every access reads or writes the value of the key of the record
 * (or timer) being processed. States are managed by the engine: organised by
 * key group, they will be snapshotted by checkpoints and redistributed when a
 * job is rescaled.
 *
 * Handles are owned by the operator; rows returned are borrowed and valid
 * until the next change of the same state.
 */
#ifndef FLINC_STATE_H
#define FLINC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flinc/datastream.h"
#include "flinc/row.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_value_state fl_value_state;
typedef struct fl_list_state fl_list_state;
typedef struct fl_map_state fl_map_state;
typedef struct fl_reducing_state fl_reducing_state;
typedef struct fl_aggregating_state fl_aggregating_state;

/* State time-to-live (Flink's StateTtlConfig): a value older than ttl_ms is
 * never returned. The age restarts when the value is written, and with
 * FL_TTL_UPDATE_ON_READ_AND_WRITE also when it is read. */
typedef enum fl_ttl_update_type {
    FL_TTL_UPDATE_ON_CREATE_AND_WRITE = 1,
    FL_TTL_UPDATE_ON_READ_AND_WRITE = 2,
} fl_ttl_update_type;

typedef struct fl_state_ttl {
    int64_t ttl_ms;
    fl_ttl_update_type update_type;
} fl_state_ttl;

/* An aggregate function (Flink's AggregateFunction) for aggregating state and
 * window aggregation: an accumulator of acc_schema per key (and window),
 * results of out_schema. merge is needed for session windows. All functions
 * are exported symbols. */
typedef struct fl_aggregate_function {
    const fl_schema *acc_schema;
    const fl_schema *out_schema;
    int (*create_accumulator)(fl_context *ctx, fl_row_builder *acc);
    int (*add)(fl_context *ctx, const fl_row *in, const fl_row *acc, fl_row_builder *out_acc);
    int (*get_result)(fl_context *ctx, const fl_row *acc, fl_row_builder *out);
    int (*merge)(fl_context *ctx, const fl_row *a, const fl_row *b, fl_row_builder *out_acc);
} fl_aggregate_function;

/* ---- declaring states (ttl may be NULL) -------------------------------------------------- */

/* The same name declared again returns the same state; with another kind or
 * schema the call fails (the function fails with that message). All return
 * NULL on failure, after fl_context_fail. */
fl_value_state *fl_context_value_state(fl_context *ctx, const char *name, const fl_schema *schema,
                                       const fl_state_ttl *ttl);
fl_list_state *fl_context_list_state(fl_context *ctx, const char *name, const fl_schema *schema,
                                     const fl_state_ttl *ttl);
fl_map_state *fl_context_map_state(fl_context *ctx, const char *name, const fl_schema *key_schema,
                                   const fl_schema *value_schema, const fl_state_ttl *ttl);
fl_reducing_state *fl_context_reducing_state(fl_context *ctx, const char *name,
                                             const fl_schema *schema, fl_reduce_fn fn,
                                             const fl_state_ttl *ttl);
fl_aggregating_state *fl_context_aggregating_state(fl_context *ctx, const char *name,
                                                   const fl_schema *in_schema,
                                                   const fl_aggregate_function *agg,
                                                   const fl_state_ttl *ttl);

/* ---- using them (for the current key) ---------------------------------------------------------- */

const fl_row *fl_value_state_get(fl_value_state *s); /* NULL when unset */
int fl_value_state_update(fl_value_state *s, const fl_row *value);
void fl_value_state_clear(fl_value_state *s);

int fl_list_state_add(fl_list_state *s, const fl_row *element);
/* Elements in insertion order; count in *n (0 and NULL when empty). */
const fl_row *const *fl_list_state_get(fl_list_state *s, size_t *n);
int fl_list_state_update(fl_list_state *s, const fl_row *const *elements, size_t n);
void fl_list_state_clear(fl_list_state *s);

const fl_row *fl_map_state_get(fl_map_state *s, const fl_row *key);
int fl_map_state_put(fl_map_state *s, const fl_row *key, const fl_row *value);
int fl_map_state_remove(fl_map_state *s, const fl_row *key);
bool fl_map_state_contains(fl_map_state *s, const fl_row *key);
bool fl_map_state_is_empty(fl_map_state *s);
/* All entries; keys[i] -> values[i]; count returned. */
size_t fl_map_state_entries(fl_map_state *s, const fl_row *const **keys,
                            const fl_row *const **values);
void fl_map_state_clear(fl_map_state *s);

int fl_reducing_state_add(fl_reducing_state *s, const fl_row *value);
const fl_row *fl_reducing_state_get(fl_reducing_state *s);
void fl_reducing_state_clear(fl_reducing_state *s);

int fl_aggregating_state_add(fl_aggregating_state *s, const fl_row *value);
const fl_row *fl_aggregating_state_get(fl_aggregating_state *s); /* the result */
void fl_aggregating_state_clear(fl_aggregating_state *s);

/* ---- the key and timers (keyed functions only) ------------------------------------------------- */

/* The key of the record or timer being processed (a row of the key schema). */
const fl_row *fl_context_current_key(const fl_context *ctx);

/* Timers per (key, time): registering the same time twice fires once; a
 * deleted timer does not fire. Event-time timers fire when the watermark
 * passes their time, processing-time timers when the clock reaches it, in
 * time order, calling the function's on_timer with the timer's key set. */
void fl_context_register_event_timer(fl_context *ctx, int64_t time);
void fl_context_register_processing_timer(fl_context *ctx, int64_t time);
void fl_context_delete_event_timer(fl_context *ctx, int64_t time);
void fl_context_delete_processing_timer(fl_context *ctx, int64_t time);

typedef enum fl_time_domain_kind {
    FL_TIME_EVENT = 0,
    FL_TIME_PROCESSING = 1,
} fl_time_domain_kind;

/* In on_timer: which kind of timer fired. */
fl_time_domain_kind fl_context_timer_domain(const fl_context *ctx);

/* A keyed process function's timer callback (KeyedProcessFunction.onTimer). */
typedef int (*fl_on_timer_fn)(fl_context *ctx, int64_t timestamp, fl_collector *out);

/* A process function on a keyed stream, with keyed state and timers. */
fl_stream *fl_keyed_process(fl_keyed_stream *k, fl_process_fn fn, fl_on_timer_fn on_timer,
                            const fl_schema *out_schema);

/* ---- operator state (non-keyed functions) -------------------------------------------------------- */

/* A list of rows per parallel instance (Flink's operator ListState). On a
 * restore with another parallelism the elements of all instances are split
 * evenly (union = false) or every instance gets all of them (union = true);
 * restores come with checkpoints and savepoints. */
fl_list_state *fl_context_operator_list_state(fl_context *ctx, const char *name,
                                              const fl_schema *schema, bool union_redistribution);

#ifdef __cplusplus
}
#endif
#endif
