/*
 * flinc/datastream.h - the DataStream API: build a dataflow, then execute it.
 *
 * A job is a shared object exporting `flinc_main` (FLINC_MAIN). `flinc run`
 * dlopens it, creates an environment from the configuration and the command
 * line, and calls the entry point, which builds the dataflow with the calls
 * below and ends with fl_env_execute():
 *
 *     FLINC_MAIN(env, argc, argv) {
 *         fl_stream *lines = fl_env_read_text_file(env, fl_env_param(env, "input"));
 *         ...
 *         return fl_env_execute(env, "WordCount", NULL);
 *     }
 *
 * User functions cross process boundaries by name: every function pointer
 * given to this API must be an exported (non-static) symbol of the job's
 * shared object or of the program; the environment records its symbol name
 * and the task resolves it again before it runs. A function that cannot be
 * named is an error reported by fl_env_execute before the job starts.
 *
 * Building calls never return NULL. An invalid call (unknown field, schema
 * mismatch, bad option, ...) records the first error in the environment and
 * returns a handle that can still be used; fl_env_execute then fails with
 * that error. fl_env_error() shows it earlier.
 *
 * All handles (fl_stream, fl_keyed_stream, fl_collect) are owned by the
 * environment and freed by fl_env_destroy().
 */
#ifndef FLINC_DATASTREAM_H
#define FLINC_DATASTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flinc/error.h"
#include "flinc/row.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_env fl_env;
typedef struct fl_stream fl_stream;
typedef struct fl_keyed_stream fl_keyed_stream;
typedef struct fl_context fl_context;
typedef struct fl_collector fl_collector;
typedef struct fl_collect fl_collect;

/* ---- the job entry point ----------------------------------------------------- */

#define FLINC_MAIN_SYMBOL "flinc_main"
typedef int (*fl_main_fn)(fl_env *env, int argc, char **argv);
/* argv[0] is the job file; job arguments follow. Return 0 on success. */
#define FLINC_MAIN(env, argc, argv) int flinc_main(fl_env *env, int argc, char **argv)

/* ---- user functions ----------------------------------------------------------- */

/* Every function returns 0 (or, for filter, 1/0) on success and a negative
 * value on failure, after fl_context_fail() has said why. A failure fails the
 * job, naming the subtask and the message. */
typedef int (*fl_map_fn)(fl_context *ctx, const fl_row *in, fl_row_builder *out);
typedef int (*fl_flat_map_fn)(fl_context *ctx, const fl_row *in, fl_collector *out);
/* 1 keeps the row, 0 drops it. */
typedef int (*fl_filter_fn)(fl_context *ctx, const fl_row *in);
/* Fills `key` (a builder for the key schema) from `in`. */
typedef int (*fl_key_selector_fn)(fl_context *ctx, const fl_row *in, fl_row_builder *key);
/* Combines the accumulated row and a new row of the same key into `out`. */
typedef int (*fl_reduce_fn)(fl_context *ctx, const fl_row *acc, const fl_row *in,
                            fl_row_builder *out);
/* Returns the target partition in [0, num_partitions) for a key row. */
typedef int (*fl_partition_fn)(fl_context *ctx, const fl_row *key, int num_partitions);
typedef int (*fl_sink_fn)(fl_context *ctx, const fl_row *in);
/* A process function (ProcessFunction): any number of rows out, side
 * outputs through fl_context_output. */
typedef int (*fl_process_fn)(fl_context *ctx, const fl_row *in, fl_collector *out);
/* Per-subtask life cycle hooks, run in the subtask's thread before the first
 * and after the last record; open may install a user pointer. */
typedef int (*fl_open_fn)(fl_context *ctx);
typedef void (*fl_close_fn)(fl_context *ctx);

/* ---- the context a user function runs in -------------------------------------- */

