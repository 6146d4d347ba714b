/*
 * socket_wordcount.c - the streaming WordCount example job
 * (examples/streaming/socket_wordcount.so).
 *
 * Reads lines from a TCP server and prints a running count per word:
 *
 *     nc -lk 9999                       # in one terminal, then type text
 *     flinc run examples/streaming/socket_wordcount.so --port 9999 [--hostname HOST]
 *
 * Every line is split into (word STRING, count BIGINT) pairs with count 1,
 * keyed by the word and summed. The job runs in STREAMING mode: each incoming
 * word prints the word's updated total at once, so a word seen three times
 * prints (word,1), (word,2) and (word,3). The socket source ends when the
 * server closes the connection, and the job finishes then.
 *
 * Words are split exactly as in the batch WordCount: runs of ASCII letters,
 * digits and underscores, folded to lower case.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flinc/flinc.h"
#include "tokenizer.h"


FLINC_MAIN(env, argc, argv) {
    fl_stream *words = wordcount_socket_words(env, "socket_wordcount");
    if (words == NULL) return 1;

    fl_stream *counts = fl_keyed_sum(fl_stream_key_by(words, "word"), "count");
    fl_stream_name(counts, "Sum");
    fl_stream_print(counts);

    /* flinc run reports a failure with the failing subtask and its cause. */
    return fl_env_execute(env, "Socket WordCount", NULL) == 0 ? 0 : 1;
}
