/*
 * test_connectors_datagen.c - the "datagen" source: output reproducible for a
 * seed, values within min/max/length, rows split over subtasks, sequence
 * fields produced exactly once, null rates, the rate limiter's idle time, and
 * the option/type checks made when the graph is built.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "connectors.h"
#include "fake_ctx.h"
#include "mem.h"
#include "options.h"

static fl_schema *all_types(void) {
    return fl_schema_of(7, "b", FL_BOOLEAN, "i", FL_INT, "l", FL_BIGINT, "d", FL_DOUBLE, "s",
                        FL_STRING, "y", FL_BYTES, "t", FL_TIMESTAMP);
}

static fl_source_ctx *run(const fl_schema *s, const char *const *kv, int index, int p) {
    fl_error err = {0};
    fl_source_ctx *ctx = fake_source_collect("datagen", s, kv, index, p, &err);
    if (ctx == NULL)
        fail_msg("%s", err.message);
    return ctx;
}

static bool same_rows(const fl_source_ctx *a, const fl_source_ctx *b) {
    if (a->n_rows != b->n_rows)
        return false;
    for (size_t i = 0; i < a->n_rows; i++)
        if (!fl_row_equals(a->rows[i], b->rows[i]))
            return false;
    return true;
}

static void deterministic_for_seed(void **unused) {
    fl_schema *s = all_types();
    const char *kv42[] = {"seed=42", "number-of-rows=600", "rows-per-second=0",
                          "fields.t.min=0", "fields.t.max=4102444800000", NULL};
    const char *kv43[] = {"seed=43", "number-of-rows=600", "rows-per-second=0",
                          "fields.t.min=0", "fields.t.max=4102444800000", NULL};
    for (int i = 0; i < 3; i++) {
        fl_source_ctx *a = run(s, kv42, i, 3);
        fl_source_ctx *b = run(s, kv42, i, 3);
        fl_source_ctx *c = run(s, kv43, i, 3);
        assert_int_equal(a->n_rows, 200);
        assert_true(same_rows(a, b));
        assert_false(same_rows(a, c));
        /* Subtasks do not repeat each other. */
        fl_source_ctx *other = run(s, kv42, (i + 1) % 3, 3);
        assert_false(same_rows(a, other));
        fake_source_destroy(other);
        fake_source_destroy(a);
        fake_source_destroy(b);
        fake_source_destroy(c);
    }
    fl_schema_unref(s);
}

static void values_within_bounds(void **unused) {
    fl_schema *s = all_types();
    const char *kv[] = {"number-of-rows=3000", "rows-per-second=0", "fields.i.min=-5",
                        "fields.i.max=5", "fields.l.min=100", "fields.l.max=200",
                        "fields.d.min=1.5", "fields.d.max=2.5", "fields.s.length=7",
                        "fields.y.length=3", "fields.t.min=1000", "fields.t.max=2000", NULL};
    fl_source_ctx *ctx = run(s, kv, 0, 1);
    assert_int_equal(ctx->n_rows, 3000);
    bool seen_true = false, seen_false = false, seen_min = false, seen_max = false;
    for (size_t r = 0; r < ctx->n_rows; r++) {
        const fl_row *row = ctx->rows[r];
        for (int f = 0; f < 7; f++)
            assert_false(fl_row_is_null(row, f));
        if (fl_row_get_bool(row, 0))
            seen_true = true;
        else
            seen_false = true;
        int32_t i = fl_row_get_int(row, 1);
        assert_true(i >= -5 && i <= 5);
        seen_min |= i == -5;
        seen_max |= i == 5;
        int64_t l = fl_row_get_bigint(row, 2);
        assert_true(l >= 100 && l <= 200);
        double d = fl_row_get_double(row, 3);
        assert_true(d >= 1.5 && d <= 2.5);
        uint32_t len;
        const char *str = fl_row_get_string(row, 4, &len);
        assert_int_equal(len, 7);
        for (uint32_t k = 0; k < len; k++)
            assert_true(islower((unsigned char)str[k]) || isdigit((unsigned char)str[k]));
        fl_row_get_bytes(row, 5, &len);
        assert_int_equal(len, 3);
        int64_t t = fl_row_get_timestamp(row, 6);
        assert_true(t >= 1000 && t <= 2000);
    }
    assert_true(seen_true && seen_false && seen_min && seen_max);
    fake_source_destroy(ctx);
    fl_schema_unref(s);
}

static void defaults(void **unused) {
    fl_schema *s = fl_schema_of(3, "s", FL_STRING, "t", FL_TIMESTAMP, "d", FL_DOUBLE);
    const char *kv[] = {"number-of-rows=100", "rows-per-second=0", NULL};
    int64_t before = fl_clock_wall_ms();
    fl_source_ctx *ctx = run(s, kv, 0, 1);
    int64_t after = fl_clock_wall_ms();
    for (size_t r = 0; r < ctx->n_rows; r++) {
        uint32_t len;
        fl_row_get_string(ctx->rows[r], 0, &len);
        assert_int_equal(len, 100);
        int64_t t = fl_row_get_timestamp(ctx->rows[r], 1);
        assert_true(t >= before - 86400000 && t <= after);
        double d = fl_row_get_double(ctx->rows[r], 2);
        assert_true(d >= 0 && d <= 1);
    }
    fake_source_destroy(ctx);
    fl_schema_unref(s);
}

