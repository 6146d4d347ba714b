/*
 * connector_util.c - helpers shared by the built-in connectors: the growable
 * byte buffer that sinks format batches into, row text formatting, error
 * messages in flinc's style, the checks every fixed-schema source makes on
 * the schema the user declared, directory creation for the file sinks (on
 * core/fs.h), and the byte encoding of checkpointed splits and handles.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors_int.h"
#include "mem.h"

char *fl__conn_buf_reserve(fl__conn_buf *b, size_t extra) {
    if (b->cap - b->len < extra) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < extra)
            cap *= 2;
        b->data = fl_xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void fl__conn_buf_append(fl__conn_buf *b, const void *p, size_t n) {
    if (n == 0)
        return;
    memcpy(fl__conn_buf_reserve(b, n), p, n);
    b->len += n;
}

void fl__conn_buf_putc(fl__conn_buf *b, char c) {
    *fl__conn_buf_reserve(b, 1) = c;
    b->len++;
}

void fl__conn_buf_free(fl__conn_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void fl__conn_buf_append_row(fl__conn_buf *b, const fl_row *r, const fl_schema *s, bool bare) {
    /* Format straight into the buffer; on truncation grow to the reported
     * length and format again (rare once the buffer is warm). */
    fl__conn_buf_reserve(b, 64);
    size_t avail = b->cap - b->len;
    size_t need = fl_row_format(r, s, b->data + b->len, avail);
    if (need >= avail) {
        fl__conn_buf_reserve(b, need + 1);
        fl_row_format(r, s, b->data + b->len, need + 1);
    }
    char *text = b->data + b->len;
    if (bare && need >= 2 && text[0] == '(' && text[need - 1] == ')') {
        memmove(text, text + 1, need - 2);
        need -= 2;
    }
    b->len += need;
}

fl_schema *fl__conn_fixed_schema(const char *connector, fl_schema *own,
                                 const fl_schema *declared, fl_error *err) {
    if (declared != NULL && !fl_schema_equals(declared, own)) {
        char want[256], got[256];
        fl_schema_format(own, want, sizeof want);
        fl_schema_format(declared, got, sizeof got);
        fl_error_set(err, FL_ESCHEMA,
                     "connector \"%s\" produces %s; the declared schema %s does not match",
                     connector, want, got);
        return NULL;
    }
    return fl_schema_ref(own);
}

fl_schema *fl__conn_line_schema(void) {
    return fl_schema_of(1, "line", FL_STRING);
}

int fl__conn_get_int_range(const fl_options *o, const char *connector, const char *key,
                           int64_t dflt, int64_t lo, int64_t hi, int64_t *out, fl_error *err) {
    int rc = fl_options_get_int64(o, key, dflt, out, err);
    if (rc < 0)
        return rc;
    if (*out < lo || *out > hi)
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"%s\": option %s=%" PRId64 " is out of range [%" PRId64
                            ", %" PRId64 "]",
                            connector, key, *out, lo, hi);
    return 0;
}

/* ---- files ------------------------------------------------------------------------------- */

int fl__conn_io_error(const char *verb, const char *path, int errnum, fl_error *err) {
    char text[128];
    return fl_error_set(err, errnum == ENOENT ? FL_ENOENT : FL_EIO, "could not %s \"%s\": %s", verb,
                        path, fl_errno_text(errnum, text, sizeof text));
}

int fl__conn_make_dirs(const char *path, fl_error *err) {
    size_t at = 0;
    int r = fl_fs_mkdirs(path, 0777, false, &at);
    if (r == 0)
        return 0;
    if (r == -EEXIST)
        return fl_error_set(err, FL_EIO,
                            "could not create directory \"%s\": a file of that name exists", path);
    if (r == -ENOENT) {
        /* mkdir -p made or found every parent of the prefix path[0, at), so
         * the last one is a symbolic link to nowhere, or vanished since. */
        size_t parent = at;
        while (parent > 0 && path[parent - 1] != '/')
            parent--;
        while (parent > 1 && path[parent - 1] == '/')
            parent--;
        char *missing = parent > 0 ? fl_xstrndup(path, parent) : fl_xstrdup(".");
        int rc = fl_error_set(err, FL_ENOENT,
                              "could not create directory \"%s\": \"%s\" does not exist (a "
                              "symbolic link to a missing directory?); create it or choose "
                              "another path",
                              path, missing);
        free(missing);
        return rc;
    }
    char *prefix = fl_xstrndup(path, at);
    int rc = fl__conn_io_error("create directory", prefix, -r, err);
    free(prefix);
    return rc;
}

