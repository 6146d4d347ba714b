/*
 * tokenizer.h - the WordCount examples' flat_map function.
 */
#ifndef FLINC_EXAMPLES_TOKENIZER_H
#define FLINC_EXAMPLES_TOKENIZER_H

#include "flinc/flinc.h"

/* flat_map (line STRING) -> (word STRING, count BIGINT): one row per word. */
int wordcount_tokenize(fl_context *ctx, const fl_row *in, fl_collector *out);

/* The socket examples' input: (word STRING, count BIGINT) rows of the lines
 * read from --hostname (localhost) / --port (required). NULL after printing
 * the usage or the error, naming `program`. */
fl_stream *wordcount_socket_words(fl_env *env, const char *program);

#endif
