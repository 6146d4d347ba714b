/*
 * row_builder.c - writing canonical binary rows.
 *
 * Setters record values per field (fixed-width values in their 8-byte slot
 * image, variable-length values copied into a staging area); finish() lays
 * the row out in one pass: header, null bitmap, slots, then the
 * variable-length values in field order, each padded with zeros to 8 bytes.
 * Because the layout depends only on the values, two builders given the same
 * values produce the same bytes. Both the staging area and the output
 * buffer only grow, so a warm builder does not allocate.
 *
 * A wrong-type or out-of-range set is a bug in the caller: the first one is
 * recorded, and finish() returns NULL instead of a row with a wrong value.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "row_int.h"

#define BUILDER_ERROR_MAX 256

typedef struct field_value {
    bool is_null;
    uint64_t slot;      /* fixed-width value, as stored in the row */
    uint32_t var_off;   /* variable-length value: offset in the staging area */
    uint32_t var_len;
} field_value;

struct fl_row_builder {
    fl_schema *schema; /* one reference */
    int n;
    fl_type *types;
    field_value *values;
    fl_row_kind kind;

    uint8_t *stage; /* variable-length values of the row being built */
    size_t stage_len;
    size_t stage_cap;

    uint8_t *out; /* the finished row */
    size_t out_cap;

    bool failed;
    char error[BUILDER_ERROR_MAX];
};

fl_row_builder *fl_row_builder_create(const fl_schema *s) {
    fl_row_builder *b = fl_xcalloc(1, sizeof *b);
    b->schema = fl_schema_ref((fl_schema *)s);
    b->n = fl_schema_num_fields(s);
    size_t count = (size_t)(b->n > 0 ? b->n : 1);
    b->types = fl_xcalloc(count, sizeof *b->types);
    b->values = fl_xcalloc(count, sizeof *b->values);
    for (int i = 0; i < b->n; i++)
        b->types[i] = fl_schema_field_type(s, i);
    b->out_cap = fl__row_fixed_bytes((uint32_t)b->n) + 64;
    b->out = fl_xmalloc(b->out_cap);
    fl_row_builder_reset(b);
    return b;
}

void fl_row_builder_destroy(fl_row_builder *b) {
    if (b == NULL)
        return;
    fl_schema_unref(b->schema);
    free(b->types);
    free(b->values);
    free(b->stage);
    free(b->out);
    free(b);
}

const fl_schema *fl_row_builder_schema(const fl_row_builder *b) { return b->schema; }

void fl_row_builder_reset(fl_row_builder *b) {
    for (int i = 0; i < b->n; i++) {
        b->values[i].is_null = true;
        b->values[i].slot = 0;
        b->values[i].var_off = 0;
        b->values[i].var_len = 0;
    }
    b->kind = FL_INSERT;
    b->stage_len = 0;
    b->failed = false;
    b->error[0] = '\0';
}

static void fail(fl_row_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(fl_row_builder *b, const char *fmt, ...) {
    if (b->failed)
        return;
    b->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof b->error, fmt, ap);
    va_end(ap);
}

/* Checks that field i exists and has type t (t == 0: any type). */
static bool check(fl_row_builder *b, int i, fl_type t) {
    if (i < 0 || i >= b->n) {
        fail(b, "field %d is out of range: the schema has %d fields", i, b->n);
        return false;
    }
    if (t != 0 && b->types[i] != t) {
        fail(b, "field %d (\"%s\") is %s, not %s", i, fl_schema_field_name(b->schema, i),
             fl_type_name(b->types[i]), fl_type_name(t));
        return false;
    }
    return true;
}

static void set_slot(fl_row_builder *b, int i, uint64_t slot) {
    b->values[i].is_null = false;
    b->values[i].slot = slot;
}

void fl_row_builder_set_kind(fl_row_builder *b, fl_row_kind kind) {
    if ((unsigned)kind > FL_DELETE) {
        fail(b, "row kind %d is not one of +I, -U, +U, -D", (int)kind);
        return;
    }
    b->kind = kind;
}

void fl_row_builder_set_null(fl_row_builder *b, int i) {
    if (!check(b, i, 0))
        return;
    b->values[i].is_null = true;
    b->values[i].slot = 0;
    b->values[i].var_len = 0;
}

void fl_row_builder_set_bool(fl_row_builder *b, int i, bool v) {
    if (check(b, i, FL_BOOLEAN))
        set_slot(b, i, v ? 1 : 0);
}

void fl_row_builder_set_int(fl_row_builder *b, int i, int32_t v) {
    if (check(b, i, FL_INT))
        set_slot(b, i, (uint64_t)(uint32_t)v); /* upper half stays zero */
}

void fl_row_builder_set_bigint(fl_row_builder *b, int i, int64_t v) {
    if (check(b, i, FL_BIGINT))
        set_slot(b, i, (uint64_t)v);
}

void fl_row_builder_set_double(fl_row_builder *b, int i, double v) {
    if (!check(b, i, FL_DOUBLE))
        return;
    if (isnan(v))
        v = NAN; /* one NaN, so that NaN keys are equal as bytes */
    uint64_t bits;
    memcpy(&bits, &v, 8);
    set_slot(b, i, bits);
}

void fl_row_builder_set_timestamp(fl_row_builder *b, int i, int64_t millis) {
    if (check(b, i, FL_TIMESTAMP))
        set_slot(b, i, (uint64_t)millis);
}

