/*
 * connectors_int.h - what the files of the connectors module share: the
 * descriptors that registry.c lists, and small helpers (a growable byte
 * buffer, error texts, schema checks, files, row text and CSV formatting,
 * the encoding of checkpointed splits and handles) that several connectors
 * need. Nothing here is visible outside src/connectors.
 */
#ifndef FL_CONNECTORS_INT_H
#define FL_CONNECTORS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flinc/connector.h"
#include "flinc/error.h"
#include "flinc/row.h"
#include "fs.h"

/* Rows a source emits per read() call at most, so that read() returns quickly. */
#define FL__CONN_BATCH_ROWS 1024

/* ---- descriptors (one per file) ---------------------------------------------------------- */

extern const fl_source_connector fl__source_collection;
extern const fl_source_connector fl__source_sequence;
extern const fl_source_connector fl__source_datagen;
extern const fl_source_connector fl__source_filesystem;
extern const fl_source_connector fl__source_socket;
extern const fl_source_connector fl__source_nexmark;

extern const fl_sink_connector fl__sink_print;
extern const fl_sink_connector fl__sink_filesystem;
extern const fl_sink_connector fl__sink_blackhole;
extern const fl_sink_connector fl__sink_collect;
extern const fl_sink_connector fl__sink_function;
extern const fl_sink_connector fl__sink_filesystem_exactly_once;

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

/* Errno texts (fl_errno_text) and the other file system helpers are
 * core/fs.h's. */

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

/* ---- files ------------------------------------------------------------------------------- */

/* "could not VERB \"PATH\": <strerror(errnum)>" as FL_ENOENT when errnum is
 * ENOENT (a missing file or directory), else FL_EIO. Returns the code. */
int fl__conn_io_error(const char *verb, const char *path, int errnum, fl_error *err);
/* mkdir -p; several subtasks may race to create the same directories.
 * FL_ENOENT naming path and the missing parent when a parent cannot be
 * reached (a symbolic link to a missing directory), else FL_EIO. */
int fl__conn_make_dirs(const char *path, fl_error *err);
/* A new copy of path without its trailing slashes ("/" stays "/"). */
char *fl__conn_dir_name(const char *path);

/* ---- text and CSV rows (row_format.c) ---------------------------------------------------- */

/* How the file sinks turn rows into lines, from their options format
 * (text or csv) and csv.field-delimiter.
 * text: each line is the row as print() shows it without the parentheses.
 * csv:  RFC 4180 quoting (a field holding the delimiter, a quote, CR or LF is
 *       quoted, quotes doubled), nulls as empty fields, BYTES as base64,
 *       DOUBLE in the shortest form that reads back exactly. Lines end in LF. */
typedef struct fl__row_format {
    bool csv;
    char delimiter;
    const fl_schema *schema; /* borrowed; NULL when only checking options */
    fl__conn_buf field;      /* one CSV field before quoting */
} fl__row_format;

/* Reads the options; FL_ECONFIG naming the connector when one is wrong.
 * Finalize with fl__row_format_fini (also after an error). */
int fl__row_format_init(fl__row_format *f, const fl_options *o, const char *connector,
                        const fl_schema *schema, fl_error *err);
void fl__row_format_fini(fl__row_format *f);
/* Appends row r and its line end to out. */
void fl__row_format_append(fl__row_format *f, fl__conn_buf *out, const fl_row *r);

/* ---- random numbers (datagen, nexmark) -------------------------------------------------- */

/* The generators behind the sources whose rows are pure functions of (seed,
 * row number): splitmix64 to seed, xoshiro256** to draw. Inline, and exactly
 * these operations: generated rows must not change between versions. */

static inline uint64_t fl__splitmix64(uint64_t *x) {
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static inline uint64_t fl__rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** */
static inline uint64_t fl__rng_next(uint64_t s[4]) {
    uint64_t result = fl__rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = fl__rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double fl__rng_unit(uint64_t s[4]) {
    return (double)(fl__rng_next(s) >> 11) * 0x1.0p-53;
}

/* ---- split and handle blobs -------------------------------------------------------------- */

/* The encoding of the blobs that sources snapshot and sinks pre-commit (see
 * fl_split in flinc/connector.h): a 4-character tag naming the connector and
 * the kind of blob, a version byte, then fields: integers as 8 little-endian
 * bytes, strings as a 4-byte little-endian length and the bytes. Portable
 * across processes and machines, so savepoints are. */
void fl__blob_begin(fl__conn_buf *b, const char tag[4], uint8_t version);
void fl__blob_put_u64(fl__conn_buf *b, uint64_t v);
void fl__blob_put_str(fl__conn_buf *b, const char *s);

typedef struct fl__blob_reader {
    const unsigned char *p;
    size_t len, off;
    bool bad; /* a read went past the end */
} fl__blob_reader;

/* Starts reading blob; false when it does not start with tag and version. */
bool fl__blob_open(fl__blob_reader *r, fl_split blob, const char tag[4], uint8_t version);
/* 0 and marks the reader bad when the blob is too short. */
uint64_t fl__blob_get_u64(fl__blob_reader *r);
/* A new string, or NULL (reader marked bad) when the blob is too short or
 * the string holds a NUL byte. */
char *fl__blob_get_str(fl__blob_reader *r);
/* Whether every field was there and nothing is left over. */
bool fl__blob_done(const fl__blob_reader *r);

/* The common case, a blob of integers only: adds the blob of tag, version
 * and the n integers v to out. */
void fl__blob_add_u64s(fl_split_list *out, const char tag[4], uint8_t version, const uint64_t *v,
                       size_t n);
/* Reads a blob of tag, version and exactly n integers into v; false when
 * blob is not one (v then holds what could be read, the rest 0). */
bool fl__blob_read_u64s(fl_split blob, const char tag[4], uint8_t version, uint64_t *v, size_t n);

/* ---- split rotation ---------------------------------------------------------------------- */

/* After a batch from split *cur of the *n splits (an array of elements of
 * `size` bytes): a finished split leaves the array, else the next split
 * takes its turn; *cur wraps to 0. So the splits of an unbounded source all
 * advance. */
void fl__split_next_turn(void *splits, size_t size, size_t *n, size_t *cur, bool finished);

#endif
