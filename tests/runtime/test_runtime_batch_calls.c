/*
 * test_runtime_batch_calls.c - the calls that take many rows at once:
 * fl_collector_emit_strings (a row per value, laid out in one loop) and a
 * watermark strategy's batch timestamp assigner. Each is checked against
 * rows or timestamps worked out in the test from the same input, for the
 * shortcut and for the general way the calls fall back to, and their errors
 * fail the job with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flinc/flinc.h"
#include "rt_util.h"

#define LINES 300
#define MAX_WORDS 40

/* ---- the input: lines of words of every length class ------------------------------- */

/* Word j of line i: empty, short, 8 and 9 - 16 bytes, and longer than a
 * short row (so both copy paths of the shortcut run). */
static int word_of(int i, int j, char *buf) {
    static const char *stems[] = {"", "a", "abc", "abcdefg", "abcdefgh", "abcdefghi",
                                  "abcdefghijklmnop", "abcdefghijklmnopq",
                                  "a-word-that-is-longer-than-the-sixty-four-bytes-of-a-short-row-x"};
    const char *stem = stems[(i * 7 + j * 3) % (int)(sizeof stems / sizeof *stems)];
    int n = (int)strlen(stem);
    memcpy(buf, stem, (size_t)n);
    if (n > 0) buf[n - 1] = (char)('0' + (i + j) % 10); /* words of a line differ */
    return n;
}

static int words_in(int i) { return i % MAX_WORDS; } /* line 0 has none */

/* Lines are (id BIGINT); the words come from word_of, so that no
 * separator parsing stands between the test and what it checks. */
static fl_schema *line_schema(void) { return fl_schema_of(1, "id", FL_BIGINT); }

static fl_stream *lines(fl_env *env) {
    fl_schema *s = line_schema();
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row *rows[LINES];
    for (int i = 0; i < LINES; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, i);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_stream *st = fl_env_from_rows(env, s, (const fl_row *const *)rows, LINES);
    for (int i = 0; i < LINES; i++) free(rows[i]);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
    return st;
}

/* ---- fl_collector_emit_strings -------------------------------------------------------- */

/* Output (tag STRING, word STRING, id BIGINT) or (word STRING, tag STRING,
 * id BIGINT): `field` says where the word goes. The tag is set first, so
 * with the word in field 0 another value follows it (the general way),
 * with the word in field 1 it is the row's last value (the shortcut). */
static int emit_words(fl_context *ctx, const fl_row *in, fl_collector *out, int field) {
    int64_t id = fl_row_get_bigint(in, 0);
    fl_row_builder *b = fl_collector_builder(out);
    char tag[16];
    int tn = snprintf(tag, sizeof tag, "t%lld", (long long)id);
    fl_row_builder_set_string(b, 1 - field, tag, (uint32_t)tn);
    fl_row_builder_set_bigint(b, 2, id);
    char store[MAX_WORDS][80];
    const char *values[MAX_WORDS];
    uint32_t lens[MAX_WORDS];
    int n = words_in((int)id);
    for (int j = 0; j < n; j++) {
        lens[j] = (uint32_t)word_of((int)id, j, store[j]);
        values[j] = store[j];
    }
    int rc = fl_collector_emit_strings(out, field, (uint32_t)n, values, lens);
    if (rc < 0 || n == 0) return rc;
    /* The builder keeps the last word: one more emit repeats it. */
    return fl_collector_emit(out);
}

int bc_words_first(fl_context *ctx, const fl_row *in, fl_collector *out) {
    return emit_words(ctx, in, out, 0);
}

int bc_words_last(fl_context *ctx, const fl_row *in, fl_collector *out) {
    return emit_words(ctx, in, out, 1);
}

