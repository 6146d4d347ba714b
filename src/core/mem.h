/*
 * mem.h - allocation helpers: out of memory is fatal (logged, then abort),
 * so callers do not carry an error path for every small allocation.
 */
#ifndef FL_CORE_MEM_H
#define FL_CORE_MEM_H

#include <stddef.h>

void *fl_xmalloc(size_t n);
void *fl_xcalloc(size_t count, size_t size);
void *fl_xrealloc(void *p, size_t n);
char *fl_xstrdup(const char *s);
char *fl_xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *fl_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Base64 (RFC 4648, with padding): returns a new NUL-terminated string. */
char *fl_base64_encode(const void *p, size_t len);
/* The length of the base64 text of len bytes. */
#define FL_BASE64_LEN(len) (((len) + 2) / 3 * 4)
/* Writes the base64 text of len bytes at out, which has room for
 * FL_BASE64_LEN(len) characters (no NUL is added); returns that length. */
size_t fl_base64_encode_into(const void *p, size_t len, char *out);
/* Returns new bytes and their length in *len, or NULL on malformed input. */
void *fl_base64_decode(const char *s, size_t *len);

#endif
