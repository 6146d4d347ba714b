/*
 * flinc/error.h - the one error convention of flinc.
 *
 * Every fallible call returns an int (0 or a negative FL_E* code) and, where a
 * message helps, fills an fl_error that the caller owns. The first error wins:
 * once an fl_error holds a code, later fl_error_set calls leave it alone, so the
 * root cause is what the user sees. Codes are generated from one X-macro table.
 */
#ifndef FLINC_ERROR_H
#define FLINC_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, default message) */
#define FL_ERROR_TABLE(X)                                                                          \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOENT, -2, "no such file or directory")                                                     \
    X(ENOMEM, -3, "out of memory")                                                                 \
    X(EIO, -4, "input/output error")                                                               \
    X(ECONFIG, -5, "invalid configuration")                                                        \
    X(ESCHEMA, -6, "schema mismatch")                                                              \
    X(ERESOLVE, -7, "function cannot be resolved")                                                 \
    X(EAGAIN, -8, "resource temporarily unavailable")                                              \
    X(ECANCELED, -9, "canceled")                                                                   \
    X(EUSER, -10, "user function failed")                                                          \
    X(ESTATE, -11, "invalid state")                                                                \
    X(EADDRINUSE, -12, "address already in use")                                                   \
    X(ENET, -13, "network error")                                                                  \
    X(EFORMAT, -14, "malformed data")                                                              \
    X(ERESOURCE, -15, "not enough resources")                                                      \
    X(EUNSUPPORTED, -16, "not supported")

enum {
#define FL__ERR_ENUM(name, value, msg) FL_##name = (value),
    FL_ERROR_TABLE(FL__ERR_ENUM)
#undef FL__ERR_ENUM
};

#define FL_ERROR_MSG_MAX 1024

typedef struct fl_error {
    int code;                       /* 0 while no error has been recorded */
    char message[FL_ERROR_MSG_MAX]; /* lower case, no trailing period */
} fl_error;

/* Resets e to "no error". e may be NULL. */
void fl_error_clear(fl_error *e);

/* Records code and a printf-style message unless e already holds an error
 * (first error wins). e may be NULL. Returns code, so a caller can write
 * `return fl_error_set(err, FL_EIO, "could not open \"%s\": %s", ...)`. */
int fl_error_set(fl_error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in e with "prefix: " (used to add context
 * while an error travels up). No-op when e holds no error. */
void fl_error_prefix(fl_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Symbolic name of a code ("EINVAL") and its default message. Static strings. */
const char *fl_strerror_name(int code);
const char *fl_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
