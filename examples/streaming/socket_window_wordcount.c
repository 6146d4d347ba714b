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
#include <stdio.h>
#include <stdlib.h>

#include "flinc/flinc.h"
#include "tokenizer.h"

FLINC_MAIN(env, argc, argv) {
    fl_stream *words = wordcount_socket_words(env, "socket_window_wordcount");
    if (words == NULL) return 1;

    fl_windowed_stream *windows = fl_keyed_window(fl_stream_key_by(words, "word"),
                                                  fl_tumbling_processing_time_windows(5000, 0));
    fl_stream *counts = fl_window_sum(windows, "count");
    fl_stream_set_parallelism(fl_stream_print(counts), 1);

    /* flinc run reports a failure with the failing subtask and its cause. */
    return fl_env_execute(env, "Socket Window WordCount", NULL) == 0 ? 0 : 1;
}
