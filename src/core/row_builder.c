/*
 * row_builder.c - writing canonical binary rows.
 *
 * The builder writes the row in place, in its final layout, as fields are
 * set: a set of a fixed-size field stores its slot and clears its null bit;
 * a set of a STRING or BYTES field appends the value, zero padded to 8
 * bytes, after the values set before it and stores its (offset, length)
 * slot. When the variable-length fields are set once each and in field order
 * -- what nearly every caller does -- or the last one set is set again (a
 * function emitting rows that differ in one string), the row is canonical as it
 * stands, and finishing it only writes the header (and zeroes the slots of
 * null fields). Otherwise the row is "messy" (values out of order, set
 * twice, or set and then nulled), and finishing it first moves the values
 * into field order. Either way the layout depends only on the values, so two
 * builders given the same values produce the same bytes.
 *
 * Rows are built once per record on the hot path (flat_map collectors, key
 * selectors, reduce functions), so a set is a bounds-and-type test, a store
 * and a bit clear, and short values are copied without calls into libc.
 * fl__row_builder_lay_out (row_int.h) copies the finished row straight into
 * a batch.
 *
 * The builder has two buffers and starts each row (reset) in the one the
 * last finish() did not return, so that a finished row can be read while the
 * next one is built -- a reduce function given the previous result built by
 * the same builder, say -- until the next finish(). Both only grow, so a
 * warm builder does not allocate.
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
    uint64_t *all_null; /* the bitmap of a row just reset */
    int n_var;
    int *var_fields; /* the STRING and BYTES fields, in field order */

    uint8_t *row;       /* the row being built: one of buf[] */
    size_t cap;         /* of row */
    uint32_t end;       /* bytes written: fixed part and the values appended */
    int last_var;       /* the last variable-length field appended (-1: none) */
    bool messy;         /* the values are not (only) in field order */
    uint8_t *buf[2];    /* the two buffers, and their sizes */
    size_t buf_cap[2];
    const uint8_t *finished; /* the buffer finish() returned last */

    uint8_t *scratch; /* for putting a messy row's values in order */
    size_t scratch_cap;

    bool failed;
    char error[BUILDER_ERROR_MAX];
};

static bool is_var(fl_type t) { return t == FL_STRING || t == FL_BYTES; }

static uint64_t *bitmap(fl_row_builder *b) { return (uint64_t *)(b->row + FL_ROW_HEADER); }

static uint8_t *slot_at(fl_row_builder *b, int i) {
    return b->row + FL_ROW_HEADER + 8u * b->bitmap_words + 8u * (unsigned)i;
}

fl_row_builder *fl_row_builder_create(const fl_schema *s) {
    fl_row_builder *b = fl_xcalloc(1, sizeof *b);
    b->schema = fl_schema_ref((fl_schema *)s);
    b->n = fl_schema_num_fields(s);
    b->bitmap_words = ((uint32_t)b->n + 63u) / 64u;
    b->fixed = fl__row_fixed_bytes((uint32_t)b->n);
    size_t count = (size_t)(b->n > 0 ? b->n : 1);
    b->types = fl_xcalloc(count, sizeof *b->types);
    b->var_fields = fl_xcalloc(count, sizeof *b->var_fields);
    b->all_null = fl_xcalloc(b->bitmap_words ? b->bitmap_words : 1, sizeof *b->all_null);
    uint32_t n = (uint32_t)b->n;
    for (uint32_t w = 0; w < b->bitmap_words; w++)
        b->all_null[w] = n - 64u * w >= 64u ? ~UINT64_C(0) : (UINT64_C(1) << (n - 64u * w)) - 1u;
    for (int i = 0; i < b->n; i++) {
        b->types[i] = fl_schema_field_type(s, i);
        if (is_var(b->types[i])) b->var_fields[b->n_var++] = i;
    }
    for (int k = 0; k < 2; k++) {
        b->buf_cap[k] = b->fixed + 64;
        b->buf[k] = fl_xcalloc(1, b->buf_cap[k]);
    }
    b->row = b->buf[0];
    b->cap = b->buf_cap[0];
    fl_row_builder_reset(b);
    return b;
}

