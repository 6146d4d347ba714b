/*
 * row_builder.c - writing canonical binary rows.
 *
 * The builder keeps the row's fixed part almost as it will be laid out: the
 * null bitmap, and one 8-byte slot image per field, valid for the fields set
 * since the last reset (a reset only marks every field null; finish() writes
 * a zero slot for a null field). Variable-length values are staged at 8-byte
 * aligned offsets with their zero padding, and the sum of their padded
 * lengths is kept as they are set, so the row's size is known without a pass
 * over the fields. finish() writes the header, the bitmap and the slots,
 * then the variable-length values in field order, each padded with zeros to
 * 8 bytes, with their (offset, length) slots. Because the layout depends only
 * on the values, two builders given the same values produce the same bytes.
 * Both the staging area and the output buffer only grow, so a warm builder
 * does not allocate.
 *
 * Rows are built once per record on the hot path (flat_map collectors, key
 * selectors, reduce functions), so a set is a bounds-and-type test, a store
 * and a bit clear, short values are copied without calls into libc, and
 * finish() visits the variable-length fields through their list, made once
 * at create. fl__row_builder_lay_out (row_int.h) lets the runtime lay a row
 * out straight into a batch instead of into the builder's buffer and then
 * copying it.
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

struct fl_row_builder {
    fl_schema *schema; /* one reference */
    int n;
    uint32_t bitmap_words; /* 64-bit words of the null bitmap */
    uint32_t fixed;        /* header, bitmap and slots */
    fl_type *types;
    fl_row_kind kind;

    uint64_t *nulls; /* the null bitmap as laid out (bit set: null) */
    uint64_t *slots; /* slot images of the fields set since reset (finish() writes zero for
                        the others); a variable-length field's stays zero here */
    uint32_t *var_off, *var_len; /* variable-length values: where in the staging area */
    int n_var;
    int *var_fields;    /* the STRING and BYTES fields, in field order */
    uint64_t var_bytes; /* their padded lengths, summed over the non-null ones */

    uint8_t *stage; /* variable-length values of the row being built */
    size_t stage_len;
    size_t stage_cap;

    uint8_t *out; /* the finished row */
    size_t out_cap;

    bool failed;
    char error[BUILDER_ERROR_MAX];
};

static bool is_var(fl_type t) { return t == FL_STRING || t == FL_BYTES; }

fl_row_builder *fl_row_builder_create(const fl_schema *s) {
    fl_row_builder *b = fl_xcalloc(1, sizeof *b);
    b->schema = fl_schema_ref((fl_schema *)s);
    b->n = fl_schema_num_fields(s);
    b->bitmap_words = ((uint32_t)b->n + 63u) / 64u;
    b->fixed = fl__row_fixed_bytes((uint32_t)b->n);
    size_t count = (size_t)(b->n > 0 ? b->n : 1);
    b->types = fl_xcalloc(count, sizeof *b->types);
    b->nulls = fl_xcalloc(b->bitmap_words ? b->bitmap_words : 1, sizeof *b->nulls);
    b->slots = fl_xcalloc(count, sizeof *b->slots);
    b->var_off = fl_xcalloc(count, sizeof *b->var_off);
    b->var_len = fl_xcalloc(count, sizeof *b->var_len);
    b->var_fields = fl_xcalloc(count, sizeof *b->var_fields);
    for (int i = 0; i < b->n; i++) {
        b->types[i] = fl_schema_field_type(s, i);
        if (is_var(b->types[i])) b->var_fields[b->n_var++] = i;
    }
    b->out_cap = b->fixed + 64;
    b->out = fl_xmalloc(b->out_cap);
    fl_row_builder_reset(b);
    return b;
}

void fl_row_builder_destroy(fl_row_builder *b) {
    if (b == NULL) return;
    fl_schema_unref(b->schema);
    free(b->types);
    free(b->nulls);
    free(b->slots);
    free(b->var_off);
    free(b->var_len);
    free(b->var_fields);
    free(b->stage);
    free(b->out);
    free(b);
}

const fl_schema *fl_row_builder_schema(const fl_row_builder *b) { return b->schema; }

void fl_row_builder_reset(fl_row_builder *b) {
    uint32_t n = (uint32_t)b->n;
    for (uint32_t w = 0; w < b->bitmap_words; w++)
        b->nulls[w] = n - 64u * w >= 64u ? ~UINT64_C(0) : (UINT64_C(1) << (n - 64u * w)) - 1u;
    b->kind = FL_INSERT;
    b->stage_len = 0;
    b->var_bytes = 0;
    if (b->failed) {
        b->failed = false;
        b->error[0] = '\0';
    }
}

static void fail(fl_row_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(fl_row_builder *b, const char *fmt, ...) {
    if (b->failed) return;
    b->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof b->error, fmt, ap);
    va_end(ap);
}

