/*
 * op_interval_join.c - the interval join of two keyed streams in event time
 * (Flink's IntervalJoinOperator): a left row at time t and a right row of the
 * same key at time t' join when t + lower <= t' <= t + upper (options "lower"
 * and "upper", inclusive: the API turned exclusive bounds into inclusive
 * ones). Each pair goes through the user's join function; the result carries
 * the larger of the two timestamps.
 *
 * Both sides are buffered in keyed state: per key and side, a list state
 * whose namespace is the rows' timestamp (a bucket per timestamp) and a map
 * state of the timestamps that have a bucket. A row first goes into its
 * side's bucket, then meets every buffered row of the other side whose
 * bucket is in range. It also registers an event-time timer (deduplicated
 * per key and bucket) that drops its bucket once the watermark makes it
 * unmatchable: a left bucket t when the watermark passes t + upper, a right
 * bucket t when it passes t - lower. A bounded job ends with the maximum
 * watermark, so its state returns to nothing.
 *
 * A row whose timestamp is below the operator's watermark (the minimum of
 * both inputs) is late and dropped, as Flink does; rows without a timestamp
 * fail the job, since the join needs event time.
 */
#include <stdlib.h>
#include <string.h>

#include "keyed_state.h"
#include "log.h"
#include "mem.h"
#include "runtime_int.h"

typedef struct ij_side {
    fl_kstate *rows;  /* list per (key, timestamp) */
    fl_kstate *index; /* map per key: timestamp -> timestamp */
    int64_t late;     /* rows dropped as late */
} ij_side;

typedef struct ij_state {
    fl_keyed_op keyed;
    fl_join_fn fn;
    int64_t lower, upper;
    ij_side side[2]; /* 0 left, 1 right */
    fl_schema *ts_schema;
    fl_row_builder *ts_row; /* map keys and values: (ts BIGINT) */
    fl_row_builder *out;
} ij_state;

/* Timer namespaces: the side's letter, then the bucket's timestamp. */
enum { NS_LEN = 9 };

static const char *side_name(int input) { return input == 0 ? "left" : "right"; }

static const fl_row *ts_row(ij_state *st, int64_t ts) {
    fl_row_builder_reset(st->ts_row);
    fl_row_builder_set_bigint(st->ts_row, 0, ts);
    return fl_row_builder_finish(st->ts_row);
}

static void set_bucket(fl_kstate *rows, int64_t ts) {
    fl_kstate_set_namespace(rows, &ts, sizeof ts);
}

/* ---- cleanup -----------------------------------------------------------------------------------
 */

static int ij_on_timer(fl_operator *op, int domain, const void *ns, uint32_t ns_len, int64_t time,
                       fl_error *err) {
    ij_state *st = op->impl;
    if (domain != FL_EVENT_TIME || ns_len != NS_LEN) return 0;
    const uint8_t *p = ns;
    int64_t ts;
    memcpy(&ts, p + 1, sizeof ts);
    ij_side *s = &st->side[p[0] == 'L' ? 0 : 1];
    set_bucket(s->rows, ts);
    fl_kstate_clear(s->rows);
    fl_kstate_map_remove(s->index, ts_row(st, ts));
    return 0;
}

/* ---- joining ----------------------------------------------------------------------------------
 */

static int emit_pair(fl_operator *op, ij_state *st, const fl_row *left, int64_t left_ts,
                     const fl_row *right, int64_t right_ts, fl_error *err) {
    int64_t ts = left_ts > right_ts ? left_ts : right_ts;
    op->ctx.timestamp = ts;
    fl_row_builder_reset(st->out);
    const fl_row *row =
        fl__user_row(op, st->out, st->fn(&op->ctx, left, right, st->out), "join function", err);
    return row ? fl__output_emit(&op->out, row, ts) : FL_EUSER;
}

/* Joins row (of side `input`, at ts) with the other side's buffered rows of
 * the current key in range. */
