/*
 * unbounded.c - a job that never ends by itself, to check cancellation.
 *
 *     flinc run unbounded.so [--rate ROWS_PER_SECOND]
 *
 * An unbounded datagen source with a sequence-like BIGINT field "id" limited
 * to --rate rows per second (default 1000), a map that keeps the id, and a
 * print sink: stdout grows steadily until the job is canceled.
 */
#include <stdlib.h>

#include "flinc/flinc.h"

int unbounded_keep_id(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(in, 0));
    return 0;
}

FLINC_MAIN(env, argc, argv) {
    const char *rate_text = fl_env_param(env, "rate");
    int64_t rate = rate_text ? strtoll(rate_text, NULL, 10) : 1000;
    fl_schema *schema = fl_schema_of(1, "id", FL_BIGINT);
    fl_stream *rows = fl_env_datagen(env, schema, 7, 0, rate);
    fl_schema_unref(schema);
    fl_stream *ids = fl_stream_map(rows, unbounded_keep_id, NULL);
    fl_stream_name(ids, "Keep id");
    fl_stream_print(ids);
    return fl_env_execute(env, "Unbounded", NULL);
}
