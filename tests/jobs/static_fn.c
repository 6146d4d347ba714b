/*
 * static_fn.c - a job whose map function is static, so it has no exported
 * symbol name and could never be resolved by a task in another process.
 * test_errors.sh expects fl_env_execute to refuse the job before any task
 * runs; the map would print a marker line if it ever ran.
 *
 *     flinc run static_fn.so
 */
#include <stdio.h>

#include "flinc/flinc.h"

static int hidden_double(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    printf("static_fn: the static map function ran\n");
    fl_row_builder_set_bigint(out, 0, 2 * fl_row_get_bigint(in, 0));
    return 0;
}

FLINC_MAIN(env, argc, argv) {
    fl_stream *numbers = fl_env_from_sequence(env, 1, 10);
    fl_stream *doubled = fl_stream_map(numbers, hidden_double, NULL);
    fl_stream_print(doubled);
    return fl_env_execute(env, "Static function", NULL);
}
