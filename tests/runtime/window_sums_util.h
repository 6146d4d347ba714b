/*
 * window_sums_util.h - the keyed event-time window that the exactly-once and
 * stop-with-savepoint tests check against sums computed from their input:
 * a row's BIGINT value is its timestamp, its key is value % KEYS (define
 * KEYS before including), and a window emits (key, window start, sum of the
 * values, count). The functions are found by symbol name, so this header is
 * included once per test program.
 */
#ifndef FL_TEST_WINDOW_SUMS_UTIL_H
#define FL_TEST_WINDOW_SUMS_UTIL_H

#include "rt_util.h"

#ifndef KEYS
#error "define KEYS, the number of keys, before including window_sums_util.h"
#endif

int64_t rt_sums_ts(fl_context *ctx, const fl_row *in, int64_t previous) {
    return fl_row_get_bigint(in, 0);
}

/* (key, value) */
int rt_sums_key(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, v % KEYS);
    fl_row_builder_set_bigint(out, 1, v);
    return 0;
}

/* (key, window start, sum of values, count) */
int rt_sums_window(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
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

#endif
