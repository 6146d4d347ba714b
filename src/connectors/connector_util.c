/*
 * connector_util.c - helpers shared by the built-in connectors: the growable
 * byte buffer that sinks format batches into, row text formatting, error
 * texts in flinc's message style, and the checks every fixed-schema source
 * makes on the schema the user declared.
 */
#include <ctype.h>
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

const char *fl__conn_errno_text(int errnum, char *buf, size_t size) {
    if (size == 0)
        return buf;
    /* The GNU strerror_r may return a static string instead of filling buf. */
    const char *msg = strerror_r(errnum, buf, size);
    if (msg != buf)
        snprintf(buf, size, "%s", msg);
    if (buf[0] != '\0' && isupper((unsigned char)buf[0]) &&
        !(buf[1] != '\0' && isupper((unsigned char)buf[1])))
        buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
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
