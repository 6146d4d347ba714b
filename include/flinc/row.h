/*
 * flinc/row.h - schemas and binary rows, the data model of flinc.
 *
 * A schema is an ordered list of named, typed fields; it is immutable and
 * reference counted once built. A row is one contiguous binary record, already
 * in its serialized form:
 *
 *   offset 0   u32  total length in bytes (header included, multiple of 8)
 *          4   u8   row kind (FL_INSERT, FL_UPDATE_BEFORE, ...)
 *          5   u8   reserved (0)
 *          6   u16  number of fields n
 *          8        null bitmap: ceil(n / 64) * 8 bytes, bit i set = field i null
 *          ...      n fixed 8-byte slots; a fixed-width value lives in its slot,
 *                   a STRING or BYTES slot holds (u32 offset from row start,
 *                   u32 length) of bytes stored after the slots
 *          ...      variable-length bytes, each value padded to 8 bytes
 *
 * All padding is zero, so two rows with equal values have equal bytes: a key is
 * the row of its key fields, and comparing or hashing keys is comparing bytes.
 * A `const fl_row *` points at the first byte of such a record; rows handed to
 * user functions are borrowed and valid only during the call.
 */
#ifndef FLINC_ROW_H
#define FLINC_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flinc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fl_type {
    FL_BOOLEAN = 1,
    FL_INT,       /* int32_t */
    FL_BIGINT,    /* int64_t */
    FL_DOUBLE,    /* double */
    FL_STRING,    /* UTF-8 bytes, not NUL-terminated in the row */
    FL_BYTES,     /* raw bytes */
    FL_TIMESTAMP, /* TIMESTAMP(3): int64_t milliseconds since the epoch */
} fl_type;

/* Changelog kind of a row, as in Flink: +I, -U, +U, -D. */
typedef enum fl_row_kind {
    FL_INSERT = 0,
    FL_UPDATE_BEFORE = 1,
    FL_UPDATE_AFTER = 2,
    FL_DELETE = 3,
} fl_row_kind;

#define FL_ROW_MAX_FIELDS 1024

typedef struct fl_schema fl_schema;
typedef struct fl_row fl_row;
typedef struct fl_row_builder fl_row_builder;

typedef struct fl_field {
    const char *name;
    fl_type type;
} fl_field;

/* ---- types ---------------------------------------------------------------- */

/* "BIGINT", "STRING", ...; NULL for an unknown value. Static string. */
const char *fl_type_name(fl_type t);
/* Parses a type name (case-insensitive; "TIMESTAMP(3)" and "VARCHAR" accepted).
 * Returns 0 or FL_EINVAL. */
int fl_type_parse(const char *name, fl_type *out);

/* ---- schemas -------------------------------------------------------------- */

/* Returns a new schema (refcount 1) with copies of the n fields' names.
 * Fails with FL_ESCHEMA on an empty or duplicate name, an unknown type, or
 * n > FL_ROW_MAX_FIELDS; returns NULL and fills err then. */
fl_schema *fl_schema_create(const fl_field *fields, int n, fl_error *err);
/* Convenience: fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT).
 * Aborts on invalid input (for literal schemas in job code). */
fl_schema *fl_schema_of(int n, ...);
fl_schema *fl_schema_ref(fl_schema *s); /* returns s with one more reference */
void fl_schema_unref(fl_schema *s);     /* NULL is fine */

int fl_schema_num_fields(const fl_schema *s);
const char *fl_schema_field_name(const fl_schema *s, int i);
fl_type fl_schema_field_type(const fl_schema *s, int i);
/* Index of the field with this name, or -1. */
int fl_schema_index_of(const fl_schema *s, const char *name);
bool fl_schema_equals(const fl_schema *a, const fl_schema *b);
/* "(word STRING, count BIGINT)" into buf; returns buf. */
char *fl_schema_format(const fl_schema *s, char *buf, size_t size);

