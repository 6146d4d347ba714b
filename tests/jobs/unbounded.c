/*
 * unbounded.c - a job that never ends by itself, to check cancellation.
 *
 *     flinc run unbounded.so [--rate ROWS_PER_SECOND] [--rebalance] [--discard]
 *
 * An unbounded datagen source of (id BIGINT) limited to --rate rows per
 * second over all subtasks (default 1000; 0 = as fast as possible), a map that
 * keeps the id, and a print sink, so stdout grows steadily until the job is
 * canceled. --rebalance puts a REBALANCE exchange before the map, so that the
 * job has two tasks joined by buffers; --discard drops the rows instead of
 * printing them.
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
    if (fl_env_param(env, "rebalance") != NULL) rows = fl_stream_rebalance(rows);
    fl_stream *ids = fl_stream_map(rows, unbounded_keep_id, NULL);
    fl_stream_name(ids, "Keep id");
    if (fl_env_param(env, "discard") != NULL)
        fl_stream_discard(ids);
    else
        fl_stream_print(ids);
    return fl_env_execute(env, "Unbounded", NULL);
}