static int join_row(fl_operator *op, ij_state *st, int input, const fl_row *row, int64_t ts,
                    fl_error *err) {
    ij_side *other = &st->side[1 - input];
    /* Left at t meets right in [t + lower, t + upper]; right at t meets
     * left in [t - upper, t - lower]. */
    int64_t lo = input == 0 ? fl__sat_add(ts, st->lower) : fl__sat_add(ts, -st->upper);
    int64_t hi = input == 0 ? fl__sat_add(ts, st->upper) : fl__sat_add(ts, -st->lower);
    const fl_row *const *keys, *const *values;
    size_t n = fl_kstate_map_entries(other->index, &keys, &values);
    for (size_t i = 0; i < n; i++) {
        int64_t bucket = fl_row_get_bigint(keys[i], 0);
        if (bucket < lo || bucket > hi) continue;
        set_bucket(other->rows, bucket);
        size_t m;
        const fl_row *const *rows = fl_kstate_list_get(other->rows, &m);
        for (size_t j = 0; j < m; j++) {
            int rc = input == 0 ? emit_pair(op, st, row, ts, rows[j], bucket, err)
                                : emit_pair(op, st, rows[j], bucket, row, ts, err);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

static int buffer_row(fl_operator *op, ij_state *st, int input, const fl_row *row, int64_t ts,
                      fl_error *err) {
    ij_side *s = &st->side[input];
    set_bucket(s->rows, ts);
    int rc = fl_kstate_list_add(s->rows, row);
    if (rc == 0) {
        const fl_row *k = ts_row(st, ts);
        if (!fl_kstate_map_contains(s->index, k)) rc = fl_kstate_map_put(s->index, k, k);
    }
    if (rc < 0)
        return fl_error_set(err, rc, "\"%s\" could not buffer a %s row: %s", op->node->name,
                            side_name(input), fl_strerror(rc));
    /* The bucket is unmatchable once the watermark passes its last partner's
     * time: left t + upper, right t - lower. */
    int64_t last = input == 0 ? fl__sat_add(ts, st->upper) : fl__sat_add(ts, -st->lower);
    uint8_t ns[NS_LEN];
    ns[0] = input == 0 ? 'L' : 'R';
    memcpy(ns + 1, &ts, sizeof ts);
    fl_timer_register(st->keyed.backend, FL_EVENT_TIME, fl__sat_add(last, 1), ns, NS_LEN);
    return 0;
}

static int ij_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    ij_state *st = op->impl;
    input = input == 1 ? 1 : 0;
    for (uint32_t i = 0; i < in->n; i++) {
        int64_t ts = in->ts[i];
        if (ts == FL_NO_TIMESTAMP)
            return fl_error_set(err, FL_EINVAL,
                                "\"%s\" joins in event time, but a row of its %s input has no "
                                "timestamp; assign timestamps and watermarks "
                                "(assign_timestamps_and_watermarks) before key_by",
                                op->node->name, side_name(input));
        if (ts < op->watermark) {
            st->side[input].late++;
            continue;
        }
        int rc = fl__keyed_set_key(op, input, in->rows[i], err);
        if (rc == 0) rc = buffer_row(op, st, input, in->rows[i], ts, err);
        if (rc == 0) rc = join_row(op, st, input, in->rows[i], ts, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static const fl_schema *input_schema(const fl_operator *op, int input) {
    const fl_stream_graph *g = op->task->eg->job->stream;
    for (int i = 0; i < op->node->n_inputs; i++)
        if (op->node->inputs[i].input == input)
            return fl_stream_edge_schema(g, &op->node->inputs[i]);
    return NULL;
}

static int ij_open(fl_operator *op, fl_error *err) {
    ij_state *st = fl_xcalloc(1, sizeof *st);
    op->impl = st;
    st->fn = (fl_join_fn)op->fn;
    int rc = fl__op_option_int_required(op, "lower", &st->lower, err);
    if (rc == 0) rc = fl__op_option_int_required(op, "upper", &st->upper, err);
    if (rc < 0) return rc;
    if (!st->fn) return fl_error_set(err, FL_EINVAL, "\"%s\" has no join function", op->node->name);
    st->ts_schema = fl_schema_of(1, "ts", FL_BIGINT);
    st->ts_row = fl_row_builder_create(st->ts_schema);
    st->out = fl_row_builder_create(op->node->schema);
    st->keyed.on_timer = ij_on_timer;
    rc = fl__keyed_open(op, &st->keyed, err);
    if (rc < 0) return rc;
    static const char *const names[2][2] = {{"left-rows", "left-times"},
                                            {"right-rows", "right-times"}};
    for (int s = 0; s < 2; s++) {
        const fl_schema *schema = input_schema(op, s);
        if (!schema)
            return fl_error_set(err, FL_EINVAL, "\"%s\" has no %s input", op->node->name,
                                side_name(s));
        fl_state_desc rows = {.name = names[s][0], .kind = FL_STATE_LIST, .value_schema = schema};
        fl_state_desc index = {.name = names[s][1],
                               .kind = FL_STATE_MAP,
                               .value_schema = st->ts_schema,
                               .map_key_schema = st->ts_schema};
        st->side[s].rows = fl_keyed_backend_state(st->keyed.backend, &rows, err);
        st->side[s].index =
            st->side[s].rows ? fl_keyed_backend_state(st->keyed.backend, &index, err) : NULL;
        if (!st->side[s].index) return err->code ? err->code : FL_ESTATE;
    }
    return 0;
}

static void ij_close(fl_operator *op) {
    ij_state *st = op->impl;
    if (!st) return;
    if (st->side[0].late || st->side[1].late)
        fl_debug("interval-join", "%s (%d/%d) dropped %lld left and %lld right late rows",
                 op->node->name, op->task->subtask + 1, op->task->parallelism,
                 (long long)st->side[0].late, (long long)st->side[1].late);
    if (st->keyed.backend) fl__keyed_close(&st->keyed);
    if (st->ts_row) fl_row_builder_destroy(st->ts_row);
    if (st->out) fl_row_builder_destroy(st->out);
    fl_schema_unref(st->ts_schema);
    free(st);
    op->impl = NULL;
    op->keyed = NULL;
}

const fl_operator_ops fl__op_interval_join = {
    .kind = "interval_join",
    .open = ij_open,
    .process = ij_process,
    .watermark = fl__keyed_watermark,
    .close = ij_close,
};
