/*
 * window_util.h - what the window tests share: a bit mixer for generated
 * values, rows of (BIGINT, TIMESTAMP "ts", BIGINT) from three generator
 * functions, one timestamp assigner ahead of the windows (so every window
 * subtask sees the watermark of the rows before each of its rows), and the
 * keyed state a window operator left when it closed.
 */
#ifndef FL_TEST_WINDOW_UTIL_H
#define FL_TEST_WINDOW_UTIL_H

#include "rt_util.h"

int64_t fl__keyed_state_bytes_at_close(const char *operator_name);

/* Bytes operator `name` held at close, beyond `before` (a reading taken
 * before the job; negative: none). */
static inline int64_t state_left(const char *name, int64_t before) {
    return fl__keyed_state_bytes_at_close(name) - (before < 0 ? 0 : before);
}

static inline uint32_t mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static inline fl_row **make_rows(const fl_schema *s, int n, int64_t (*a)(int),
                                 int64_t (*ts)(int), int64_t (*b)(int)) {
    fl_row **rows = calloc((size_t)n, sizeof *rows);
    fl_row_builder *rb = fl_row_builder_create(s);
    for (int i = 0; i < n; i++) {
        fl_row_builder_reset(rb);
        fl_row_builder_set_bigint(rb, 0, a(i));
        fl_row_builder_set_timestamp(rb, 1, ts(i));
        fl_row_builder_set_bigint(rb, 2, b(i));
        rows[i] = fl_row_copy(fl_row_builder_finish(rb));
    }
    fl_row_builder_destroy(rb);
    return rows;
}

static inline void free_rows(fl_row **rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i]);
    free(rows);
}

static inline fl_stream *timed(fl_env *env, const fl_schema *s, fl_row **rows, int n,
                               int64_t bound) {
    fl_watermark_strategy ws = {.max_out_of_orderness_ms = bound, .timestamp_field = "ts"};
    return fl_stream_set_parallelism(
        fl_stream_assign_timestamps_and_watermarks(
            fl_env_from_rows(env, s, (const fl_row *const *)rows, (size_t)n), &ws),
        1);
}

#endif
