/*
 * sum_count_util.h - the aggregate function (sum, count) that window tests
 * run beside their own window functions: the accumulator and the result
 * are (sum BIGINT, count BIGINT) of the input's BIGINT field
 * SUM_COUNT_FIELD (define it before including). rt_sum_count_merge makes
 * it a merging aggregate; a test that leaves it out of its
 * fl_aggregate_function has one that does not merge. The functions are
 * found by symbol name, so this header is included once per test program.
 */
#ifndef FL_TEST_SUM_COUNT_UTIL_H
#define FL_TEST_SUM_COUNT_UTIL_H

#include "rt_util.h"

#ifndef SUM_COUNT_FIELD
#error "define SUM_COUNT_FIELD, the field summed, before including sum_count_util.h"
#endif

int rt_sum_count_create(fl_context *ctx, fl_row_builder *acc) {
    fl_row_builder_set_bigint(acc, 0, 0);
    fl_row_builder_set_bigint(acc, 1, 0);
    return 0;
}

int rt_sum_count_add(fl_context *ctx, const fl_row *in, const fl_row *acc, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0,
                              fl_row_get_bigint(acc, 0) + fl_row_get_bigint(in, SUM_COUNT_FIELD));
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(acc, 1) + 1);
    return 0;
}

int rt_sum_count_result(fl_context *ctx, const fl_row *acc, fl_row_builder *out) {
    fl_row_builder_copy_row(out, acc);
    return 0;
}

int rt_sum_count_merge(fl_context *ctx, const fl_row *a, const fl_row *b, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(a, 0) + fl_row_get_bigint(b, 0));
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(a, 1) + fl_row_get_bigint(b, 1));
    return 0;
}

#endif