/* check()'s failure: records what is wrong with setting field i as type t. */
static void __attribute__((noinline)) check_failed(fl_row_builder *b, int i, fl_type t) {
    if (i < 0 || i >= b->n)
        fail(b, "field %d is out of range: the schema has %d fields", i, b->n);
    else
        fail(b, "field %d (\"%s\") is %s, not %s", i, fl_schema_field_name(b->schema, i),
             fl_type_name(b->types[i]), fl_type_name(t));
}

/* Checks that field i exists and has type t (t == 0: any type). */
static inline bool check(fl_row_builder *b, int i, fl_type t) {
    if ((unsigned)i < (unsigned)b->n && (t == 0 || b->types[i] == t)) return true;
    check_failed(b, i, t);
    return false;
}

static inline void set_present(fl_row_builder *b, int i) {
    b->nulls[(unsigned)i / 64u] &= ~(UINT64_C(1) << ((unsigned)i % 64u));
}

static inline void set_slot(fl_row_builder *b, int i, uint64_t slot) {
    set_present(b, i);
    b->slots[i] = slot;
}

void fl_row_builder_set_kind(fl_row_builder *b, fl_row_kind kind) {
    if ((unsigned)kind > FL_DELETE) {
        fail(b, "row kind %d is not one of +I, -U, +U, -D", (int)kind);
        return;
    }
    b->kind = kind;
}

static bool field_null(const fl_row_builder *b, int i) {
    return (b->nulls[(unsigned)i / 64u] >> ((unsigned)i % 64u)) & 1u;
}

void fl_row_builder_set_null(fl_row_builder *b, int i) {
    if (!check(b, i, 0)) return;
    if (is_var(b->types[i]) && !field_null(b, i)) b->var_bytes -= fl__align8(b->var_len[i]);
    b->nulls[(unsigned)i / 64u] |= UINT64_C(1) << ((unsigned)i % 64u);
    b->slots[i] = 0;
}

void fl_row_builder_set_bool(fl_row_builder *b, int i, bool v) {
    if (check(b, i, FL_BOOLEAN)) set_slot(b, i, v ? 1 : 0);
}

void fl_row_builder_set_int(fl_row_builder *b, int i, int32_t v) {
    if (check(b, i, FL_INT)) set_slot(b, i, (uint64_t)(uint32_t)v); /* upper half stays zero */
}

void fl_row_builder_set_bigint(fl_row_builder *b, int i, int64_t v) {
    if (check(b, i, FL_BIGINT)) set_slot(b, i, (uint64_t)v);
}

void fl_row_builder_set_double(fl_row_builder *b, int i, double v) {
    if (!check(b, i, FL_DOUBLE)) return;
    if (isnan(v)) v = NAN; /* one NaN, so that NaN keys are equal as bytes */
    uint64_t bits;
    memcpy(&bits, &v, 8);
    set_slot(b, i, bits);
}

void fl_row_builder_set_timestamp(fl_row_builder *b, int i, int64_t millis) {
    if (check(b, i, FL_TIMESTAMP)) set_slot(b, i, (uint64_t)millis);
}

static void __attribute__((noinline)) grow_stage(fl_row_builder *b, size_t need) {
    size_t cap = b->stage_cap ? b->stage_cap : 256;
    while (cap < need) cap *= 2;
    b->stage = fl_xrealloc(b->stage, cap);
    b->stage_cap = cap;
}

/* Values are staged at 8-byte aligned offsets with their padding zeroed,
 * so that finish() moves whole words. */
static void set_var(fl_row_builder *b, int i, const void *p, uint32_t len) {
    /* Room for the value and the largest row: offsets are 32-bit. */
    if ((uint64_t)b->stage_len + len > UINT32_MAX - b->fixed - 8) {
        fail(b, "field %d (\"%s\"): a row cannot hold %u more bytes", i,
             fl_schema_field_name(b->schema, i), len);
        return;
    }
    uint32_t padded = fl__align8(len);
    if (padded > 0) {
        if (b->stage_len + padded > b->stage_cap) grow_stage(b, b->stage_len + padded);
        fl__copy_padded(b->stage + b->stage_len, p, len);
    }
    if (!field_null(b, i)) b->var_bytes -= fl__align8(b->var_len[i]); /* set again */
    b->var_bytes += padded;
    set_present(b, i);
    b->var_off[i] = (uint32_t)b->stage_len;
    b->var_len[i] = len;
    b->stage_len += padded;
}

void fl_row_builder_set_string(fl_row_builder *b, int i, const char *s, uint32_t len) {
    if (!check(b, i, FL_STRING)) return;
    if (s == NULL && len > 0) {
        fail(b, "field %d (\"%s\"): NULL string of length %u", i,
             fl_schema_field_name(b->schema, i), len);
        return;
    }
    set_var(b, i, s, len);
}

