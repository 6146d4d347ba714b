/*
 * row.c - reading, checking, comparing and printing binary rows.
 *
 * The accessors are the read side of the layout described in flinc/row.h:
 * no allocation, no copying, a value is read straight from its slot. Values
 * are stored in the host's byte order, which flinc requires to be little
 * endian (so that a row, and the hash of a key row, is the same everywhere).
 * fl_row_validate is the guard for bytes that crossed a boundary: it accepts
 * exactly the canonical rows a builder produces.
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mem.h"
#include "row_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "flinc rows are little endian; this platform is not"
#endif

uint32_t fl_row_size(const fl_row *r) { return fl__row_len(r); }

int fl_row_num_fields(const fl_row *r) { return fl__row_nfields(r); }

fl_row_kind fl_row_get_kind(const fl_row *r) {
    return (fl_row_kind)((const uint8_t *)r)[4];
}

bool fl_row_is_null(const fl_row *r, int i) {
    assert(i >= 0 && i < fl__row_nfields(r));
    uint64_t word;
    memcpy(&word, (const uint8_t *)r + FL_ROW_HEADER + 8u * ((uint32_t)i / 64u), 8);
    return (word >> ((uint32_t)i % 64u)) & 1u;
}

static uint64_t slot_u64(const fl_row *r, int i) {
    assert(i >= 0 && i < fl__row_nfields(r));
    uint64_t v;
    memcpy(&v, fl__row_slot(r, (uint32_t)i), 8);
    return v;
}

bool fl_row_get_bool(const fl_row *r, int i) { return slot_u64(r, i) != 0; }

int32_t fl_row_get_int(const fl_row *r, int i) {
    assert(i >= 0 && i < fl__row_nfields(r));
    int32_t v;
    memcpy(&v, fl__row_slot(r, (uint32_t)i), 4);
    return v;
}

int64_t fl_row_get_bigint(const fl_row *r, int i) { return (int64_t)slot_u64(r, i); }

double fl_row_get_double(const fl_row *r, int i) {
    assert(i >= 0 && i < fl__row_nfields(r));
    double v;
    memcpy(&v, fl__row_slot(r, (uint32_t)i), 8);
    return v;
}

int64_t fl_row_get_timestamp(const fl_row *r, int i) { return (int64_t)slot_u64(r, i); }

static const void *get_var(const fl_row *r, int i, uint32_t *len) {
    if (fl_row_is_null(r, i)) {
        *len = 0;
        return NULL;
    }
    const uint8_t *slot = fl__row_slot(r, (uint32_t)i);
    uint32_t off;
    memcpy(&off, slot, 4);
    memcpy(len, slot + 4, 4);
    return (const uint8_t *)r + off;
}

const char *fl_row_get_string(const fl_row *r, int i, uint32_t *len) {
    return get_var(r, i, len);
}

const void *fl_row_get_bytes(const fl_row *r, int i, uint32_t *len) {
    return get_var(r, i, len);
}

/* ---- validation -------------------------------------------------------------- */

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