void fl_row_builder_destroy(fl_row_builder *b) {
    if (b == NULL) return;
    fl_schema_unref(b->schema);
    free(b->types);
    free(b->var_fields);
    free(b->all_null);
    free(b->buf[0]);
    free(b->buf[1]);
    free(b->scratch);
    free(b);
}

const fl_schema *fl_row_builder_schema(const fl_row_builder *b) { return b->schema; }

void fl_row_builder_reset(fl_row_builder *b) {
    if (b->row == b->finished) { /* leave the finished row readable */
        int k = b->row == b->buf[0];
        b->row = b->buf[k];
        b->cap = b->buf_cap[k];
    }
    if (b->bitmap_words == 1)
        memcpy(b->row + FL_ROW_HEADER, b->all_null, 8);
    else
        memcpy(b->row + FL_ROW_HEADER, b->all_null, 8u * b->bitmap_words);
    b->kind = FL_INSERT;
    b->end = b->fixed;
    b->last_var = -1;
    b->messy = false;
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

static bool field_null(fl_row_builder *b, int i) {
    return (bitmap(b)[(unsigned)i / 64u] >> ((unsigned)i % 64u)) & 1u;
}

static inline void set_slot(fl_row_builder *b, int i, uint64_t slot) {
    bitmap(b)[(unsigned)i / 64u] &= ~(UINT64_C(1) << ((unsigned)i % 64u));
    memcpy(slot_at(b, i), &slot, 8);
}

void fl_row_builder_set_kind(fl_row_builder *b, fl_row_kind kind) {
    if ((unsigned)kind > FL_DELETE) {
        fail(b, "row kind %d is not one of +I, -U, +U, -D", (int)kind);
        return;
    }
    b->kind = kind;
}

void fl_row_builder_set_null(fl_row_builder *b, int i) {
    if (!check(b, i, 0)) return;
    if (is_var(b->types[i]) && !field_null(b, i)) b->messy = true; /* its bytes stay behind */
    bitmap(b)[(unsigned)i / 64u] |= UINT64_C(1) << ((unsigned)i % 64u);
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

/* Room for need bytes in the row being built; *p, if it points into the
 * row (a field copied from the row itself), is moved along with it. */
static void __attribute__((noinline)) grow(fl_row_builder *b, size_t need, const void **p) {
    size_t cap = b->cap;
    while (cap < need) cap *= 2;
    int k = b->row == b->buf[1];
    const uint8_t *old = b->row;
    bool inside = *p && (const uint8_t *)*p >= old && (const uint8_t *)*p < old + b->cap;
    size_t at = inside ? (size_t)((const uint8_t *)*p - old) : 0;
    b->buf[k] = fl_xrealloc(b->buf[k], cap);
    b->buf_cap[k] = cap;
    b->row = b->buf[k];
    b->cap = cap;
    if (inside) *p = b->row + at;
}

/* Appends a value, zero padded to 8 bytes so that the row moves in whole
 * words, and points field i at it. */
static inline void set_var(fl_row_builder *b, int i, const void *p, uint32_t len) {
    /* Offsets are 32-bit. */
    if ((uint64_t)b->end + len > UINT32_MAX - 8) {
        fail(b, "field %d (\"%s\"): a row cannot hold %u more bytes", i,
             fl_schema_field_name(b->schema, i), len);
        return;
    }
    if (!field_null(b, i)) { /* set again */
        uint64_t old;
        memcpy(&old, slot_at(b, i), 8);
        if (i == b->last_var && (uint32_t)old + fl__align8((uint32_t)(old >> 32)) == b->end)
            b->end = (uint32_t)old; /* the last value appended: it is replaced */
        else
            b->messy = true;
    } else if (i < b->last_var) {
        b->messy = true;
    }
    uint32_t padded = fl__align8(len);
    if (b->end + padded > b->cap) grow(b, (size_t)b->end + padded, &p);
    b->last_var = i;
    if (p != b->row + b->end) fl__copy_padded(b->row + b->end, p, len);
    set_slot(b, i, (uint64_t)b->end | (uint64_t)len << 32);
    b->end += padded;
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

/* Moves a messy row's values into field order, without the ones left
 * behind (set twice, or set and then nulled). */
static void __attribute__((noinline)) tidy(fl_row_builder *b) {
    uint32_t need = b->end - b->fixed;
    if (need > b->scratch_cap) {
        free(b->scratch);
        b->scratch = fl_xmalloc(need);
        b->scratch_cap = need;
    }
    if (need) memcpy(b->scratch, b->row + b->fixed, need);
    uint32_t end = b->fixed;
    for (int k = 0; k < b->n_var; k++) {
        int i = b->var_fields[k];
        if (field_null(b, i)) continue;
        uint64_t slot;
        memcpy(&slot, slot_at(b, i), 8);
        uint32_t off = (uint32_t)slot, len = (uint32_t)(slot >> 32), padded = fl__align8(len);
        if (padded) memcpy(b->row + end, b->scratch + (off - b->fixed), padded);
        slot = (uint64_t)end | (uint64_t)len << 32;
        memcpy(slot_at(b, i), &slot, 8);
        end += padded;
    }
    b->end = end;
    b->messy = false;
    b->last_var = b->n_var ? b->var_fields[b->n_var - 1] : -1;
}

/* Makes the row canonical as it stands: its values in order, the header,
 * the slots of null fields zero. Its length, or 0 when the builder failed. */
static inline __attribute__((always_inline)) uint32_t complete(fl_row_builder *b) {
    if (b->failed) return 0;
    if (b->messy) tidy(b);
    uint64_t header = (uint64_t)b->end | (uint64_t)b->kind << 32 | (uint64_t)b->n << 48;
    memcpy(b->row, &header, 8);
    const uint64_t *nulls = bitmap(b);
    for (uint32_t w = 0; w < b->bitmap_words; w++) {
        for (uint64_t bits = nulls[w]; bits; bits &= bits - 1) {
            uint64_t zero = 0;
            memcpy(slot_at(b, (int)(64u * w + (uint32_t)__builtin_ctzll(bits))), &zero, 8);
        }
    }
    return b->end;
}

uint32_t fl__row_builder_lay_out(fl_row_builder *b, uint8_t *dst, size_t room) {
    uint32_t total = complete(b);
    if (total == 0 || total > room) return total;
    if (total <= 64 && room >= 64 && b->cap >= 64)
        memcpy(dst, b->row, 64); /* a short row in one fixed-size move: no loop to mispredict */
    else
        fl__copy_words(dst, b->row, total);
    return total;
}

const uint8_t *fl__row_builder_var_tail(fl_row_builder *b, int i, const void *v, uint32_t len,
                                        uint32_t *off, uint32_t *slot) {
    if (!check(b, i, 0) || !is_var(b->types[i]) || (v == NULL && len > 0)) return NULL;
    set_var(b, i, v, len);
    if (complete(b) == 0) return NULL;
    uint64_t at;
    memcpy(&at, slot_at(b, i), 8);
    if ((uint32_t)at + fl__align8(len) != b->end) return NULL;
    *off = (uint32_t)at;
    *slot = (uint32_t)(slot_at(b, i) - b->row);
    return b->row;
}

const fl_row *fl_row_builder_finish(fl_row_builder *b) {
    if (complete(b) == 0) return NULL;
    b->finished = b->row;
    return (const fl_row *)b->row;
}

const char *fl_row_builder_error(const fl_row_builder *b) { return b->failed ? b->error : NULL; }