/* ---- reading rows (borrowed pointers, no allocation) ----------------------- */

uint32_t fl_row_size(const fl_row *r);
int fl_row_num_fields(const fl_row *r);
fl_row_kind fl_row_get_kind(const fl_row *r);
bool fl_row_is_null(const fl_row *r, int i);
bool fl_row_get_bool(const fl_row *r, int i);
int32_t fl_row_get_int(const fl_row *r, int i);
int64_t fl_row_get_bigint(const fl_row *r, int i);
double fl_row_get_double(const fl_row *r, int i);
int64_t fl_row_get_timestamp(const fl_row *r, int i);
/* Pointer into the row (not NUL-terminated) and its length in *len. */
const char *fl_row_get_string(const fl_row *r, int i, uint32_t *len);
const void *fl_row_get_bytes(const fl_row *r, int i, uint32_t *len);

/* Checks that buf holds a well-formed row for schema s (lengths, offsets,
 * field count); used on data that crossed a boundary. 0 or FL_EFORMAT. */
int fl_row_validate(const void *buf, size_t len, const fl_schema *s, fl_error *err);
/* Bytewise equality of two rows. */
bool fl_row_equals(const fl_row *a, const fl_row *b);
/* Human-readable form "(a,1,2.5)" (print sink, debugging) into buf, truncated
 * at size; returns the length it would have had (like snprintf). Nulls print
 * as "null", BYTES as hex "x'0a1b'", TIMESTAMP as "2024-01-01 00:00:00.000". */
size_t fl_row_format(const fl_row *r, const fl_schema *s, char *buf, size_t size);
/* Returns a new malloc'ed copy of r; free() it. */
fl_row *fl_row_copy(const fl_row *r);

/* ---- building rows ----------------------------------------------------------- */

/* A builder writes one row at a time into an internal buffer that grows as
 * needed and is reused, so building rows does not allocate once warm.
 * Fields not set are null. */
fl_row_builder *fl_row_builder_create(const fl_schema *s); /* borrows s (takes a ref) */
void fl_row_builder_destroy(fl_row_builder *b);
const fl_schema *fl_row_builder_schema(const fl_row_builder *b);

/* Starts a new row: all fields null, kind FL_INSERT. */
void fl_row_builder_reset(fl_row_builder *b);
void fl_row_builder_set_kind(fl_row_builder *b, fl_row_kind kind);
void fl_row_builder_set_null(fl_row_builder *b, int i);
void fl_row_builder_set_bool(fl_row_builder *b, int i, bool v);
void fl_row_builder_set_int(fl_row_builder *b, int i, int32_t v);
void fl_row_builder_set_bigint(fl_row_builder *b, int i, int64_t v);
void fl_row_builder_set_double(fl_row_builder *b, int i, double v);
void fl_row_builder_set_timestamp(fl_row_builder *b, int i, int64_t millis);
/* Copies len bytes. */
void fl_row_builder_set_string(fl_row_builder *b, int i, const char *s, uint32_t len);
void fl_row_builder_set_cstring(fl_row_builder *b, int i, const char *s);
void fl_row_builder_set_bytes(fl_row_builder *b, int i, const void *p, uint32_t len);
/* Copies field j of row src into field i (types must match). */
void fl_row_builder_copy_field(fl_row_builder *b, int i, const fl_row *src, int j);
/* Sets every field (and the kind) from src, which must have the builder's
 * schema. */
void fl_row_builder_copy_row(fl_row_builder *b, const fl_row *src);

/* Lays out the row and returns it; valid until the next reset/set on b. */
const fl_row *fl_row_builder_finish(fl_row_builder *b);

/* Setting a field of the wrong type or out of range is a programming error:
 * the builder records it, and finish() returns NULL with the message in
 * fl_row_builder_error() instead of producing a wrong row. */
const char *fl_row_builder_error(const fl_row_builder *b);

#ifdef __cplusplus
}
#endif
#endif