int fl_row_validate(const void *buf, size_t len, const fl_schema *s, fl_error *err) {
    if (buf == NULL || s == NULL)
        return fl_error_set(err, FL_EINVAL, "no row or no schema to validate against");
    const uint8_t *p = buf;
    if (len < FL_ROW_HEADER)
        return fl_error_set(err, FL_EFORMAT, "malformed row: %zu bytes is shorter than a row "
                            "header", len);
    uint32_t row_len = fl__row_len(p);
    if (row_len > len)
        return fl_error_set(err, FL_EFORMAT, "malformed row: it claims %" PRIu32
                            " bytes but only %zu are there (truncated)", row_len, len);
    if (row_len % 8 != 0)
        return fl_error_set(err, FL_EFORMAT, "malformed row: length %" PRIu32
                            " is not a multiple of 8", row_len);
    uint32_t n = fl__row_nfields(p);
    if ((int)n != fl_schema_num_fields(s))
        return fl_error_set(err, FL_EFORMAT, "malformed row: it has %" PRIu32
                            " fields but the schema has %d", n, fl_schema_num_fields(s));
    uint32_t fixed = fl__row_fixed_bytes(n);
    if (row_len < fixed)
        return fl_error_set(err, FL_EFORMAT, "malformed row: length %" PRIu32
                            " is shorter than the %" PRIu32 " bytes of its %" PRIu32
                            " fields' slots", row_len, fixed, n);
    if (p[4] > FL_DELETE)
        return fl_error_set(err, FL_EFORMAT, "malformed row: unknown row kind %u", p[4]);
    if (p[5] != 0)
        return fl_error_set(err, FL_EFORMAT, "malformed row: reserved byte is %u, not 0", p[5]);
    if (n % 64 != 0) {
        uint64_t last;
        memcpy(&last, p + FL_ROW_HEADER + fl__row_bitmap_bytes(n) - 8, 8);
        if (last >> (n % 64) != 0)
            return fl_error_set(err, FL_EFORMAT, "malformed row: null bits set beyond its %"
                                PRIu32 " fields", n);
    }

    uint32_t expect = fixed; /* where the next variable-length value must start */
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *slot = fl__row_slot(p, i);
        fl_type t = fl_schema_field_type(s, (int)i);
        const char *name = fl_schema_field_name(s, (int)i);
        if (fl_row_is_null(buf, (int)i)) {
            if (!all_zero(slot, 8))
                return fl_error_set(err, FL_EFORMAT, "malformed row: field %" PRIu32
                                    " (\"%s\") is null but its slot is not zero", i, name);
            continue;
        }
        switch (t) {
        case FL_BOOLEAN:
            if (slot[0] > 1 || !all_zero(slot + 1, 7))
                return fl_error_set(err, FL_EFORMAT, "malformed row: field %" PRIu32
                                    " (\"%s\") is BOOLEAN but its slot is neither 0 nor 1",
                                    i, name);
            break;
        case FL_INT:
            if (!all_zero(slot + 4, 4))
                return fl_error_set(err, FL_EFORMAT, "malformed row: field %" PRIu32
                                    " (\"%s\") is INT but its slot's upper half is not zero",
                                    i, name);
            break;
        case FL_BIGINT:
        case FL_DOUBLE:
        case FL_TIMESTAMP:
            break;
        case FL_STRING:
        case FL_BYTES: {
            uint32_t off, vlen;
            memcpy(&off, slot, 4);
            memcpy(&vlen, slot + 4, 4);
            if (off != expect)
                return fl_error_set(err, FL_EFORMAT, "malformed row: field %" PRIu32
                                    " (\"%s\") starts at offset %" PRIu32 ", expected %" PRIu32,
                                    i, name, off, expect);
            if (vlen > row_len - off || fl__align8(vlen) > row_len - off)
                return fl_error_set(err, FL_EFORMAT, "malformed row: field %" PRIu32
                                    " (\"%s\") of %" PRIu32 " bytes at offset %" PRIu32
                                    " runs past the row's end (%" PRIu32 " bytes)",
                                    i, name, vlen, off, row_len);
            if (!all_zero(p + off + vlen, fl__align8(vlen) - vlen))
                return fl_error_set(err, FL_EFORMAT, "malformed row: padding after field %"
                                    PRIu32 " (\"%s\") is not zero", i, name);
            expect = off + fl__align8(vlen);
            break;
        }
        default:
            return fl_error_set(err, FL_ESCHEMA, "field %" PRIu32 " (\"%s\") has an unknown "
                                "type %d", i, name, (int)t);
        }
    }
    if (expect != row_len)
        return fl_error_set(err, FL_EFORMAT, "malformed row: %" PRIu32 " bytes long but its "
                            "values end at %" PRIu32, row_len, expect);
    return 0;
}

bool fl_row_equals(const fl_row *a, const fl_row *b) {
    if (a == b)
        return true;
    if (a == NULL || b == NULL)
        return false;
    uint32_t len = fl__row_len(a);
    return len == fl__row_len(b) && memcmp(a, b, len) == 0;
}

fl_row *fl_row_copy(const fl_row *r) {
    uint32_t len = fl__row_len(r);
    fl_row *c = fl_xmalloc(len);
    memcpy(c, r, len);
    return c;
}

/* ---- formatting -------------------------------------------------------------- */

/* snprintf-style output: writes what fits (always NUL-terminated when size >
 * 0) and counts everything. */
typedef struct outbuf {
    char *buf;
    size_t size;
    size_t len;
} outbuf;