static void rows_split_over_subtasks(void **unused) {
    fl_schema *s = fl_schema_of(1, "x", FL_BIGINT);
    const char *kv[] = {"number-of-rows=1001", "rows-per-second=0", NULL};
    for (int p = 1; p <= 8; p++) {
        size_t total = 0;
        for (int i = 0; i < p; i++) {
            fl_source_ctx *ctx = run(s, kv, i, p);
            assert_true(ctx->n_rows == 1001 / (size_t)p || ctx->n_rows == 1001 / (size_t)p + 1);
            total += ctx->n_rows;
            fake_source_destroy(ctx);
        }
        assert_int_equal(total, 1001);
    }
    fl_schema_unref(s);
}

static void sequence_fields_exactly_once(void **unused) {
    fl_schema *s = fl_schema_of(3, "id", FL_BIGINT, "code", FL_STRING, "n", FL_INT);
    const char *kv[] = {"rows-per-second=0",        "fields.id.kind=sequence",
                        "fields.id.start=10",       "fields.id.end=2509",
                        "fields.code.kind=sequence", "fields.code.start=-100",
                        "fields.code.end=100000",   "fields.n.min=0",
                        "fields.n.max=0",           NULL};
    const fl_source_connector *c = fl_source_connector_find("datagen");
    fl_error err = {0};
    fl_options *o = fake_options(c->options, "connector \"datagen\"", kv, &err);
    assert_non_null(o);
    assert_true(c->bounded(o));
    fl_options_destroy(o);
    for (int p = 1; p <= 8; p++) {
        char *seen = fl_xcalloc(2500, 1);
        size_t total = 0;
        for (int i = 0; i < p; i++) {
            fl_source_ctx *ctx = run(s, kv, i, p);
            for (size_t r = 0; r < ctx->n_rows; r++) {
                int64_t id = fl_row_get_bigint(ctx->rows[r], 0);
                assert_true(id >= 10 && id <= 2509);
                assert_int_equal(seen[id - 10], 0);
                seen[id - 10] = 1;
                /* The two sequences advance together: code = -100 + (id - 10). */
                uint32_t len;
                const char *code = fl_row_get_string(ctx->rows[r], 1, &len);
                char expect[32];
                snprintf(expect, sizeof expect, "%lld", (long long)(id - 110));
                assert_int_equal(len, strlen(expect));
                assert_memory_equal(code, expect, len);
                assert_int_equal(fl_row_get_int(ctx->rows[r], 2), 0);
            }
            total += ctx->n_rows;
            fake_source_destroy(ctx);
        }
        assert_int_equal(total, 2500); /* the shorter sequence ends the source */
        free(seen);
    }

    /* number-of-rows below the sequence length wins. */
    const char *kv_rows[] = {"rows-per-second=0", "number-of-rows=7", "fields.id.kind=sequence",
                             "fields.id.start=1", "fields.id.end=100", NULL};
    fl_schema *one = fl_schema_of(1, "id", FL_BIGINT);
    fl_source_ctx *ctx = run(one, kv_rows, 0, 1);
    assert_int_equal(ctx->n_rows, 7);
    assert_int_equal(fl_row_get_bigint(ctx->rows[6], 0), 7);
    fake_source_destroy(ctx);
    fl_schema_unref(one);
    fl_schema_unref(s);
}

static void null_rates(void **unused) {
    fl_schema *s = fl_schema_of(2, "a", FL_BIGINT, "b", FL_STRING);
    const char *kv[] = {"number-of-rows=2000", "rows-per-second=0", "fields.a.null-rate=1",
                        "fields.b.null-rate=0.5", NULL};
    fl_source_ctx *ctx = run(s, kv, 0, 1);
    size_t nulls = 0;
    for (size_t r = 0; r < ctx->n_rows; r++) {
        assert_true(fl_row_is_null(ctx->rows[r], 0));
        nulls += fl_row_is_null(ctx->rows[r], 1);
    }
    /* Binomial(2000, 0.5): far outside 800..1200 only with negligible probability. */
    assert_true(nulls > 800 && nulls < 1200);
    fake_source_destroy(ctx);
    fl_schema_unref(s);
}

