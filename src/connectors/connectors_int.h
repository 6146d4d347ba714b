/*
 * connectors_int.h - what the files of the connectors module share: the
 * descriptors that registry.c lists, and small helpers (a growable byte
 * buffer, error texts, schema checks, row text formatting) that several
 * connectors need. Nothing here is visible outside src/connectors.
 */
#ifndef FL_CONNECTORS_INT_H
#define FL_CONNECTORS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flinc/connector.h"
#include "flinc/error.h"
#include "flinc/row.h"

/* Rows a source emits per read() call at most, so that read() returns quickly. */
#define FL__CONN_BATCH_ROWS 1024

/* ---- descriptors (one per file) ---------------------------------------------------------- */

extern const fl_source_connector fl__source_collection;
extern const fl_source_connector fl__source_sequence;
extern const fl_source_connector fl__source_datagen;
extern const fl_source_connector fl__source_filesystem;
extern const fl_source_connector fl__source_socket;

extern const fl_sink_connector fl__sink_print;
extern const fl_sink_connector fl__sink_filesystem;
extern const fl_sink_connector fl__sink_blackhole;
extern const fl_sink_connector fl__sink_collect;
extern const fl_sink_connector fl__sink_function;

/* ---- byte buffer ------------------------------------------------------------------------- */

/* A growable byte buffer; zero-initialized is empty. Out of memory aborts. */
typedef struct fl__conn_buf {
    char *data;
    size_t len;
    size_t cap;
} fl__conn_buf;

/* Makes room for `extra` more bytes after len; returns data + len. */
char *fl__conn_buf_reserve(fl__conn_buf *b, size_t extra);
void fl__conn_buf_append(fl__conn_buf *b, const void *p, size_t n);
void fl__conn_buf_putc(fl__conn_buf *b, char c);
void fl__conn_buf_free(fl__conn_buf *b);

/* Appends fl_row_format(r) to b; with `bare`, without the outer parentheses
 * (the text file format). */
void fl__conn_buf_append_row(fl__conn_buf *b, const fl_row *r, const fl_schema *s, bool bare);

/* ---- errors and schemas ------------------------------------------------------------------ */

/* strerror(errnum) with a lower-case first letter (flinc's message style),
 * written into buf; returns buf. Thread-safe. */
const char *fl__conn_errno_text(int errnum, char *buf, size_t size);

/* A connector with a fixed output schema `own`: `declared` must be NULL or
 * equal to it. Returns a new reference to own, or NULL with FL_ESCHEMA. */
fl_schema *fl__conn_fixed_schema(const char *connector, fl_schema *own,
                                 const fl_schema *declared, fl_error *err);

/* (line STRING), a new reference. */
fl_schema *fl__conn_line_schema(void);

/* Reads an option that must be a single integer within [lo, hi]; `dflt` when
 * unset. FL_ECONFIG naming the connector and the option otherwise. */
int fl__conn_get_int_range(const fl_options *o, const char *connector, const char *key,
                           int64_t dflt, int64_t lo, int64_t hi, int64_t *out, fl_error *err);

#endif