static void set_var(fl_row_builder *b, int i, const void *p, uint32_t len) {
    /* Room for the value and the largest row: offsets are 32-bit. */
    if ((uint64_t)b->stage_len + len > UINT32_MAX - fl__row_fixed_bytes((uint32_t)b->n) - 8) {
        fail(b, "field %d (\"%s\"): a row cannot hold %u more bytes", i,
             fl_schema_field_name(b->schema, i), len);
        return;
    }
    if (b->stage_len + len > b->stage_cap) {
        size_t cap = b->stage_cap ? b->stage_cap : 256;
        while (cap < b->stage_len + len)
            cap *= 2;
        b->stage = fl_xrealloc(b->stage, cap);
        b->stage_cap = cap;
    }
    if (len > 0)
        memcpy(b->stage + b->stage_len, p, len);
    b->values[i].is_null = false;
    b->values[i].var_off = (uint32_t)b->stage_len;
    b->values[i].var_len = len;
    b->stage_len += len;
}

void fl_row_builder_set_string(fl_row_builder *b, int i, const char *s, uint32_t len) {
    if (!check(b, i, FL_STRING))
        return;
    if (s == NULL && len > 0) {
        fail(b, "field %d (\"%s\"): NULL string of length %u", i,
             fl_schema_field_name(b->schema, i), len);
        return;
    }
    set_var(b, i, s, len);
}

void fl_row_builder_set_cstring(fl_row_builder *b, int i, const char *s) {
    if (s == NULL) {
        if (check(b, i, FL_STRING))
            fl_row_builder_set_null(b, i);
        return;
    }
    size_t len = strlen(s);
    if (len > UINT32_MAX) {
        if (check(b, i, FL_STRING))
            fail(b, "field %d (\"%s\"): a string of %zu bytes does not fit in a row", i,
                 fl_schema_field_name(b->schema, i), len);
        return;
    }
    fl_row_builder_set_string(b, i, s, (uint32_t)len);
}

void fl_row_builder_set_bytes(fl_row_builder *b, int i, const void *p, uint32_t len) {
    if (!check(b, i, FL_BYTES))
        return;
    if (p == NULL && len > 0) {
        fail(b, "field %d (\"%s\"): NULL bytes of length %u", i,
             fl_schema_field_name(b->schema, i), len);
        return;
    }
    set_var(b, i, p, len);
}

void fl_row_builder_copy_field(fl_row_builder *b, int i, const fl_row *src, int j) {
    if (!check(b, i, 0))
        return;
    if (j < 0 || j >= fl_row_num_fields(src)) {
        fail(b, "field %d of the source row is out of range: it has %d fields", j,
             fl_row_num_fields(src));
        return;
    }
    if (fl_row_is_null(src, j)) {
        fl_row_builder_set_null(b, i);
        return;
    }
    switch (b->types[i]) {
    case FL_STRING:
    case FL_BYTES: {
        uint32_t len;
        const void *p = fl_row_get_bytes(src, j, &len);
        set_var(b, i, p, len);
        break;
    }
    default: {
        uint64_t slot;
        memcpy(&slot, fl__row_slot(src, (uint32_t)j), 8);
        set_slot(b, i, slot);
        break;
    }
    }
}

void fl_row_builder_copy_row(fl_row_builder *b, const fl_row *src) {
    if (fl_row_num_fields(src) != b->n) {
        fail(b, "cannot copy a row of %d fields into a builder of %d fields",
             fl_row_num_fields(src), b->n);
        return;
    }
    fl_row_builder_set_kind(b, fl_row_get_kind(src));
    for (int i = 0; i < b->n; i++)
        fl_row_builder_copy_field(b, i, src, i);
}

const fl_row *fl_row_builder_finish(fl_row_builder *b) {
    if (b->failed)
        return NULL;
    uint32_t n = (uint32_t)b->n;
    uint32_t fixed = fl__row_fixed_bytes(n);
    uint64_t total = fixed;
    for (uint32_t i = 0; i < n; i++)
        if (!b->values[i].is_null && (b->types[i] == FL_STRING || b->types[i] == FL_BYTES))
            total += fl__align8(b->values[i].var_len);
    if (total > UINT32_MAX - 8) {
        fail(b, "row of %llu bytes is larger than the 4 GiB a row can hold",
             (unsigned long long)total);
        return NULL;
    }
    if (total > b->out_cap) {
        size_t cap = b->out_cap;
        while (cap < total)
            cap *= 2;
        free(b->out); /* the previous row is no longer valid: no need to keep it */
        b->out = fl_xmalloc(cap);
        b->out_cap = cap;
    }

    uint8_t *p = b->out;
    memset(p, 0, fixed);
    uint32_t len32 = (uint32_t)total;
    uint16_t n16 = (uint16_t)n;
    memcpy(p, &len32, 4);
    p[4] = (uint8_t)b->kind;
    memcpy(p + 6, &n16, 2);

    uint8_t *bitmap = p + FL_ROW_HEADER;
    uint8_t *slots = bitmap + fl__row_bitmap_bytes(n);
    uint32_t var = fixed;
    for (uint32_t i = 0; i < n; i++) {
        const field_value *v = &b->values[i];
        if (v->is_null) {
            bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
            continue;
        }
        if (b->types[i] == FL_STRING || b->types[i] == FL_BYTES) {
            uint32_t padded = fl__align8(v->var_len);
            memcpy(slots + 8u * i, &var, 4);
            memcpy(slots + 8u * i + 4, &v->var_len, 4);
            if (v->var_len > 0)
                memcpy(p + var, b->stage + v->var_off, v->var_len);
            memset(p + var + v->var_len, 0, padded - v->var_len);
            var += padded;
        } else {
            memcpy(slots + 8u * i, &v->slot, 8);
        }
    }
    return (const fl_row *)p;
}

const char *fl_row_builder_error(const fl_row_builder *b) {
    return b->failed ? b->error : NULL;
}
