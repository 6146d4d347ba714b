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
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flinc/flinc.h"
#include "tokenizer.h"


static void usage(void) {
    fprintf(stderr,
            "socket_wordcount: no port given\n"
            "usage: flinc run socket_wordcount.so [--hostname HOST] --port PORT\n"
            "  Start a text server first, for example `nc -lk 9999`, then run the job\n"
            "  with --port 9999; HOST defaults to localhost.\n");
}

/* Parses a TCP port in [1, 65535]; -1 when s is not one. */
static int parse_port(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535)
        return -1;
    return (int)v;
}

FLINC_MAIN(env, argc, argv) {
    const char *hostname = fl_env_param(env, "hostname");
    const char *port_text = fl_env_param(env, "port");
    if (hostname == NULL)
        hostname = "localhost";
    if (port_text == NULL) {
        usage();
        return 1;
    }
    int port = parse_port(port_text);
    if (port < 0) {
        fprintf(stderr,
                "socket_wordcount: invalid port \"%s\": expected a number from 1 to 65535\n",
                port_text);
        return 1;
    }

    fl_stream *lines = fl_env_socket_text_stream(env, hostname, port, "\n");

    fl_schema *word_count = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
    fl_stream *words = fl_stream_flat_map(lines, wordcount_tokenize, word_count);
    fl_schema_unref(word_count);
    fl_stream_name(words, "Tokenizer");

    fl_stream *counts = fl_keyed_sum(fl_stream_key_by(words, "word"), "count");
    fl_stream_name(counts, "Sum");
    fl_stream_print(counts);

    /* flinc run reports a failure with the failing subtask and its cause. */
    return fl_env_execute(env, "Socket WordCount", NULL) == 0 ? 0 : 1;
}
