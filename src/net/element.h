/*
 * element.h - how stream elements are laid out inside a network buffer.
 *
 * Every element starts with a 16-byte header, so rows that follow it stay
 * 8-byte aligned:
 *
 *   u8  tag          FL_EL_RECORD, FL_EL_WATERMARK, ...
 *   u8  reserved[3]
 *   u32 payload      bytes after the header (a record's row length)
 *   i64 value        record: timestamp (FL_NO_TIMESTAMP when none);
 *                    watermark: its time; barrier: checkpoint id;
 *                    status: 1 idle / 0 active
 *
 * Control elements travel in-band, in order with the records of their channel.
 */
#ifndef FL_NET_ELEMENT_H
#define FL_NET_ELEMENT_H

#include <stdint.h>
#include <string.h>

enum {
    FL_EL_RECORD = 1,
    FL_EL_WATERMARK = 2,
    FL_EL_END_OF_PARTITION = 3,
    FL_EL_BARRIER = 4,
    FL_EL_STATUS = 5,
};

#define FL_EL_HEADER 16u

typedef struct fl_element_header {
    uint8_t tag;
    uint8_t reserved[3];
    uint32_t payload;
    int64_t value;
} fl_element_header;

_Static_assert(sizeof(fl_element_header) == FL_EL_HEADER, "element header is 16 bytes");

static inline void fl_element_write_header(uint8_t *at, uint8_t tag, uint32_t payload,
                                           int64_t value) {
    fl_element_header h = {.tag = tag, .payload = payload, .value = value};
    memcpy(at, &h, sizeof h);
}

static inline fl_element_header fl_element_read_header(const uint8_t *at) {
    fl_element_header h;
    memcpy(&h, at, sizeof h);
    return h;
}

#endif
