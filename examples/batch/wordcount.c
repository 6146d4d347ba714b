/*
 * wordcount.c - the batch WordCount example job (examples/batch/wordcount.so).
 *
 * Counts how often every word occurs in a text file, or in a built-in text
 * when no file is given:
 *
 *     flinc run examples/batch/wordcount.so --input FILE [--output DIR]
 *
 * Lines become (word STRING, count BIGINT) pairs with count 1, keyed by the
 * word and summed. The job runs in BATCH runtime mode, where a keyed sum
 * emits only its final value per key once the input has ended, so the result
 * holds exactly one (word,count) row per distinct word. Without --output the
 * rows are printed; with it they are written as text files into DIR.
 *
 * A word is a maximal run of ASCII letters, digits and underscores, folded to
 * lower case; every other byte (spaces, punctuation, non-ASCII bytes)
 * separates words.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flinc/flinc.h"
#include "tokenizer.h"

/* The built-in text, one line per element, used when --input is absent. */
static const char *const default_text[] = {
    "The river does not wait for the miller to finish his bread.",
    "It turns the wheel at dawn, at noon, and long after the lamps are out,",
    "and the miller, who has counted its turns for forty years, still cannot",
    "say how many there were yesterday.",
    "",
    "A stream is a story without a last page. You may read it for an hour,",
    "close the book, and come back to find that the river kept on writing:",
    "new words, old words, the same word again and again.",
    "",
    "So the miller made a rule. Every evening he writes down each word the",
    "river said to him, and beside it a tally: one mark for every time he",
    "heard it. When the tally for a word grows long, he smiles; when a new",
    "word arrives, he gives it a fresh line of its own.",
    "",
    "His daughter says the river only ever says three things: water, stone,",
    "and wait. The miller says she is not counting carefully enough.",
};


/* The built-in text as a bounded (line STRING) stream, or NULL after
 * printing why it could not be built. */
static fl_stream *default_lines(fl_env *env) {
    enum { N = sizeof default_text / sizeof default_text[0] };
    fl_schema *schema = fl_schema_of(1, "line", FL_STRING);
    fl_row_builder *b = fl_row_builder_create(schema);
    const fl_row *rows[N];
    size_t made = 0;
    fl_stream *lines = NULL;

    for (; made < N; made++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_cstring(b, 0, default_text[made]);
        const fl_row *row = fl_row_builder_finish(b);
        if (row == NULL) {
            fprintf(stderr, "wordcount: could not build the default input: %s\n",
                    fl_row_builder_error(b));
            goto done;
        }
        rows[made] = fl_row_copy(row);
        if (rows[made] == NULL) {
            fprintf(stderr, "wordcount: out of memory while building the default input\n");
            goto done;
        }
    }
    lines = fl_env_from_rows(env, schema, rows, N);
    fl_stream_name(lines, "Source: default text");

done:
    for (size_t i = 0; i < made; i++)
        free((void *)rows[i]);
    fl_row_builder_destroy(b);
    fl_schema_unref(schema);
    return lines;
}

FLINC_MAIN(env, argc, argv) {
    fl_error err;
    fl_error_clear(&err);

    /* One final count per word instead of a running update per record. */
    if (fl_env_configure(env, "execution.runtime-mode", "BATCH", &err) != 0) {
        fprintf(stderr, "wordcount: %s\n", err.message);
        return 1;
    }

    const char *input = fl_env_param(env, "input");
    const char *output = fl_env_param(env, "output");

    fl_stream *lines;
    if (input != NULL) {
        lines = fl_env_read_text_file(env, input);
    } else {
        printf("Executing WordCount example with default input data set.\n");
        printf("Use --input to specify file input.\n");
        /* The print sink may write from another thread: keep the order. */
        fflush(stdout);
        lines = default_lines(env);
        if (lines == NULL)
            return 1;
    }

    fl_schema *word_count = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
    fl_stream *words = fl_stream_flat_map(lines, wordcount_tokenize, word_count);
    fl_schema_unref(word_count);
    fl_stream_name(words, "Tokenizer");

    fl_stream *counts = fl_keyed_sum(fl_stream_key_by(words, "word"), "count");
    fl_stream_name(counts, "Sum");

    if (output != NULL)
        fl_stream_write_text(counts, output);
    else
        fl_stream_print(counts);

    /* flinc run reports a failure with the failing subtask and its cause. */
    return fl_env_execute(env, "WordCount", NULL) == 0 ? 0 : 1;
}
