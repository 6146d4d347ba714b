/*
 * event_time_sessions.c - session windows in event time, with late data
 * (examples/streaming/event_time_sessions.so).
 *
 * A built-in log of page clicks (user, time, page) arrives out of order, as
 * clicks from phones do. Timestamps come from the click time; watermarks
 * trail the highest time seen by a bounded out-of-orderness (--delay,
 * seconds, default 5). Each user's clicks form sessions that close after a
 * gap of --gap seconds without clicks (default 30); each session prints one
 * line when the watermark passes its end:
 *
 *     (alice,2024-01-01 10:00:00.000,2024-01-01 10:01:10.000,4)
 *
 * (user, session start, session end, clicks). Clicks arriving after their
 * session was closed and its allowed lateness (--lateness, seconds, default
 * 0) passed are late data: they go to a side output, printed separately as
 *
 *     (late,carol,2024-01-01 10:00:20.000)
 *
 *     flinc run examples/streaming/event_time_sessions.so [--gap 30] [--delay 5] [--lateness 0]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "flinc/flinc.h"

/* 2024-01-01 10:00:00 UTC in milliseconds. */
#define T0 INT64_C(1704103200000)

static const struct {
    const char *user;
    int seconds; /* after T0 */
    const char *page;
} clicks[] = {
    {"alice", 0, "/home"},      {"bob", 3, "/home"},         {"alice", 12, "/products"},
    {"alice", 8, "/search"},    {"carol", 20, "/home"},      {"bob", 15, "/cart"},
    {"alice", 40, "/cart"},     {"carol", 25, "/help"},      {"bob", 90, "/home"},
    {"alice", 70, "/checkout"}, {"dave", 95, "/home"},       {"carol", 140, "/home"},
    {"bob", 100, "/products"},  {"carol", 18, "/pricing"},   {"alice", 200, "/home"},
    {"dave", 130, "/search"},   {"bob", 230, "/checkout"},   {"alice", 205, "/search"},
    {"dave", 260, "/products"}, {"carol", 150, "/products"}, {"bob", 110, "/cart"},
    {"alice", 300, "/home"},    {"carol", 290, "/home"},     {"dave", 320, "/cart"},
};

/* Parses --name as whole seconds >= min; the default when absent; -1 when invalid. */
static int64_t seconds_param(fl_env *env, const char *name, int64_t dflt, int64_t min) {
    const char *v = fl_env_param(env, name);
    if (v == NULL) return dflt;
    char *end;
    errno = 0;
    long long s = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || s < min || s > 86400) {
        fprintf(stderr,
                "event_time_sessions: --%s must be a number of seconds from %lld to 86400, "
                "not \"%s\"\n",
                name, (long long)min, v);
        return -1;
    }
    return s;
}

/* (user, start, end, clicks) of one session. */
int sessions_summary(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                     fl_collector *out) {
    uint32_t len;
    const char *user = fl_row_get_string(rows[0], 0, &len);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_string(b, 0, user, len);
    fl_row_builder_set_timestamp(b, 1, w->start);
    fl_row_builder_set_timestamp(b, 2, w->end);
    fl_row_builder_set_bigint(b, 3, (int64_t)n);
    return fl_collector_emit(out);
}

/* A late click as (late, user, time). */
int sessions_mark_late(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_cstring(out, 0, "late");
    fl_row_builder_copy_field(out, 1, in, 0);
    fl_row_builder_copy_field(out, 2, in, 1);
    return 0;
}

FLINC_MAIN(env, argc, argv) {
    int64_t gap = seconds_param(env, "gap", 30, 1);
    int64_t delay = seconds_param(env, "delay", 5, 0);
    int64_t lateness = seconds_param(env, "lateness", 0, 0);
    if (gap < 0 || delay < 0 || lateness < 0) return 1;

    fl_schema *click = fl_schema_of(3, "user", FL_STRING, "time", FL_TIMESTAMP, "page", FL_STRING);
    size_t n = sizeof clicks / sizeof clicks[0];
    fl_row *rows[sizeof clicks / sizeof clicks[0]];
    fl_row_builder *b = fl_row_builder_create(click);
    for (size_t i = 0; i < n; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_cstring(b, 0, clicks[i].user);
        fl_row_builder_set_timestamp(b, 1, T0 + clicks[i].seconds * INT64_C(1000));
        fl_row_builder_set_cstring(b, 2, clicks[i].page);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    fl_stream *events = fl_env_from_rows(env, click, (const fl_row *const *)rows, n);
    for (size_t i = 0; i < n; i++) free(rows[i]);

    /* Watermarks after every click, so that the example's output does not
     * depend on how fast it runs. */
    fl_env_configure(env, "pipeline.auto-watermark-interval", "0", NULL);
    fl_watermark_strategy strategy = {.max_out_of_orderness_ms = delay * 1000,
                                      .timestamp_field = "time"};
    fl_stream *timed = fl_stream_assign_timestamps_and_watermarks(events, &strategy);
    fl_stream_name(timed, "Click Times");
    /* One watermark sequence for the whole log. */
    fl_stream_set_parallelism(timed, 1);

    fl_windowed_stream *sessions =
        fl_keyed_window(fl_stream_key_by(timed, "user"), fl_event_time_session_windows(gap * 1000));
    fl_window_allowed_lateness(sessions, lateness * 1000);
    fl_window_side_output_late_data(sessions, "late-clicks");

    fl_schema *summary = fl_schema_of(4, "user", FL_STRING, "start", FL_TIMESTAMP, "end",
                                      FL_TIMESTAMP, "clicks", FL_BIGINT);
    fl_stream *result = fl_window_process(sessions, sessions_summary, summary);
    fl_stream_name(result, "Sessions");
    fl_stream_set_parallelism(fl_stream_print(result), 1);

    fl_schema *late = fl_schema_of(3, "late", FL_STRING, "user", FL_STRING, "time", FL_TIMESTAMP);
    fl_stream *late_clicks = fl_stream_side_output(result, "late-clicks", click);
    fl_stream_set_parallelism(fl_stream_print(fl_stream_map(late_clicks, sessions_mark_late, late)),
                              1);

    int rc = fl_env_execute(env, "Event Time Sessions", NULL) == 0 ? 0 : 1;
    fl_schema_unref(click);
    fl_schema_unref(summary);
    fl_schema_unref(late);
    return rc;
}
