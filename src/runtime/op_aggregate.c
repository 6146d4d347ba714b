/*
 * op_aggregate.c - rolling aggregations on a keyed stream: reduce with a user
 * function, and the built-in sum/min/max/min_by/max_by.
 *
 * The accumulated row of every key is a VALUE state of the operator's keyed
 * state backend (keyed.c), as Flink's StreamGroupedReduceOperator keeps it,
 * so checkpoints and savepoints take it by key group and a restore, at any
 * parallelism, continues every key's aggregation where it stopped. In
 * STREAMING mode every input row emits its key's new accumulated row; in
 * BATCH mode (bounded inputs) nothing is emitted until the end of input, and
 * then one final row per key, as Flink's DataStream API does in BATCH
 * execution.
 *
 * sum/min/max keep the other fields of the key's first row; min_by/max_by
 * keep the whole row holding the extreme value (the earliest on ties).
 */
#include <stdlib.h>
#include <string.h>

#include "field_agg.h"
#include "key.h"
#include "keyed_state.h"
#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"

typedef enum agg_kind { AGG_REDUCE, AGG_SUM, AGG_MIN, AGG_MAX, AGG_MIN_BY, AGG_MAX_BY } agg_kind;

typedef struct agg_state {
    fl_keyed_op keyed;  /* the key of the row, and the backend the accumulators live in */
    fl_kstate *acc;     /* VALUE of the input's schema: the key's accumulated row */
    fl_batch_keys keys; /* keys of fields: those of the batch being processed */
    agg_kind kind;
    /* The field and its type (every aggregation but reduce); for sum, min
     * and max also how they fold it. */
    fl_field_agg agg;
    fl_row_builder *builder;
    uint8_t *scratch; /* sum/min/max of a fixed-width field: the new accumulated row */
    uint32_t scratch_cap;
    bool batch_mode;
} agg_state;

static int parse_kind(const char *s, agg_kind *out) {
    static const struct {
        const char *name;
        agg_kind kind;
    } kinds[] = {
        {"sum", AGG_SUM},       {"min", AGG_MIN},       {"max", AGG_MAX},
        {"min_by", AGG_MIN_BY}, {"max_by", AGG_MAX_BY},
    };
    for (size_t i = 0; s && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(s, kinds[i].name) == 0) return *out = kinds[i].kind, 0;
    return FL_EINVAL;
}

static int agg_open_common(fl_operator *op, agg_kind kind, fl_error *err) {
    agg_state *st = fl_xcalloc(1, sizeof *st);
    op->impl = st;
    st->kind = kind;
    if (kind != AGG_REDUCE) {
        const char *aggregation = fl_kv_get(op->node->options, "aggregation");
        if (parse_kind(aggregation, &st->kind) < 0)
            return fl_error_set(err, FL_EINVAL, "aggregate \"%s\": unknown aggregation \"%s\"",
                                op->node->name, aggregation);
        int field = (int)fl__op_option_int(op, "field", -1);
        if (field < 0 || field >= fl_schema_num_fields(op->input_schema))
            return fl_error_set(err, FL_EINVAL, "aggregate \"%s\": bad field index",
                                op->node->name);
        fl_field_agg_kind fold = FL_FIELD_SUM; /* min_by, max_by: not used */
        fl__field_agg_parse(aggregation, &fold);
        st->agg = fl__field_agg_of(fold, op->input_schema, field);
    }
    int rc = fl__keyed_open(op, &st->keyed, err); /* with the restored accumulators */
    if (rc < 0) return rc;
    fl_state_desc d = {.name = "__aggregate.accumulator",
                       .kind = FL_STATE_VALUE,
                       .value_schema = op->input_schema};
    st->acc = fl_keyed_backend_state(st->keyed.backend, &d, err);
    if (!st->acc) return err->code;
    st->builder = fl_row_builder_create(op->input_schema);
    st->batch_mode = op->task->settings->runtime_mode == FL_RUNTIME_BATCH;
    return 0;
}

static int reduce_open(fl_operator *op, fl_error *err) {
    return agg_open_common(op, AGG_REDUCE, err);
}
static int aggregate_open(fl_operator *op, fl_error *err) {
    return agg_open_common(op, AGG_SUM, err);
}

/* Whether in's value of the field replaces acc's: a null never wins, a value
 * beats a null, ties keep the earlier row. */
static bool wins(const agg_state *st, const fl_row *in, const fl_row *acc, bool want_min) {
    uint32_t f = st->agg.field;
    if (fl__row_null(in, f)) return false;
    if (fl__row_null(acc, f)) return true;
    int c = fl__field_agg_compare(fl__row_slot_u64(in, f), fl__row_slot_u64(acc, f), st->agg.type);
    return want_min ? c < 0 : c > 0;
}

/* acc with its field folded with in's (field_agg.h), in the scratch buffer,
 * or acc itself when that leaves it unchanged: the bytes a builder makes of
 * copy_row(acc) and a set of the field, for a fixed-width field, without
 * laying the row out field by field. */
static const fl_row *fold_fixed(agg_state *st, const fl_row *acc, const fl_row *in) {
    uint64_t value;
    if (!fl__field_agg_fold(&st->agg, acc, in, &value)) return acc;
    uint32_t len = fl__row_len(acc);
    if (len > st->scratch_cap) {
        free(st->scratch);
        st->scratch_cap = len * 2;
        st->scratch = fl_xmalloc(st->scratch_cap);
    }
    return fl__field_agg_apply(&st->agg, st->scratch, acc, value);
}