static void rate_limit_goes_idle(void **unused) {
    fl_schema *s = fl_schema_of(1, "x", FL_BIGINT);
    const fl_source_connector *c = fl_source_connector_find("datagen");
    const char *kv[] = {"rows-per-second=10", NULL};
    fl_error err = {0};
    fl_options *o = fake_options(c->options, "connector \"datagen\"", kv, &err);
    assert_non_null(o);
    assert_false(c->bounded(o));
    fl_source_ctx *ctx = fake_source_create(s, 1, 2); /* 5 rows per second per subtask */
    void *state;
    assert_int_equal(c->open(ctx, o, &state, &err), 0);
    int64_t t0 = fl_clock_monotonic_ns();
    int rc = c->read(state, ctx, &err);
    int64_t t1 = fl_clock_monotonic_ns();
    assert_int_equal(rc, FL_SOURCE_MORE);
    assert_int_equal(ctx->n_rows, 1);
    /* The next row is due 1/5 s after the first read started; unless the
     * machine stalled for that long, the source is ahead of its schedule. */
    rc = c->read(state, ctx, &err);
    if (rc == FL_SOURCE_IDLE) {
        assert_int_equal(ctx->n_rows, 1);
        assert_true(ctx->idle_until >= t0 + 200000000);
        assert_true(ctx->idle_until <= t1 + 200000000);
    } else {
        assert_int_equal(rc, FL_SOURCE_MORE);
    }
    c->close(state);
    fake_source_destroy(ctx);

    /* Unthrottled and unbounded: runs until canceled. */
    fl_options_destroy(o);
    const char *kv_fast[] = {"rows-per-second=0", NULL};
    o = fake_options(c->options, "connector \"datagen\"", kv_fast, &err);
    ctx = fake_source_create(s, 0, 1);
    ctx->cancel_after = 5000;
    assert_int_equal(fake_source_run(c, o, ctx, 1000, false, &err), FL_ECANCELED);
    assert_int_equal(ctx->n_rows, 5000);
    fake_source_destroy(ctx);
    fl_options_destroy(o);
    fl_schema_unref(s);
}

static void expect_error(const fl_schema *s, const char *const *kv, int code, const char *text) {
    fl_error err = {0};
    fl_source_ctx *ctx = fake_source_collect("datagen", s, kv, 0, 1, &err);
    if (ctx != NULL)
        fail_msg("expected an error containing \"%s\"", text);
    assert_int_equal(err.code, code);
    if (strstr(err.message, text) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", err.message, text);
}

static void option_errors(void **unused) {
    fl_schema *s = all_types();
    const char *length_on_bigint[] = {"fields.l.length=5", NULL};
    expect_error(s, length_on_bigint, FL_ECONFIG,
                 "option fields.l.length does not apply to a BIGINT field");
    const char *min_gt_max[] = {"fields.i.min=10", "fields.i.max=1", NULL};
    expect_error(s, min_gt_max, FL_ECONFIG, "field i: min=10 is greater than max=1");
    const char *unknown_field[] = {"fields.price.min=1", NULL};
    expect_error(s, unknown_field, FL_ECONFIG,
                 "option fields.price.min names field \"price\", which the schema");
    const char *unknown_opt[] = {"fields.i.step=1", NULL};
    expect_error(s, unknown_opt, FL_ECONFIG, "unknown option \"fields.i.step\"");
    const char *no_end[] = {"fields.l.kind=sequence", "fields.l.start=1", NULL};
    expect_error(s, no_end, FL_ECONFIG, "sequence field l needs the options");
    const char *seq_double[] = {"fields.d.kind=sequence", "fields.d.start=1", "fields.d.end=2",
                                NULL};
    expect_error(s, seq_double, FL_ECONFIG, "field d of type DOUBLE cannot be a sequence");
    const char *start_random[] = {"fields.l.start=1", NULL};
    expect_error(s, start_random, FL_ECONFIG, "set fields.l.kind=sequence");
    const char *bad_kind[] = {"fields.l.kind=gaussian", NULL};
    expect_error(s, bad_kind, FL_ECONFIG, "must be random or sequence, not \"gaussian\"");
    const char *bad_rate[] = {"fields.l.null-rate=2", NULL};
    expect_error(s, bad_rate, FL_ECONFIG, "null-rate=2 is not within [0, 1]");
    const char *min_on_string[] = {"fields.s.min=1", NULL};
    expect_error(s, min_on_string, FL_ECONFIG, "does not apply to a STRING field");
    const char *int_overflow[] = {"fields.i.max=3000000000", NULL};
    expect_error(s, int_overflow, FL_ECONFIG, "fields.i.max does not fit in INT");
    const char *malformed[] = {"fields.l.min=abc", NULL};
    expect_error(s, malformed, FL_ECONFIG, "fields.l.min");
    const char *negative_rows[] = {"number-of-rows=-1", NULL};
    expect_error(s, negative_rows, FL_ECONFIG, "number-of-rows=-1 is out of range");
    expect_error(NULL, negative_rows, FL_ESCHEMA, "needs a declared schema");
    fl_schema_unref(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deterministic_for_seed),
        cmocka_unit_test(values_within_bounds),
        cmocka_unit_test(defaults),
        cmocka_unit_test(rows_split_over_subtasks),
        cmocka_unit_test(sequence_fields_exactly_once),
        cmocka_unit_test(null_rates),
        cmocka_unit_test(rate_limit_goes_idle),
        cmocka_unit_test(option_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