static void out_bytes(outbuf *o, const char *s, size_t n) {
    if (o->len + 1 < o->size) {
        size_t room = o->size - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void out_str(outbuf *o, const char *s) { out_bytes(o, s, strlen(s)); }

static void out_fmt(outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(outbuf *o, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        out_bytes(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Formats d the way Java's Double.toString lays it out (plain decimal with at
 * least one fractional digit for 1e-3 <= |d| < 1e7, "d.dddE±n" otherwise),
 * with the fewest significant digits that read back as exactly d. */
static void format_double(double d, char *buf, size_t size) {
    if (isnan(d)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, size, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (d == 0) {
        snprintf(buf, size, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    char sci[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
        if (strtod(sci, NULL) == d)
            break;
    }
    /* sci is "-d.ddde-XX": split into sign, digits and exponent. */
    const char *p = sci;
    bool negative = *p == '-';
    if (negative)
        p++;
    char digits[20];
    int nd = 0;
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    int exp = atoi(p + 1);

    char res[64];
    size_t r = 0;
    if (negative)
        res[r++] = '-';
    double mag = fabs(d);
    if (mag >= 1e-3 && mag < 1e7) {
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++)
                res[r++] = i < nd ? digits[i] : '0';
            res[r++] = '.';
            if (exp + 1 < nd)
                for (int i = exp + 1; i < nd; i++)
                    res[r++] = digits[i];
            else
                res[r++] = '0';
        } else {
            res[r++] = '0';
            res[r++] = '.';
            for (int i = 0; i < -exp - 1; i++)
                res[r++] = '0';
            for (int i = 0; i < nd; i++)
                res[r++] = digits[i];
        }
        res[r] = '\0';
    } else {
        res[r++] = digits[0];
        res[r++] = '.';
        if (nd > 1)
            for (int i = 1; i < nd; i++)
                res[r++] = digits[i];
        else
            res[r++] = '0';
        snprintf(res + r, sizeof res - r, "E%d", exp);
    }
    snprintf(buf, size, "%s", res);
}

static const char *const kind_prefix[] = {"", "-U", "+U", "-D"};

size_t fl_row_format(const fl_row *r, const fl_schema *s, char *buf, size_t size) {
    outbuf o = {buf, size, 0};
    int n = fl__row_nfields(r);
    fl_row_kind kind = fl_row_get_kind(r);
    if (kind != FL_INSERT && (unsigned)kind <= FL_DELETE)
        out_str(&o, kind_prefix[kind]);
    if (s != NULL && fl_schema_num_fields(s) != n) {
        out_fmt(&o, "<row of %d fields does not match a schema of %d>", n,
                fl_schema_num_fields(s));
        goto done;
    }
    out_str(&o, "(");
    for (int i = 0; i < n; i++) {
        if (i > 0)
            out_str(&o, ",");
        if (fl_row_is_null(r, i)) {
            out_str(&o, "null");
            continue;
        }
        fl_type t = s ? fl_schema_field_type(s, i) : (fl_type)0;
        switch (t) {
        case FL_BOOLEAN:
            out_str(&o, fl_row_get_bool(r, i) ? "true" : "false");
            break;
        case FL_INT:
            out_fmt(&o, "%" PRId32, fl_row_get_int(r, i));
            break;
        case FL_BIGINT:
            out_fmt(&o, "%" PRId64, fl_row_get_bigint(r, i));
            break;
        case FL_DOUBLE: {
            char tmp[40];
            format_double(fl_row_get_double(r, i), tmp, sizeof tmp);
            out_str(&o, tmp);
            break;
        }
        case FL_TIMESTAMP: {
            char tmp[40];
            fl_format_timestamp(fl_row_get_timestamp(r, i), tmp, sizeof tmp);
            out_str(&o, tmp);
            break;
        }
        case FL_STRING: {
            uint32_t len;
            const char *str = fl_row_get_string(r, i, &len);
            out_bytes(&o, str, len);
            break;
        }
        case FL_BYTES: {
            static const char hex[] = "0123456789abcdef";
            uint32_t len;
            const uint8_t *b = fl_row_get_bytes(r, i, &len);
            out_str(&o, "x'");
            for (uint32_t k = 0; k < len; k++) {
                char pair[2] = {hex[b[k] >> 4], hex[b[k] & 15]};
                out_bytes(&o, pair, 2);
            }
            out_str(&o, "'");
            break;
        }
        default: /* no schema: the slot's type is unknown */
            out_str(&o, "?");
            break;
        }
    }
    out_str(&o, ")");
done:
    if (size > 0)
        o.buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len;
}