/* Builds the new accumulated row from acc and in; returns it (in the
 * builder or the scratch buffer, or acc/in themselves when unchanged). */
static const fl_row *combine(fl_operator *op, agg_state *st, const fl_row *acc, const fl_row *in,
                             fl_error *err) {
    fl_row_builder *b = st->builder;
    int f = (int)st->agg.field;
    switch (st->kind) {
    case AGG_REDUCE:
        fl_row_builder_reset(b);
        return fl__user_row(op, b, ((fl_reduce_fn)op->fn)(&op->ctx, acc, in, b), "reduce function",
                            err);
    case AGG_SUM:
        if (fl__field_agg_fixed_width(st->agg.type)) return fold_fixed(st, acc, in);
        fl_row_builder_copy_row(b, acc);
        if (fl_row_is_null(in, f)) return acc;
        if (fl_row_is_null(acc, f)) {
            fl_row_builder_copy_field(b, f, in, f);
        } else if (st->agg.type == FL_INT) {
            uint32_t s = (uint32_t)fl_row_get_int(acc, f) + (uint32_t)fl_row_get_int(in, f);
            fl_row_builder_set_int(b, f, (int32_t)s);
        } else if (st->agg.type == FL_DOUBLE) {
            fl_row_builder_set_double(b, f, fl_row_get_double(acc, f) + fl_row_get_double(in, f));
        } else {
            uint64_t s = (uint64_t)fl_row_get_bigint(acc, f) + (uint64_t)fl_row_get_bigint(in, f);
            fl_row_builder_set_bigint(b, f, (int64_t)s);
        }
        return fl_row_builder_finish(b);
    case AGG_MIN:
    case AGG_MAX:
        if (fl__field_agg_fixed_width(st->agg.type)) return fold_fixed(st, acc, in);
        if (!wins(st, in, acc, st->kind == AGG_MIN)) return acc;
        fl_row_builder_copy_row(b, acc);
        fl_row_builder_copy_field(b, f, in, f);
        return fl_row_builder_finish(b);
    case AGG_MIN_BY:
    case AGG_MAX_BY:
        return wins(st, in, acc, st->kind == AGG_MIN_BY) ? in : acc;
    }
    return NULL;
}

static int agg_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    agg_state *st = op->impl;
    const fl_batch_keys *keys = NULL;
    if (st->keyed.key[0].spec->n_fields > 0) {
        fl__batch_keys_project(&st->keys, &st->keyed.key[0], in);
        keys = &st->keys;
    }
    for (uint32_t i = 0; i < in->n; i++) {
        const fl_row *row = in->rows[i];
        op->ctx.timestamp = in->ts[i];
        int rc = fl__keyed_set_key_at(op, 0, row, keys, i, err);
        if (rc < 0) return rc;
        const fl_row *acc = fl_kstate_value_get(st->acc);
        const fl_row *next = acc ? combine(op, st, acc, row, err) : row;
        if (!next) return err->code ? err->code : FL_EUSER;
        /* next is the input, the builder's or the scratch row, or acc
         * itself when unchanged: never moved by the update. */
        if (next != acc && (rc = fl_kstate_value_update(st->acc, next)) < 0)
            return fl_error_set(err, rc, "\"%s\": could not keep the accumulated row: %s",
                                op->node->name, fl_strerror(rc));
        if (!st->batch_mode && (rc = fl__output_emit(&op->out, next, in->ts[i])) < 0) return rc;
    }
    return 0;
}

typedef struct emit_all_ctx {
    fl_operator *op;
    fl_kstate *acc;
    int rc;
} emit_all_ctx;

/* The current key's accumulated row (for_each_key set the key). */
static int emit_one(void *arg, const void *key, uint32_t klen) {
    emit_all_ctx *c = arg;
    c->rc = fl__output_emit(&c->op->out, fl_kstate_value_get(c->acc), FL_NO_TIMESTAMP);
    return c->rc < 0 ? 1 : 0;
}

static int agg_end_input(fl_operator *op, fl_error *err) {
    agg_state *st = op->impl;
    if (!st->batch_mode) return 0;
    emit_all_ctx c = {.op = op, .acc = st->acc};
    fl_kstate_for_each_key(st->acc, NULL, 0, emit_one, &c);
    return c.rc;
}

static void agg_close(fl_operator *op) {
    agg_state *st = op->impl;
    if (!st) return;
    fl__keyed_close(&st->keyed);
    fl__batch_keys_fini(&st->keys);
    if (st->builder) fl_row_builder_destroy(st->builder);
    free(st->scratch);
    free(st);
    op->impl = NULL;
    op->keyed = NULL;
}

const fl_operator_ops fl__op_reduce = {
    .kind = "reduce",
    .open = reduce_open,
    .process = agg_process,
    .end_input = agg_end_input,
    .close = agg_close,
};

const fl_operator_ops fl__op_aggregate = {
    .kind = "aggregate",
    .open = aggregate_open,
    .process = agg_process,
    .end_input = agg_end_input,
    .close = agg_close,
};
