/*
 * eo_window.c - a test job for exactly-once recovery across processes: a
 * sequence, slowed down so that a test can kill the process mid-run, is
 * keyed by value % 13, summed in 1-second tumbling event-time windows (the
 * value is its own timestamp) and written through the exactly-once file sink
 * as "key,window start,sum,count". Options: --rows N, --out DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "flinc/flinc.h"

int eo_window_slow(fl_context *ctx, const fl_row *in) {
    /* About 40k rows per second per subtask: long enough to be killed. */
    if (fl_row_get_bigint(in, 0) % 400 == 0) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

int64_t eo_window_ts(fl_context *ctx, const fl_row *in, int64_t previous) {
    return fl_row_get_bigint(in, 0);
}

int eo_window_key(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, v % 13);
    fl_row_builder_set_bigint(out, 1, v);
    return 0;
}

int eo_window_sum(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                  fl_collector *out) {
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += fl_row_get_bigint(rows[i], 1);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(rows[0], 0));
    fl_row_builder_set_bigint(b, 1, w->start);
    fl_row_builder_set_bigint(b, 2, sum);
    fl_row_builder_set_bigint(b, 3, (int64_t)n);
    return fl_collector_emit(out);
}

FLINC_MAIN(env, argc, argv) {
    const char *rows = fl_env_param(env, "rows"), *dir = fl_env_param(env, "out");
    if (!rows || !dir) {
        fprintf(stderr, "eo_window: --rows N and --out DIR are required\n");
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "path=%s", dir);
    fl_schema *kv = fl_schema_of(2, "k", FL_BIGINT, "v", FL_BIGINT);
    fl_schema *res = fl_schema_of(4, "k", FL_BIGINT, "start", FL_BIGINT, "sum", FL_BIGINT, "n",
                                  FL_BIGINT);
    fl_watermark_strategy ws = {.timestamp_fn = eo_window_ts};
    fl_stream *src = fl_stream_uid(fl_env_from_sequence(env, 0, atoll(rows) - 1), "source");
    fl_stream *slow = fl_stream_uid(fl_stream_filter(src, eo_window_slow), "slow");
    fl_stream *timed = fl_stream_uid(fl_stream_assign_timestamps_and_watermarks(slow, &ws), "ts");
    fl_stream *keyed = fl_stream_uid(fl_stream_map(timed, eo_window_key, kv), "key");
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(keyed, "k"), fl_tumbling_event_time_windows(1000, 0));
    fl_stream *sums = fl_stream_uid(fl_window_process(w, eo_window_sum, res), "window");
    const char *opts[] = {path, "format=csv", "rolling.on-checkpoint=true", NULL};
    fl_stream_uid(fl_stream_add_sink(sums, "filesystem-exactly-once", opts), "sink");
    fl_schema_unref(kv);
    fl_schema_unref(res);
    return fl_env_execute(env, "Exactly-once windows", NULL) == 0 ? 0 : 1;
}