void fl_row_builder_set_cstring(fl_row_builder *b, int i, const char *s) {
    if (s == NULL) {
        if (check(b, i, FL_STRING)) fl_row_builder_set_null(b, i);
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
    if (!check(b, i, FL_BYTES)) return;
    if (p == NULL && len > 0) {
        fail(b, "field %d (\"%s\"): NULL bytes of length %u", i, fl_schema_field_name(b->schema, i),
             len);
        return;
    }
    set_var(b, i, p, len);
}

void fl_row_builder_copy_field(fl_row_builder *b, int i, const fl_row *src, int j) {
    if (!check(b, i, 0)) return;
    if (j < 0 || j >= fl_row_num_fields(src)) {
        fail(b, "field %d of the source row is out of range: it has %d fields", j,
             fl_row_num_fields(src));
        return;
    }
    if (fl_row_is_null(src, j)) {
        fl_row_builder_set_null(b, i);
        return;
    }
    const uint8_t *slot = fl__row_slot(src, (uint32_t)j);
    if (is_var(b->types[i])) {
        uint32_t off, len;
        memcpy(&off, slot, 4);
        memcpy(&len, slot + 4, 4);
        set_var(b, i, (const uint8_t *)src + off, len);
    } else {
        uint64_t v;
        memcpy(&v, slot, 8);
        set_slot(b, i, v);
    }
}

void fl_row_builder_copy_row(fl_row_builder *b, const fl_row *src) {
    if (fl_row_num_fields(src) != b->n) {
        fail(b, "cannot copy a row of %d fields into a builder of %d fields",
             fl_row_num_fields(src), b->n);
        return;
    }
    fl_row_builder_set_kind(b, fl_row_get_kind(src));
    for (int i = 0; i < b->n; i++) fl_row_builder_copy_field(b, i, src, i);
}

/* The finished row's length; 0 when the builder failed. */
static uint32_t row_size(fl_row_builder *b) {
    if (b->failed) return 0;
    uint64_t total = b->fixed + b->var_bytes;
    if (total > UINT32_MAX - 8) {
        fail(b, "row of %llu bytes is larger than the 4 GiB a row can hold",
             (unsigned long long)total);
        return 0;
    }
    return (uint32_t)total;
}

static void write_row(const fl_row_builder *b, uint8_t *p, uint32_t size) {
    uint32_t n = (uint32_t)b->n;
    uint64_t header = (uint64_t)size | (uint64_t)b->kind << 32 | (uint64_t)n << 48;
    memcpy(p, &header, 8);
    uint8_t *slots = p + FL_ROW_HEADER + 8u * b->bitmap_words;
    if (b->bitmap_words == 1)
        memcpy(p + FL_ROW_HEADER, b->nulls, 8);
    else
        memcpy(p + FL_ROW_HEADER, b->nulls, 8u * b->bitmap_words);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v = field_null(b, (int)i) ? 0 : b->slots[i]; /* not cleared by reset */
        memcpy(slots + 8u * i, &v, 8);
    }
    uint32_t var = b->fixed;
    for (int k = 0; k < b->n_var; k++) {
        int i = b->var_fields[k];
        if (field_null(b, i)) continue;
        uint32_t len = b->var_len[i], padded = fl__align8(len);
        uint64_t slot = (uint64_t)var | (uint64_t)len << 32;
        memcpy(slots + 8u * (uint32_t)i, &slot, 8);
        if (padded == 0) continue; /* an empty value: nothing staged */
        /* Staged in whole words with zero padding (set_var), and copied
         * word by word: a wider load would span two of set_var's stores,
         * which the processor cannot forward to it. */
        const uint8_t *src = b->stage + b->var_off[i];
        if (padded <= 16) {
            memcpy(p + var, src, 8);
            if (padded == 16) memcpy(p + var + 8, src + 8, 8);
        } else {
            memcpy(p + var, src, padded);
        }
        var += padded;
    }
}

uint32_t fl__row_builder_lay_out(fl_row_builder *b, uint8_t *dst, size_t room) {
    uint32_t total = row_size(b);
    if (total > 0 && total <= room) write_row(b, dst, total);
    return total;
}

const fl_row *fl_row_builder_finish(fl_row_builder *b) {
    uint32_t total = fl__row_builder_lay_out(b, b->out, b->out_cap);
    if (total == 0) return NULL;
    if (total > b->out_cap) {
        size_t cap = b->out_cap;
        while (cap < total) cap *= 2;
        free(b->out); /* the previous row is no longer valid: no need to keep it */
        b->out = fl_xmalloc(cap);
        b->out_cap = cap;
        write_row(b, b->out, total);
    }
    return (const fl_row *)b->out;
}

const char *fl_row_builder_error(const fl_row_builder *b) { return b->failed ? b->error : NULL; }
