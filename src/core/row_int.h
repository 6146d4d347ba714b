/*
 * row_int.h - the binary row layout, for the code that reads or writes rows
 * without a builder (key projection, serializers, the runtime's fast paths).
 * The layout itself is described in include/flinc/row.h.
 */
#ifndef FL_CORE_ROW_INT_H
#define FL_CORE_ROW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flinc/row.h"

#define FL_ROW_HEADER 8u

static inline uint32_t fl__row_bitmap_bytes(uint32_t nfields) {
    return ((nfields + 63u) / 64u) * 8u;
}
static inline uint32_t fl__row_fixed_bytes(uint32_t nfields) {
    return FL_ROW_HEADER + fl__row_bitmap_bytes(nfields) + 8u * nfields;
}
static inline uint32_t fl__align8(uint32_t n) { return (n + 7u) & ~7u; }
static inline uint32_t fl__row_len(const void *row) {
    uint32_t len;
    memcpy(&len, row, 4);
    return len;
}
static inline uint16_t fl__row_nfields(const void *row) {
    uint16_t n;
    memcpy(&n, (const uint8_t *)row + 6, 2);
    return n;
}
/* Address of slot i. */
static inline const uint8_t *fl__row_slot(const void *row, uint32_t i) {
    uint32_t n = fl__row_nfields(row);
    return (const uint8_t *)row + FL_ROW_HEADER + fl__row_bitmap_bytes(n) + 8u * i;
}

/* Inline forms of the row.h accessors for the runtime's per-record paths
 * (the exported ones are calls through the shared library's PLT). Same
 * results; field indexes are not checked. */
static inline bool fl__row_null(const void *row, uint32_t i) {
    uint64_t word;
    memcpy(&word, (const uint8_t *)row + FL_ROW_HEADER + 8u * (i / 64u), 8);
    return (word >> (i % 64u)) & 1u;
}
static inline uint64_t fl__row_slot_u64(const void *row, uint32_t i) {
    uint64_t v;
    memcpy(&v, fl__row_slot(row, i), 8);
    return v;
}
/* A STRING or BYTES field's bytes and length (NULL, 0 when null). */
static inline const uint8_t *fl__row_var(const void *row, uint32_t i, uint32_t *len) {
    if (fl__row_null(row, i)) {
        *len = 0;
        return NULL;
    }
    uint64_t slot = fl__row_slot_u64(row, i);
    *len = (uint32_t)(slot >> 32);
    return (const uint8_t *)row + (uint32_t)slot;
}

/* Copies len bytes from src to dst as whole 8-byte words, zero padded to
 * fl__align8(len) (dst has room for that much); reads only the len bytes at
 * src. A value of up to 16 bytes is assembled in registers and stored one
 * word at a time, so that a following 8-byte load of a word (a key row's
 * hash reading it) is forwarded from its one store: a word put together
 * from overlapping smaller stores makes that load wait until they retire. */
static inline void fl__copy_padded(void *dst, const void *src, uint32_t len) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (len == 0) return;
    if (len > 16) {
        memcpy(d, s, len);
        if (len % 8) memset(d + len, 0, 8 - len % 8);
        return;
    }
    uint64_t w0, w1 = 0;
    if (len >= 8) {
        /* Both loads in bounds; the second word is bytes 8..len-1 (little
         * endian), chosen without a branch: word lengths vary at random. */
        uint64_t tail;
        memcpy(&w0, s, 8);
        memcpy(&tail, s + len - 8, 8);
        uint64_t shifted = tail >> ((8 * (16 - len)) & 63);
        w1 = len > 8 ? shifted : 0;
    } else if (len >= 4) {
        uint32_t head, tail;
        memcpy(&head, s, 4);
        memcpy(&tail, s + len - 4, 4);
        w0 = (uint64_t)head | (uint64_t)tail << (8 * (len - 4)); /* the overlap agrees */
    } else {
        w0 = (uint64_t)s[0] | (len > 1 ? (uint64_t)s[1] << 8 : 0) |
             (len > 2 ? (uint64_t)s[2] << 16 : 0);
    }
    memcpy(d, &w0, 8);
    if (len > 8) memcpy(d + 8, &w1, 8);
}

/* Copies a row (or any run of whole 8-byte words: len is a multiple of 8)
 * inline when it is short, as keys and small records are. */
static inline void fl__copy_words(void *dst, const void *src, uint32_t len) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (len > 64) {
        memcpy(d, s, len);
        return;
    }
    for (uint32_t k = 0; k < len; k += 8) {
        uint64_t v;
        memcpy(&v, s + k, 8);
        memcpy(d + k, &v, 8);
    }
}

/* Lays a builder's row out into caller memory (the collector writes rows
 * straight into its output batch): returns the finished row's length, and
 * writes the row at dst when that length is at most room; 0 when the
 * builder failed (fl_row_builder_error tells why). */
uint32_t fl__row_builder_lay_out(fl_row_builder *b, uint8_t *dst, size_t room);

/* For rows that differ only in one STRING or BYTES field (a collector
 * emitting a row per word of a line): sets field i to (v, len) like
 * fl_row_builder_set_string/bytes, finishes the row in place, and when the
 * value is the row's last bytes returns the row, with in *off where the value
 * starts and in *slot where field i's slot is. Any row with another value
 * of field i is then the returned row's first *off bytes, the total length
 * in its first 4 bytes, (*off, length) at *slot and the value zero padded
 * at *off. NULL when that does not hold (the builder failed, or another
 * variable-length field follows): the caller sets and lays out each row. */
const uint8_t *fl__row_builder_var_tail(fl_row_builder *b, int i, const void *v, uint32_t len,
                                        uint32_t *off, uint32_t *slot);

/* Equality of two short byte strings (keys, namespaces: tens of bytes)
 * without a call into libc: eight bytes at a time. */
static inline bool fl__bytes_equal(const void *a, const void *b, uint32_t n) {
    const uint8_t *p = a, *q = b;
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, p, 8);
        memcpy(&y, q, 8);
        if (x != y) return false;
        p += 8;
        q += 8;
        n -= 8;
    }
    while (n--)
        if (*p++ != *q++) return false;
    return true;
}

#endif
