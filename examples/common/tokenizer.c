/*
 * tokenizer.c - the word splitter shared by the WordCount examples: lower-case
 * ASCII, split on every byte that is not an ASCII letter, digit or underscore
 * (the tokenization of Flink's WordCount example), one (word, 1) row per word.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "tokenizer.h"

/* Words up to this length are lower-cased on the stack, longer ones in a
 * heap buffer for the duration of one call. */
#define WORD_INLINE 256

static bool is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

static unsigned char to_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Emits one (word, 1) row for the word of length n starting at p. */
static int emit_word(fl_context *ctx, fl_collector *out, const unsigned char *p, uint32_t n) {
    char inline_buf[WORD_INLINE];
    char *word = inline_buf;
    if (n > sizeof inline_buf) {
        word = malloc(n);
        if (word == NULL)
            return fl_context_fail(ctx, "out of memory for a word of %u bytes", (unsigned)n);
    }
    for (uint32_t i = 0; i < n; i++)
        word[i] = (char)to_lower(p[i]);

    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_string(b, 0, word, n);
    fl_row_builder_set_bigint(b, 1, 1);
    int rc = fl_collector_emit(out);
    if (word != inline_buf)
        free(word);
    return rc;
}

/* flat_map (line STRING) -> (word STRING, count BIGINT): one row per word. */
int wordcount_tokenize(fl_context *ctx, const fl_row *in, fl_collector *out) {
    if (fl_row_is_null(in, 0))
        return 0;
    uint32_t len;
    const unsigned char *line = (const unsigned char *)fl_row_get_string(in, 0, &len);
    uint32_t i = 0;
    while (i < len) {
        while (i < len && !is_word_byte(line[i]))
            i++;
        uint32_t start = i;
        while (i < len && is_word_byte(line[i]))
            i++;
        if (i > start) {
            int rc = emit_word(ctx, out, line + start, i - start);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}
