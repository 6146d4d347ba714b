/*
 * misuse.c - jobs built wrongly in one of several ways, each of which must end
 * in one clear error instead of a crash or a silent success:
 *
 *     flinc run misuse.so --case CASE
 *
 *   batch-socket    BATCH runtime mode with an unbounded socket source
 *   unknown-key     key_by on a field the stream does not have ("colour")
 *   union-mismatch  union of (value BIGINT) with (word STRING, count BIGINT)
 *   no-execute      builds a dataflow but never calls fl_env_execute
 *
 * An unknown or missing --case makes the job return 3 without running.
 */
#include <string.h>

#include "flinc/flinc.h"

int misuse_word(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_cstring(out, 0, "word");
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(in, 0));
    return 0;
}

FLINC_MAIN(env, argc, argv) {
    const char *which = fl_env_param(env, "case");
    if (which == NULL) return 3;
    fl_error err;
    fl_error_clear(&err);

    if (strcmp(which, "batch-socket") == 0) {
        if (fl_env_configure(env, "execution.runtime-mode", "BATCH", &err) != 0) return 3;
        /* Port 9 (discard) is never contacted: the plan is refused first. */
        fl_stream *lines = fl_env_socket_text_stream(env, "127.0.0.1", 9, NULL);
        fl_stream_discard(lines);
        return fl_env_execute(env, "Batch socket", NULL);
    }
    if (strcmp(which, "unknown-key") == 0) {
        fl_stream *numbers = fl_env_from_sequence(env, 1, 10);
        fl_stream_print(fl_keyed_sum(fl_stream_key_by(numbers, "colour"), "value"));
        return fl_env_execute(env, "Unknown key", NULL);
    }
    if (strcmp(which, "union-mismatch") == 0) {
        fl_schema *word_count = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
        fl_stream *numbers = fl_env_from_sequence(env, 1, 10);
        fl_stream *words = fl_stream_map(fl_env_from_sequence(env, 1, 10), misuse_word, word_count);
        fl_schema_unref(word_count);
        fl_stream_print(fl_stream_union(numbers, words));
        return fl_env_execute(env, "Union mismatch", NULL);
    }
    if (strcmp(which, "no-execute") == 0) {
        fl_stream_print(fl_env_from_sequence(env, 1, 10));
        return 0;
    }
    return 3;
}