static int row_order(const void *a, const void *b) {
    const fl_row *x = *(const fl_row *const *)a, *y = *(const fl_row *const *)b;
    uint32_t lx = fl_row_size(x), ly = fl_row_size(y);
    int c = memcmp(x, y, lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

/* The rows each line must give, built field by field with a fresh builder:
 * the collected rows must be byte for byte these (canonical layout). */
static void check_words(fl_collect *c, const fl_schema *out, int field) {
    fl_row_builder *b = fl_row_builder_create(out);
    size_t expected = 0;
    for (int i = 0; i < LINES; i++) expected += (size_t)(words_in(i) + (words_in(i) > 0));
    fl_row **want = calloc(expected, sizeof *want);
    size_t k = 0;
    for (int i = 0; i < LINES; i++) {
        int n = words_in(i);
        for (int j = 0; j <= n && n > 0; j++) {
            char w[80], tag[16];
            int wn = word_of(i, j < n ? j : n - 1, w); /* the repeat of the last word */
            int tn = snprintf(tag, sizeof tag, "t%d", i);
            fl_row_builder_reset(b);
            fl_row_builder_set_string(b, field, w, (uint32_t)wn);
            fl_row_builder_set_string(b, 1 - field, tag, (uint32_t)tn);
            fl_row_builder_set_bigint(b, 2, i);
            want[k++] = fl_row_copy(fl_row_builder_finish(b));
        }
    }
    assert_int_equal(k, expected);
    assert_int_equal(fl_collect_count(c), expected);
    const fl_row **got = calloc(expected, sizeof *got);
    for (size_t i = 0; i < expected; i++) got[i] = fl_collect_row(c, i);
    qsort(got, expected, sizeof *got, row_order);
    qsort(want, expected, sizeof *want, row_order);
    for (size_t i = 0; i < expected; i++) {
        if (!fl_row_equals(got[i], want[i])) {
            char g[256], w[256];
            fl_row_format(got[i], out, g, sizeof g);
            fl_row_format(want[i], out, w, sizeof w);
            fail_msg("row %zu: got %s, expected %s", i, g, w);
        }
    }
    for (size_t i = 0; i < expected; i++) free(want[i]);
    free(want);
    free(got);
    fl_row_builder_destroy(b);
}

static void run_words(int field) {
    fl_env *env = rt_env(2, NULL);
    fl_schema *out = field == 0 ? fl_schema_of(3, "word", FL_STRING, "tag", FL_STRING, "id", FL_BIGINT)
                                : fl_schema_of(3, "tag", FL_STRING, "word", FL_STRING, "id", FL_BIGINT);
    fl_stream *words = fl_stream_flat_map(fl_stream_rebalance(lines(env)),
                                          field == 0 ? bc_words_first : bc_words_last, out);
    /* Through an exchange as well, so the rows are read back from buffers. */
    fl_collect *c = fl_stream_collect(fl_stream_rebalance(words));
    rt_execute(env, "emit strings");
    check_words(c, out, field);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

/* The word is the row's last value: the rows are laid out in one loop. */
static void test_emit_strings_last_value(void **state) { run_words(1); }

/* Another value follows the word: each row goes the general way. */
static void test_emit_strings_value_followed(void **state) { run_words(0); }

int bc_strings_into_bigint(fl_context *ctx, const fl_row *in, fl_collector *out) {
    const char *v[] = {"x"};
    uint32_t len[] = {1};
    fl_collector_builder(out);
    return fl_collector_emit_strings(out, 0, 1, v, len);
}

int bc_null_with_length(fl_context *ctx, const fl_row *in, fl_collector *out) {
    const char *v[] = {"ok", NULL};
    uint32_t len[] = {2, 3};
    fl_collector_builder(out);
    return fl_collector_emit_strings(out, 0, 2, v, len);
}

static void expect_failure(fl_flat_map_fn fn, const fl_schema *out, const char *message) {
    fl_env *env = rt_env(1, NULL);
    fl_stream_discard(fl_stream_name(fl_stream_flat_map(lines(env), fn, out), "Splitter"));
    fl_error err = {0};
    assert_int_equal(fl_env_execute(env, "bad strings", &err), FL_EUSER);
    if (!strstr(err.message, message) || !strstr(err.message, "Splitter"))
        fail_msg("unexpected error: %s", err.message);
    fl_env_destroy(env);
}

static void test_emit_strings_errors(void **state) {
    fl_schema *num = fl_schema_of(1, "n", FL_BIGINT);
    expect_failure(bc_strings_into_bigint, num, "is BIGINT, not STRING");
    fl_schema_unref(num);
    fl_schema *str = fl_schema_of(1, "s", FL_STRING);
    expect_failure(bc_null_with_length, str, "NULL string of length 3");
    fl_schema_unref(str);
}

/* ---- batch timestamp assigners -------------------------------------------------------- */

static int64_t stamp_of(int64_t id) { return 1000 + (id * 37) % 500; }

int bc_stamps(fl_context *ctx, uint32_t n, const fl_row *const *rows, int64_t *timestamps) {
    for (uint32_t k = 0; k < n; k++) {
        /* The rows come without a timestamp: that is what is passed in. */
        if (timestamps[k] != FL_NO_TIMESTAMP)
            return fl_context_fail(ctx, "row %u came with timestamp %lld", k,
                                   (long long)timestamps[k]);
        timestamps[k] = stamp_of(fl_row_get_bigint(rows[k], 0));
    }
    return 0;
}

/* (id, the timestamp the row carries) */
int bc_record_stamp(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(in, 0));
    fl_row_builder_set_bigint(b, 1, fl_context_timestamp(ctx));
    return fl_collector_emit(out);
}

/* Periodic watermarks (the batch goes on whole) or one after every row that
 * moves the watermark (row by row). */
static void run_batch_timestamps(const char *interval) {
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", interval, NULL);
    fl_watermark_strategy ws = {.max_out_of_orderness_ms = 500, .timestamp_batch_fn = bc_stamps};
    fl_stream *timed = fl_stream_assign_timestamps_and_watermarks(
        fl_stream_rebalance(lines(env)), &ws);
    fl_schema *out = fl_schema_of(2, "id", FL_BIGINT, "ts", FL_BIGINT);
    fl_collect *c = fl_stream_collect(fl_stream_process(timed, bc_record_stamp, out));
    rt_execute(env, "batch timestamps");
    assert_int_equal(fl_collect_count(c), LINES);
    int seen[LINES] = {0};
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *r = fl_collect_row(c, i);
        int64_t id = fl_row_get_bigint(r, 0);
        assert_true(id >= 0 && id < LINES);
        seen[id]++;
        assert_int_equal(fl_row_get_bigint(r, 1), stamp_of(id));
    }
    for (int i = 0; i < LINES; i++) assert_int_equal(seen[i], 1);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

static void test_batch_timestamps(void **state) {
    run_batch_timestamps("200 ms");
    run_batch_timestamps("0 ms");
}

int bc_stamps_fail(fl_context *ctx, uint32_t n, const fl_row *const *rows, int64_t *timestamps) {
    return fl_context_fail(ctx, "no clock today");
}

int64_t bc_one_stamp(fl_context *ctx, const fl_row *in, int64_t previous) { return 0; }

static void test_batch_timestamps_errors(void **state) {
    fl_env *env = rt_env(1, NULL);
    fl_watermark_strategy ws = {.timestamp_batch_fn = bc_stamps_fail};
    fl_stream_discard(fl_stream_assign_timestamps_and_watermarks(lines(env), &ws));
    fl_error err = {0};
    assert_int_equal(fl_env_execute(env, "failing stamps", &err), FL_EUSER);
    assert_non_null(strstr(err.message, "no clock today"));
    fl_env_destroy(env);

    /* Two assigners at once is a building error. */
    env = rt_env(1, NULL);
    fl_watermark_strategy both = {.timestamp_fn = bc_one_stamp, .timestamp_batch_fn = bc_stamps};
    fl_stream_discard(fl_stream_assign_timestamps_and_watermarks(lines(env), &both));
    fl_error err2 = {0};
    assert_int_equal(fl_env_execute(env, "two assigners", &err2), FL_EINVAL);
    if (!strstr(err2.message, "one of a timestamp field"))
        fail_msg("unexpected error: %s", err2.message);
    fl_env_destroy(env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emit_strings_last_value),
        cmocka_unit_test(test_emit_strings_value_followed),
        cmocka_unit_test(test_emit_strings_errors),
        cmocka_unit_test(test_batch_timestamps),
        cmocka_unit_test(test_batch_timestamps_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
