/*
 * socket_window_wordcount.c - Flink's SocketWindowWordCount example job
 * (examples/streaming/socket_window_wordcount.so).
 *
 * Counts the words that arrive from a TCP server in tumbling 5-second
 * processing-time windows and prints one (word,count) line per word and
 * window when the window closes:
 *
 *     nc -lk 9999                       # in one terminal, then type text
 *     flinc run examples/streaming/socket_window_wordcount.so --port 9999 [--hostname HOST]
 *
 * Lines are split into words as in the other WordCount examples (runs of
 * ASCII letters, digits and underscores, folded to lower case), keyed by the
 * word, windowed, and summed; the result is printed by one sink, as Flink's
 * example does. The socket source ends when the server closes the
 * connection; as in Flink, a processing-time window still open then is not
 * fired, so words of the last 5 seconds are not printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "flinc/flinc.h"
#include "tokenizer.h"

static void usage(void) {
    fprintf(stderr,
            "socket_window_wordcount: no port given\n"
            "usage: flinc run socket_window_wordcount.so [--hostname HOST] --port PORT\n"
            "  HOST (localhost by default) and PORT are the address of the text server; to\n"
            "  start a simple one, run `nc -lk PORT` and type the input text into it.\n");
}

/* Parses a TCP port in [1, 65535]; -1 when s is not one. */
static int parse_port(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535) return -1;
    return (int)v;
}

FLINC_MAIN(env, argc, argv) {
    const char *hostname = fl_env_param(env, "hostname");
    const char *port_text = fl_env_param(env, "port");
    if (hostname == NULL) hostname = "localhost";
    if (port_text == NULL) {
        usage();
        return 1;
    }
    int port = parse_port(port_text);
    if (port < 0) {
        fprintf(stderr,
                "socket_window_wordcount: invalid port \"%s\": expected a number from 1 to 65535\n",
                port_text);
        return 1;
    }

    fl_stream *text = fl_env_socket_text_stream(env, hostname, port, "\n");

    fl_schema *word_count = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
    fl_stream *words = fl_stream_flat_map(text, wordcount_tokenize, word_count);
    fl_schema_unref(word_count);
    fl_stream_name(words, "Tokenizer");

    fl_windowed_stream *windows = fl_keyed_window(fl_stream_key_by(words, "word"),
                                                  fl_tumbling_processing_time_windows(5000, 0));
    fl_stream *counts = fl_window_sum(windows, "count");
    fl_stream_set_parallelism(fl_stream_print(counts), 1);

    /* flinc run reports a failure with the failing subtask and its cause. */
    return fl_env_execute(env, "Socket Window WordCount", NULL) == 0 ? 0 : 1;
}
