/*
 * tokenizer.c - the word splitter shared by the WordCount examples: lower-case
 * ASCII, split on every byte that is not an ASCII letter, digit or underscore
 * (the tokenization of Flink's WordCount example), one (word, 1) row per word.
 *
 * A word without upper-case letters (most of them) goes to the row builder
 * straight from the line; only one with upper-case letters is lower-cased
 * into a buffer first (on the stack up to WORD_INLINE bytes, else on the
 * heap for the duration of one call).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "tokenizer.h"

#define WORD_INLINE 256

/* Byte classes: not part of a word, part of a word, an upper-case letter. */
enum { SEPARATOR = 0, WORD = 1, UPPER = 2 };

static unsigned char byte_class(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') return WORD;
    if (c >= 'A' && c <= 'Z') return UPPER;
    return SEPARATOR;
}

/* Emits one (word, 1) row for the word of length n starting at p; upper
 * tells whether it has upper-case letters. */
static int emit_word(fl_context *ctx, fl_collector *out, const unsigned char *p, uint32_t n,
                     bool upper) {
    char inline_buf[WORD_INLINE];
    char *word = NULL;
    if (upper) {
        word = n <= sizeof inline_buf ? inline_buf : malloc(n);
        if (word == NULL)
            return fl_context_fail(ctx, "out of memory for a word of %u bytes", (unsigned)n);
        for (uint32_t i = 0; i < n; i++)
            word[i] = (char)(byte_class(p[i]) == UPPER ? p[i] - 'A' + 'a' : p[i]);
    }
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_string(b, 0, word ? word : (const char *)p, n);
    fl_row_builder_set_bigint(b, 1, 1);
    int rc = fl_collector_emit(out);
    if (word != NULL && word != inline_buf) free(word);
    return rc;
}

/* flat_map (line STRING) -> (word STRING, count BIGINT): one row per word. */
int wordcount_tokenize(fl_context *ctx, const fl_row *in, fl_collector *out) {
    if (fl_row_is_null(in, 0)) return 0;
    uint32_t len;
    const unsigned char *line = (const unsigned char *)fl_row_get_string(in, 0, &len);
    uint32_t i = 0;
    while (i < len) {
        while (i < len && byte_class(line[i]) == SEPARATOR) i++;
        uint32_t start = i;
        unsigned char seen = 0;
        for (unsigned char c; i < len && (c = byte_class(line[i])) != SEPARATOR; i++) seen |= c;
        if (i > start) {
            int rc = emit_word(ctx, out, line + start, i - start, seen & UPPER);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* ---- the socket examples' input ---------------------------------------------------------- */

static void socket_usage(const char *program) {
    fprintf(stderr,
            "%s: no port given\n"
            "usage: flinc run %s.so [--hostname HOST] --port PORT\n"
            "  HOST (localhost by default) and PORT are the address of the text server; to\n"
            "  start a simple one, run `nc -lk PORT` and type the input text into it.\n",
            program, program);
}

/* Parses a TCP port in [1, 65535]; -1 when s is not one. */
static int parse_port(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535) return -1;
    return (int)v;
}

fl_stream *wordcount_socket_words(fl_env *env, const char *program) {
    const char *hostname = fl_env_param(env, "hostname");
    const char *port_text = fl_env_param(env, "port");
    if (hostname == NULL) hostname = "localhost";
    if (port_text == NULL) {
        socket_usage(program);
        return NULL;
    }
    int port = parse_port(port_text);
    if (port < 0) {
        fprintf(stderr, "%s: invalid port \"%s\": expected a number from 1 to 65535\n", program,
                port_text);
        return NULL;
    }
    fl_stream *lines = fl_env_socket_text_stream(env, hostname, port, "\n");
    fl_schema *word_count = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
    fl_stream *words = fl_stream_flat_map(lines, wordcount_tokenize, word_count);
    fl_schema_unref(word_count);
    return fl_stream_name(words, "Tokenizer");
}
