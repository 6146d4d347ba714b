/*
 * error.c - the error table and fl_error, flinc's one way of reporting failure.
 *
 * Names and default messages come from the FL_ERROR_TABLE X-macro in
 * flinc/error.h. An fl_error keeps the first error recorded in it (the root
 * cause); later layers may only add context in front with fl_error_prefix.
 */
#include "flinc/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fl_error_clear(fl_error *e) {
    if (e == NULL)
        return;
    e->code = 0;
    e->message[0] = '\0';
}

int fl_error_set(fl_error *e, int code, const char *fmt, ...) {
    if (e == NULL || e->code != 0 || code == 0)
        return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

void fl_error_prefix(fl_error *e, const char *fmt, ...) {
    if (e == NULL || e->code == 0)
        return;
    char prefix[FL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);

    /* "prefix: old", cut at the buffer's end (the old message's tail goes). */
    char joined[FL_ERROR_MSG_MAX];
    size_t plen = strlen(prefix);
    size_t olen = strlen(e->message);
    size_t len = 0;
    memcpy(joined, prefix, plen);
    len = plen;
    if (olen > 0 && len + 2 < sizeof joined) {
        memcpy(joined + len, ": ", 2);
        len += 2;
        size_t room = sizeof joined - 1 - len;
        size_t take = olen < room ? olen : room;
        memcpy(joined + len, e->message, take);
        len += take;
    }
    joined[len] = '\0';
    memcpy(e->message, joined, len + 1);
}

const char *fl_strerror_name(int code) {
    switch (code) {
#define FL__ERR_NAME(name, value, msg) \
    case (value):                      \
        return #name;
        FL_ERROR_TABLE(FL__ERR_NAME)
#undef FL__ERR_NAME
    default:
        return "EUNKNOWN";
    }
}

const char *fl_strerror(int code) {
    switch (code) {
#define FL__ERR_MSG(name, value, msg) \
    case (value):                     \
        return msg;
        FL_ERROR_TABLE(FL__ERR_MSG)
#undef FL__ERR_MSG
    default:
        return "unknown error";
    }
}
