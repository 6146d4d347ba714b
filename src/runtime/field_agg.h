/*
 * field_agg.h - sum, min and max of one fixed-width field (INT, BIGINT,
 * DOUBLE, TIMESTAMP) of a row, as Flink's field aggregations compute them:
 * the accumulated row keeps the other fields of the first row; a null never
 * wins and a value beats a null; min and max keep the earlier row on ties;
 * an INT sum wraps like Java's int, a DOUBLE sum that is NaN is the one NaN
 * row builders write. Shared by the rolling aggregations of a keyed stream
 * (op_aggregate.c), the window operator's sum/min/max (window_fn.c) and the
 * local window pre-aggregation (op_window_local.c), so the three fold alike.
 */
#ifndef FL_RUNTIME_FIELD_AGG_H
#define FL_RUNTIME_FIELD_AGG_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "flinc/row.h"
#include "row_int.h"

typedef enum fl_field_agg_kind { FL_FIELD_SUM, FL_FIELD_MIN, FL_FIELD_MAX } fl_field_agg_kind;

/* The field's place is worked out once from the schema (fl__field_agg_of):
 * folding a row reads its null bit and slot at fixed offsets, as every row
 * folded has that schema. */
typedef struct fl_field_agg {
    fl_field_agg_kind kind;
    uint32_t field;
    fl_type type;
    uint32_t slot;      /* byte offset of the field's slot in a row */
    uint32_t null_byte; /* the byte of its null bit, and the bit */
    uint8_t null_bit;
} fl_field_agg;

static inline fl_field_agg fl__field_agg_of(fl_field_agg_kind kind, const fl_schema *s,
                                            int field) {
    uint32_t f = (uint32_t)field;
    return (fl_field_agg){
        .kind = kind,
        .field = f,
        .type = fl_schema_field_type(s, field),
        .slot = FL_ROW_HEADER + fl__row_bitmap_bytes((uint32_t)fl_schema_num_fields(s)) + 8u * f,
        .null_byte = FL_ROW_HEADER + f / 8u,
        .null_bit = (uint8_t)(1u << (f % 8u)),
    };
}

static inline bool fl__field_agg_null(const fl_field_agg *a, const void *row) {
    return ((const uint8_t *)row)[a->null_byte] & a->null_bit;
}

static inline uint64_t fl__field_agg_value(const fl_field_agg *a, const void *row) {
    uint64_t v;
    memcpy(&v, (const uint8_t *)row + a->slot, 8);
    return v;
}

/* The kind named "sum", "min" or "max" (the rolling aggregations and the
 * window functions use these names alike); false for any other name. */
static inline bool fl__field_agg_parse(const char *name, fl_field_agg_kind *kind) {
    static const char *const names[] = {
        [FL_FIELD_SUM] = "sum", [FL_FIELD_MIN] = "min", [FL_FIELD_MAX] = "max"};
    for (int k = FL_FIELD_SUM; name && k <= FL_FIELD_MAX; k++)
        if (strcmp(name, names[k]) == 0) return *kind = (fl_field_agg_kind)k, true;
    return false;
}

static inline bool fl__field_agg_fixed_width(fl_type t) { return t != FL_STRING && t != FL_BYTES; }

static inline double fl__field_agg_double(uint64_t slot) {
    double d;
    memcpy(&d, &slot, 8);
    return d;
}

/* -1, 0, 1 comparing two non-null slot values of type t. */
static inline int fl__field_agg_compare(uint64_t x, uint64_t y, fl_type t) {
    switch (t) {
    case FL_INT: {
        int32_t p = (int32_t)(uint32_t)x, q = (int32_t)(uint32_t)y;
        return (p > q) - (p < q);
    }
    case FL_DOUBLE: {
        double p = fl__field_agg_double(x), q = fl__field_agg_double(y);
        return (p > q) - (p < q);
    }
    default: {
        int64_t p = (int64_t)x, q = (int64_t)y;
        return (p > q) - (p < q);
    }
    }
}

/* The slot value the field of acc takes once `in` is folded in; false when
 * acc stays as it is. */
static inline bool fl__field_agg_fold(const fl_field_agg *a, const fl_row *acc, const fl_row *in,
                                      uint64_t *value) {
    if (fl__field_agg_null(a, in)) return false;
    uint64_t y = fl__field_agg_value(a, in);
    if (fl__field_agg_null(a, acc)) {
        *value = y;
        return true;
    }
    uint64_t x = fl__field_agg_value(a, acc);
    if (a->kind != FL_FIELD_SUM) {
        int c = fl__field_agg_compare(y, x, a->type);
        if (a->kind == FL_FIELD_MIN ? c >= 0 : c <= 0) return false;
        *value = y;
        return true;
    }
    switch (a->type) {
    case FL_INT:
        *value = (uint32_t)((uint32_t)x + (uint32_t)y);
        break;
    case FL_DOUBLE: {
        double d = fl__field_agg_double(x) + fl__field_agg_double(y);
        if (isnan(d)) d = NAN;
        memcpy(value, &d, 8);
        break;
    }
    default:
        *value = x + y;
    }
    return true;
}

/* Writes value into the field's slot of row (a row being built, same
 * schema) and clears the field's null bit. */
static inline void fl__field_agg_set(const fl_field_agg *a, uint8_t *row, uint64_t value) {
    memcpy(row + a->slot, &value, 8);
    row[a->null_byte] &= (uint8_t)~a->null_bit;
}

/* acc with a's field set to value (from fl__field_agg_fold), written at dst,
 * which has room for acc's bytes, or is acc itself (updated in place). */
static inline const fl_row *fl__field_agg_apply(const fl_field_agg *a, uint8_t *dst,
                                                const fl_row *acc, uint64_t value) {
    if ((const uint8_t *)acc != dst) fl__copy_words(dst, acc, fl__row_len(acc));
    fl__field_agg_set(a, dst, value);
    return (const fl_row *)dst;
}

#endif