int fl_context_subtask_index(const fl_context *ctx); /* 0-based */
int fl_context_parallelism(const fl_context *ctx);
int fl_context_max_parallelism(const fl_context *ctx);
int fl_context_attempt(const fl_context *ctx); /* 0 for the first run */
/* "Map (2/4)": the operator name and 1-based subtask, as Flink writes it. */
const char *fl_context_task_name(const fl_context *ctx);
/* A job parameter (see fl_env_param) or NULL; borrowed. */
const char *fl_context_param(const fl_context *ctx, const char *key);
/* The bytes attached with fl_stream_set_arg (NULL, 0 when none); borrowed. */
const void *fl_context_arg(const fl_context *ctx, size_t *len);
/* The subtask's user pointer (NULL until set; the close hook frees it). */
void *fl_context_user(const fl_context *ctx);
void fl_context_set_user(fl_context *ctx, void *user);
/* Timestamp of the record being processed (INT64_MIN when it has none). */
int64_t fl_context_timestamp(const fl_context *ctx);
/* Records why the function fails; returns FL_EUSER to be returned. */
int fl_context_fail(fl_context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Event time and processing time as the function sees them: the watermark
 * that last reached its operator (INT64_MIN before the first), and the job's
 * processing-time clock in milliseconds. */
int64_t fl_context_current_watermark(const fl_context *ctx);
int64_t fl_context_current_processing_time(const fl_context *ctx);
/* Emits row (of the tag's schema) to the side output `tag` of the running
 * operator, with the current record's timestamp. A tag nobody reads (no
 * fl_stream_side_output for it) drops the row, as in Flink. */
int fl_context_output(fl_context *ctx, const char *tag, const fl_row *row);

/* Collector of a flat_map: take the builder, fill a row, emit it. The
 * builder keeps its fields after an emit, so a function emitting rows that
 * differ in a few fields -- WordCount's (word, 1) -- may take the builder
 * once and set only those fields between emits (as Flink's object reuse
 * does with one tuple); setting the same STRING or BYTES field again costs
 * no more than setting it the first time. */
fl_row_builder *fl_collector_builder(fl_collector *out);         /* reset, for the output schema */
int fl_collector_emit(fl_collector *out);                        /* emits the builder's row */
int fl_collector_emit_row(fl_collector *out, const fl_row *row); /* copies row */
/* Emits n rows at once: the builder's row with STRING field `field` set to
 * each (values[k], lens[k]) in turn -- a row per word of a line, say --
 * as n set_string + emit calls would, but laid out in one loop. The builder
 * keeps the last value. 0, or the error of the first row that failed. */
int fl_collector_emit_strings(fl_collector *out, int field, uint32_t n, const char *const *values,
                              const uint32_t *lens);

/* ---- the environment ------------------------------------------------------------ */

/* A new environment with built-in defaults and no configuration file, for
 * programs that link libflinc directly (tests, embedding). `flinc run` makes
 * its own from conf/flink-conf.yaml and -D options. */
fl_env *fl_env_create(void);
void fl_env_destroy(fl_env *env);

/* Sets a configuration key as -D would (Flink's key names, e.g.
 * "parallelism.default", "taskmanager.numberOfTaskSlots",
 * "execution.buffer-timeout"). 0 or FL_ECONFIG with a message. */
int fl_env_configure(fl_env *env, const char *key, const char *value, fl_error *err);
/* The effective value of a configuration key, or NULL; borrowed. */
const char *fl_env_config(const fl_env *env, const char *key);

void fl_env_set_parallelism(fl_env *env, int parallelism);
int fl_env_get_parallelism(const fl_env *env);
void fl_env_set_max_parallelism(fl_env *env, int max_parallelism); /* default 128 */
int fl_env_get_max_parallelism(const fl_env *env);
/* Milliseconds a partly filled network buffer may wait before it is sent:
 * 0 sends after every record, -1 only when full. Default 100. */
void fl_env_set_buffer_timeout(fl_env *env, int64_t millis);
void fl_env_disable_operator_chaining(fl_env *env);

/* Job parameters: `--key value` / `--flag` pairs parsed from the job's
 * arguments (ParameterTool.fromArgs), visible to every function through
 * fl_context_param. flinc run fills them from argv; fl_env_set_param adds. */
const char *fl_env_param(const fl_env *env, const char *key);
void fl_env_set_param(fl_env *env, const char *key, const char *value);
int fl_env_parse_params(fl_env *env, int argc, char **argv, fl_error *err);

/* The first error recorded while building, or NULL. */
const fl_error *fl_env_error(const fl_env *env);

/* Runs the job built so far on the embedded mini-cluster and waits until it
 * FINISHED (bounded inputs), FAILED, or was CANCELED. Returns 0 only when it
 * finished; fills err with the failing subtask and cause otherwise. Under
 * `flinc info`, prints the plan instead of running it. */
int fl_env_execute(fl_env *env, const char *job_name, fl_error *err);

/* ---- processing time ------------------------------------------------------------------ */

/* A manual processing-time clock for tests: processing time (timers,
 * processing-time windows, idleness) then moves only when the test moves it.
 * Only for the embedded cluster; the environment borrows the clock. */
typedef struct fl_manual_clock fl_manual_clock;
fl_manual_clock *fl_manual_clock_create(int64_t start_ms);
void fl_manual_clock_destroy(fl_manual_clock *c);
int64_t fl_manual_clock_now(fl_manual_clock *c);
/* Moves the clock forward to ms (never backwards) and wakes waiting tasks. */
void fl_manual_clock_set(fl_manual_clock *c, int64_t ms);
void fl_manual_clock_advance(fl_manual_clock *c, int64_t ms);
void fl_env_set_clock(fl_env *env, fl_manual_clock *c);

/* ---- savepoints -------------------------------------------------------------------------- */

/* Takes a savepoint of every job running on the embedded cluster of this
 * process (call it from another thread than the one in fl_env_execute), into
 * `dir` (NULL: execution.checkpointing.savepoint-dir); with stop, it is a
 * stop-with-savepoint as fl_stop_with_savepoint's (draining when
 * flinc.savepoint-drain is true) that this call does not wait for. Returns
 * how many jobs were asked. */
int fl_trigger_savepoint(const char *dir, bool stop);
/* Stops every job running on the embedded cluster of this process with a
 * savepoint into `dir` (NULL: execution.checkpointing.savepoint-dir), as
 * Flink's stop-with-savepoint: once a source has taken the savepoint's
 * barrier it emits nothing more, so no row after the savepoint reaches any
 * sink; with drain, each source first emits the maximum watermark, so that
 * every event-time window and timer fires before the savepoint (for a job not
 * meant to resume). When the savepoint completes, the job ends FINISHED and
 * fl_env_execute returns 0. Waits for the outcome; call it from another thread
 * than the one in fl_env_execute. Returns 0 and the savepoint's directory in
 * `path` (`size` bytes; path may be NULL); or an error code and err when no
 * job runs, no savepoint directory is set or the savepoint failed: then the
 * job keeps running as before. */
int fl_stop_with_savepoint(const char *dir, bool drain, char *path, size_t size, fl_error *err);
/* The directory of the savepoint the last job that ended in this process
 * completed, or "" (a copy into buf of size bytes; returns buf). */
char *fl_last_savepoint(char *buf, size_t size);

/* ---- sources ---------------------------------------------------------------------- */

/* Rows copied into the job (non-parallel, bounded, Flink's fromCollection). */
fl_stream *fl_env_from_rows(fl_env *env, const fl_schema *schema, const fl_row *const *rows,
                            size_t n);
/* from..to inclusive as (value BIGINT), split evenly over the subtasks. */
fl_stream *fl_env_from_sequence(fl_env *env, int64_t from, int64_t to);
/* Random rows of `schema` (Flink's datagen connector): reproducible for a seed;
 * rows = 0 means unbounded; rows_per_second = 0 means unthrottled. More
 * options (fields.NAME.min/max/length/kind) through fl_env_add_source. */
fl_stream *fl_env_datagen(fl_env *env, const fl_schema *schema, uint64_t seed, int64_t rows,
                          int64_t rows_per_second);
/* Lines of a text file as (line STRING), bounded; parallel readers split the
 * file at line boundaries. */
fl_stream *fl_env_read_text_file(fl_env *env, const char *path);
/* Unbounded stream of (line STRING) read from a TCP server, split at
 * `delimiter` (NULL = "\n"); non-parallel, like Flink's socketTextStream. */
fl_stream *fl_env_socket_text_stream(fl_env *env, const char *host, int port,
                                     const char *delimiter);
/* Any registered source connector by name, with "key=value" options ending in
 * NULL. schema may be NULL when the connector knows its own. */
fl_stream *fl_env_add_source(fl_env *env, const char *connector, const fl_schema *schema,
                             const char *const *options);

/* ---- transformations --------------------------------------------------------------- */

/* out_schema NULL means the input's schema. */
fl_stream *fl_stream_map(fl_stream *s, fl_map_fn fn, const fl_schema *out_schema);
fl_stream *fl_stream_flat_map(fl_stream *s, fl_flat_map_fn fn, const fl_schema *out_schema);
fl_stream *fl_stream_filter(fl_stream *s, fl_filter_fn fn);
/* A process function on a non-keyed stream. */
fl_stream *fl_stream_process(fl_stream *s, fl_process_fn fn, const fl_schema *out_schema);
/* The side output `tag` of operator s (declared with its schema). */
fl_stream *fl_stream_side_output(fl_stream *s, const char *tag, const fl_schema *schema);

/* Union of streams with equal schemas (schema mismatch is an error). */
fl_stream *fl_stream_union(fl_stream *s, fl_stream *other);

/* Keys: comma-separated field names ("word", "a,b"): the key is the row of
 * those fields. Or a selector function building a row of key_schema. */
fl_keyed_stream *fl_stream_key_by(fl_stream *s, const char *fields);
fl_keyed_stream *fl_stream_key_by_fn(fl_stream *s, fl_key_selector_fn fn,
                                     const fl_schema *key_schema);

/* Rolling aggregations on a keyed stream; each input row emits the key's new
 * result. sum/min/max keep the other fields of the key's first row and
 * replace `field`; min_by/max_by emit the whole row holding the extreme value
 * (the first such row on ties). Numeric fields only (INT, BIGINT, DOUBLE,
 * TIMESTAMP for min/max). */
fl_stream *fl_keyed_reduce(fl_keyed_stream *k, fl_reduce_fn fn);
fl_stream *fl_keyed_sum(fl_keyed_stream *k, const char *field);
fl_stream *fl_keyed_min(fl_keyed_stream *k, const char *field);
fl_stream *fl_keyed_max(fl_keyed_stream *k, const char *field);
fl_stream *fl_keyed_min_by(fl_keyed_stream *k, const char *field);
fl_stream *fl_keyed_max_by(fl_keyed_stream *k, const char *field);
/* The keyed stream as a plain stream (hash-partitioned by its key). */
fl_stream *fl_keyed_stream_as_stream(fl_keyed_stream *k);

/* Partitioning of the edge to the next operator. */
fl_stream *fl_stream_forward(fl_stream *s);   /* 1:1, equal parallelism required */
fl_stream *fl_stream_rebalance(fl_stream *s); /* round robin over all consumers */
fl_stream *fl_stream_rescale(fl_stream *s);   /* round robin over a local group */
fl_stream *fl_stream_shuffle(fl_stream *s);   /* uniformly random */
fl_stream *fl_stream_broadcast(fl_stream *s); /* every record to every consumer */
fl_stream *fl_stream_global(fl_stream *s);    /* everything to consumer 0 */
/* fn maps the key (fields as in key_by) to a partition. */
fl_stream *fl_stream_partition_custom(fl_stream *s, fl_partition_fn fn, const char *key_fields);

/* ---- event time -------------------------------------------------------------------------- */

/* Returns a row's event timestamp in milliseconds; previous is the timestamp
 * the row already carries (FL_NO_TIMESTAMP when none). */
typedef int64_t (*fl_timestamp_fn)(fl_context *ctx, const fl_row *in, int64_t previous);
/* The same over n rows at once: timestamps[k] holds rows[k]'s previous
 * timestamp on entry and its event timestamp on return. 0, or FL_EUSER
 * after fl_context_fail. (A flinc addition: one call per batch instead of
 * one per row; fl_context_timestamp is not meaningful in it.) */
typedef int (*fl_timestamp_batch_fn)(fl_context *ctx, uint32_t n, const fl_row *const *rows,
                                     int64_t *timestamps);

/* Flink's WatermarkStrategy: timestamps from a field or an assigner, and
 * watermarks that trail the highest timestamp seen. */
typedef struct fl_watermark_strategy {
    /* Bounded out-of-orderness: the watermark is max timestamp - this - 1.
     * 0 is forMonotonousTimestamps. */
    int64_t max_out_of_orderness_ms;
    /* withIdleness: after this long without rows the input is idle and no
     * longer holds back downstream watermarks. 0: never idle. */
    int64_t idle_timeout_ms;
    /* The timestamp: a TIMESTAMP or BIGINT (milliseconds) field, or ... */
    const char *timestamp_field;
    /* ... an assigner function (when timestamp_field is NULL), or ... */
    fl_timestamp_fn timestamp_fn;
    /* ... one over batches of rows (when both above are NULL). */
    fl_timestamp_batch_fn timestamp_batch_fn;
} fl_watermark_strategy;

/* Assigns timestamps and emits watermarks, periodically every
 * pipeline.auto-watermark-interval (200 ms; 0 = after every row that moves
 * the watermark). Keeps the input's schema and partitioning (chains). */
fl_stream *fl_stream_assign_timestamps_and_watermarks(fl_stream *s,
                                                      const fl_watermark_strategy *strategy);

/* ---- operator properties (return s) ------------------------------------------------ */

fl_stream *fl_stream_set_parallelism(fl_stream *s, int parallelism);
fl_stream *fl_stream_set_max_parallelism(fl_stream *s, int max_parallelism);
fl_stream *fl_stream_name(fl_stream *s, const char *name);
fl_stream *fl_stream_uid(fl_stream *s, const char *uid);
fl_stream *fl_stream_disable_chaining(fl_stream *s);
fl_stream *fl_stream_start_new_chain(fl_stream *s);
/* open/close hooks of the operator's user function (either may be NULL). */
fl_stream *fl_stream_set_hooks(fl_stream *s, fl_open_fn open, fl_close_fn close);
/* Checkpoint hooks (Flink's CheckpointedFunction.snapshotState and
 * CheckpointListener.notifyCheckpointComplete): snapshot runs in the
 * subtask's thread when checkpoint `id` reaches the operator (after every row
 * before the barrier, before any row after it); complete runs once checkpoint
 * `id` completed for the whole job. A subtask whose input ended runs snapshot
 * once more with FL_CHECKPOINT_ID_FINAL (connector.h) for the state it leaves
 * to the checkpoints taken after it finished. Either may be NULL. */
typedef int (*fl_snapshot_fn)(fl_context *ctx, int64_t checkpoint_id);
typedef void (*fl_checkpoint_complete_fn)(fl_context *ctx, int64_t checkpoint_id);
fl_stream *fl_stream_set_checkpoint_hooks(fl_stream *s, fl_snapshot_fn snapshot,
                                          fl_checkpoint_complete_fn complete);
/* Bytes copied into the job and handed to every subtask's functions. */
fl_stream *fl_stream_set_arg(fl_stream *s, const void *arg, size_t len);
const fl_schema *fl_stream_schema(const fl_stream *s);

/* ---- sinks (return the sink's handle, for name/parallelism) --------------------------- */

/* Rows to stdout, one per line, "(a,b)"; prefixed "N> " (1-based subtask)
 * when the sink's parallelism is above 1, as Flink's print(). */
fl_stream *fl_stream_print(fl_stream *s);
/* Text files, one per subtask, in directory `dir` (created), named "1", "2",
 * ... as Flink's writeAsText with parallelism > 1; each line as print() shows
 * a row without the parentheses. */
fl_stream *fl_stream_write_text(fl_stream *s, const char *dir);
/* CSV files (RFC 4180 quoting), one per subtask, in directory `dir`. */
fl_stream *fl_stream_write_csv(fl_stream *s, const char *dir);
/* A user function called for every row. */
fl_stream *fl_stream_sink(fl_stream *s, fl_sink_fn fn);
/* Counts and drops every row (a blackhole, for benchmarks). */
fl_stream *fl_stream_discard(fl_stream *s);
/* Any registered sink connector by name, with "key=value" options ending in NULL. */
fl_stream *fl_stream_add_sink(fl_stream *s, const char *connector, const char *const *options);

/* Keeps every row in memory for the program that runs the job (tests); only
 * on the embedded cluster. Rows of all subtasks, each subtask's in order. */
fl_collect *fl_stream_collect(fl_stream *s);
size_t fl_collect_count(const fl_collect *c);
const fl_row *fl_collect_row(const fl_collect *c, size_t i); /* borrowed */
/* Number of rows the discard sink of stream s counted in the last execution. */
int64_t fl_stream_discarded(const fl_stream *s);

#ifdef __cplusplus
}
#endif
#endif
