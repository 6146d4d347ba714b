/*
 * failing_map.c - a job whose map function fails on one record, to check how
 * a user function's failure reaches the person who ran the job.
 *
 *     flinc run failing_map.so [--count N] [--fail-at V] [--rebalance]
 *
 * The source emits 1..N (default 1000) and the map passes every value
 * through, except V (default 777), on which it calls fl_context_fail with a
 * message naming only the value: the task and subtask in the error that
 * `flinc run` prints must come from the engine. The sequence source
 * splits 1..N into contiguous ranges, so with parallelism 2 the value 777
 * is met by the second subtask, "(2/2)". The map is chained to the source and
 * the rows go to a discard sink, chained as well, or with --rebalance through
 * a REBALANCE exchange to a discard task, so that the failure has to stop
 * subtasks of another task that may be waiting on a full buffer pool.
 */
#include <stdlib.h>

#include "flinc/flinc.h"

static int64_t param_or(const fl_context *ctx, const char *key, int64_t fallback) {
    const char *text = fl_context_param(ctx, key);
    if (text == NULL) return fallback;
    return strtoll(text, NULL, 10);
}

int failing_map_check(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int64_t value = fl_row_get_bigint(in, 0);
    if (value == param_or(ctx, "fail-at", 777))
        return fl_context_fail(ctx, "failing_map refuses the value %lld", (long long)value);
    fl_row_builder_set_bigint(out, 0, value);
    return 0;
}

FLINC_MAIN(env, argc, argv) {
    const char *count_text = fl_env_param(env, "count");
    int64_t count = count_text ? strtoll(count_text, NULL, 10) : 1000;
    fl_stream *numbers = fl_env_from_sequence(env, 1, count);
    fl_stream *checked = fl_stream_map(numbers, failing_map_check, NULL);
    fl_stream_name(checked, "Check");
    if (fl_env_param(env, "rebalance") != NULL) checked = fl_stream_rebalance(checked);
    fl_stream_discard(checked);
    return fl_env_execute(env, "Failing map", NULL);
}
