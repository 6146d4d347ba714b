/*
 * row_int.h - the binary row layout, for the code that reads or writes rows
 * without a builder (key projection, serializers, the runtime's fast paths).
 * The layout itself is described in include/flinc/row.h.
 */
#ifndef FL_CORE_ROW_INT_H
#define FL_CORE_ROW_INT_H

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

#endif
