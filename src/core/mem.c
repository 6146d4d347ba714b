/*
 * mem.c - allocation that cannot fail from the caller's point of view, and
 * base64 (RFC 4648) for the places where bytes travel as text (job graphs,
 * REST payloads, savepoint metadata).
 *
 * Out of memory is not an error flinc tries to recover from: it says so on
 * stderr, naming the size, and aborts.
 */
#include "mem.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n) {
    fprintf(stderr, "flinc: out of memory (allocating %zu bytes)\n", n);
    fflush(stderr);
    abort();
}

void *fl_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *fl_xcalloc(size_t count, size_t size) {
    if (count == 0 || size == 0)
        count = size = 1;
    void *p = calloc(count, size);
    if (p == NULL)
        oom(count * size);
    return p;
}

void *fl_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *fl_xstrdup(const char *s) {
    size_t n = strlen(s);
    char *d = fl_xmalloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

char *fl_xstrndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *d = fl_xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *fl_xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *s = fl_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- base64 ------------------------------------------------------------------ */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t fl_base64_encode_into(const void *p, size_t len, char *out) {
    const uint8_t *in = p;
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

char *fl_base64_encode(const void *p, size_t len) {
    char *out = fl_xmalloc(FL_BASE64_LEN(len) + 1);
    out[fl_base64_encode_into(p, len, out)] = '\0';
    return out;
}

/* Value of one base64 character, or -1. */
static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict decoding: the length is a multiple of 4, '=' appears only as the
 * last one or two characters, and the bits padding puts after the data are
 * zero, so every byte string has exactly one accepted encoding. */
void *fl_base64_decode(const char *s, size_t *len) {
    size_t n = strlen(s);
    if (n % 4 != 0)
        return NULL;
    size_t pad = 0;
    if (n > 0 && s[n - 1] == '=')
        pad++;
    if (n > 1 && s[n - 2] == '=')
        pad++;
    size_t out_len = n / 4 * 3 - pad;
    uint8_t *out = fl_xmalloc(out_len + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int v[4];
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && last && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            v[k] = b64_value(c);
            if (v[k] < 0)
                goto malformed;
        }
        uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                        (uint32_t)v[3];
        if (last && pad == 2 && (bits & 0xffff) != 0)
            goto malformed;
        if (last && pad == 1 && (bits & 0xff) != 0)
            goto malformed;
        out[o++] = (uint8_t)(bits >> 16);
        if (!(last && pad == 2))
            out[o++] = (uint8_t)(bits >> 8);
        if (!(last && pad >= 1))
            out[o++] = (uint8_t)bits;
    }
    out[o] = '\0';
    *len = o;
    return out;

malformed:
    free(out);
    return NULL;
}