char *fl__conn_dir_name(const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    return fl_xstrndup(path, len);
}

/* ---- split and handle blobs -------------------------------------------------------------- */

void fl__blob_begin(fl__conn_buf *b, const char tag[4], uint8_t version) {
    fl__conn_buf_append(b, tag, 4);
    fl__conn_buf_putc(b, (char)version);
}

void fl__blob_put_u64(fl__conn_buf *b, uint64_t v) {
    unsigned char bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)(v >> (8 * i));
    fl__conn_buf_append(b, bytes, 8);
}

void fl__blob_put_str(fl__conn_buf *b, const char *s) {
    size_t len = strlen(s);
    unsigned char bytes[4];
    for (int i = 0; i < 4; i++)
        bytes[i] = (unsigned char)((uint32_t)len >> (8 * i));
    fl__conn_buf_append(b, bytes, 4);
    fl__conn_buf_append(b, s, len);
}

bool fl__blob_open(fl__blob_reader *r, fl_split blob, const char tag[4], uint8_t version) {
    r->p = blob.data;
    r->len = blob.len;
    r->off = 5;
    r->bad = false;
    if (blob.len >= 5 && memcmp(r->p, tag, 4) == 0 && r->p[4] == version)
        return true;
    r->off = r->len; /* every read of a foreign blob fails */
    r->bad = true;
    return false;
}

/* The next n bytes, or NULL (reader bad) when fewer are left. */
static const unsigned char *take(fl__blob_reader *r, size_t n) {
    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *p = r->p + r->off;
    r->off += n;
    return p;
}

uint64_t fl__blob_get_u64(fl__blob_reader *r) {
    const unsigned char *p = take(r, 8);
    uint64_t v = 0;
    for (int i = 0; p != NULL && i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

char *fl__blob_get_str(fl__blob_reader *r) {
    const unsigned char *p = take(r, 4);
    if (p == NULL)
        return NULL;
    uint32_t len = 0;
    for (int i = 0; i < 4; i++)
        len |= (uint32_t)p[i] << (8 * i);
    const unsigned char *text = take(r, len);
    if (text == NULL || memchr(text, '\0', len) != NULL) {
        r->bad = true;
        return NULL;
    }
    return fl_xstrndup((const char *)text, len);
}

bool fl__blob_done(const fl__blob_reader *r) {
    return !r->bad && r->off == r->len;
}

void fl__blob_add_u64s(fl_split_list *out, const char tag[4], uint8_t version, const uint64_t *v,
                       size_t n) {
    fl__conn_buf b = {0};
    fl__blob_begin(&b, tag, version);
    for (size_t i = 0; i < n; i++)
        fl__blob_put_u64(&b, v[i]);
    fl_split_list_add(out, b.data, b.len);
    fl__conn_buf_free(&b);
}

bool fl__blob_read_u64s(fl_split blob, const char tag[4], uint8_t version, uint64_t *v, size_t n) {
    fl__blob_reader r;
    bool ok = fl__blob_open(&r, blob, tag, version);
    for (size_t i = 0; i < n; i++)
        v[i] = fl__blob_get_u64(&r);
    return ok && fl__blob_done(&r);
}

/* ---- split rotation ---------------------------------------------------------------------- */

void fl__split_next_turn(void *splits, size_t size, size_t *n, size_t *cur, bool finished) {
    if (finished) {
        char *sp = (char *)splits + *cur * size;
        memmove(sp, sp + size, (*n - *cur - 1) * size);
        (*n)--;
    } else {
        (*cur)++;
    }
    if (*cur >= *n)
        *cur = 0;
}
