/*
 * test_connectors_sequence.c - the "sequence" and "collection" sources: the
 * sequence split covers its range exactly once for every parallelism (the
 * oracle is the arithmetic range itself), option and schema errors, and the
 * collection source's round trip of rows through base64 and its checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectors.h"
#include "fake_ctx.h"
#include "mem.h"
#include "options.h"

/* Runs all p subtasks over [from, to] and checks that, concatenated in
 * subtask order, they produce from, from+1, ..., to. */
static void check_split(int64_t from, int64_t to, int p) {
    char from_opt[64], to_opt[64];
    snprintf(from_opt, sizeof from_opt, "from=%lld", (long long)from);
    snprintf(to_opt, sizeof to_opt, "to=%lld", (long long)to);
    const char *kv[] = {from_opt, to_opt, NULL};
    int64_t expect = from;
    uint64_t seen = 0;
    for (int i = 0; i < p; i++) {
        fl_error err = {0};
        fl_source_ctx *ctx = fake_source_collect("sequence", NULL, kv, i, p, &err);
        assert_non_null(ctx);
        size_t n = ctx->n_rows;
        /* Even split: slices differ by at most one. */
        uint64_t total = (uint64_t)(to - from) + 1;
        assert_true(n == total / (uint64_t)p || n == total / (uint64_t)p + 1);
        for (size_t k = 0; k < n; k++) {
            assert_int_equal(fl_row_get_bigint(ctx->rows[k], 0), expect);
            assert_int_equal(ctx->timestamps[k], FL_NO_TIMESTAMP);
            expect++;
            seen++;
        }
        fake_source_destroy(ctx);
    }
    assert_int_equal(seen, (uint64_t)(to - from) + 1);
    assert_int_equal(expect, to + 1);
}

static void sequence_split_covers_range(void **unused) {
    for (int p = 1; p <= 8; p++) {
        check_split(0, 0, p);
        check_split(1, 5, p);
        check_split(-3, 3, p);
        check_split(0, 9999, p);
        check_split(17, 2500, p); /* crosses the 1024-row batch */
        check_split(INT64_MAX - 20, INT64_MAX - 1, p);
        check_split(INT64_MIN, INT64_MIN + 12, p);
    }
}

static void sequence_full_range_split(void **unused) {
    /* The full int64 range has 2^64 numbers: check the slice bounds only. */
    const char *kv[] = {"from=-9223372036854775808", "to=9223372036854775807", NULL};
    const fl_source_connector *c = fl_source_connector_find("sequence");
    fl_error err = {0};
    fl_options *o = fake_options(c->options, "connector \"sequence\"", kv, &err);
    assert_non_null(o);
    fl_schema *s = c->schema(o, NULL, &err);
    assert_non_null(s);
    for (int i = 0; i < 4; i++) {
        fl_source_ctx *ctx = fake_source_create(s, i, 4);
        ctx->cancel_after = 1;
        void *state;
        assert_int_equal(c->open(ctx, o, &state, &err), 0);
        assert_int_equal(c->read(state, ctx, &err), FL_ECANCELED);
        uint64_t first = (uint64_t)INT64_MIN + (uint64_t)i * (UINT64_C(1) << 62);
        assert_int_equal(fl_row_get_bigint(ctx->rows[0], 0), (int64_t)first);
        c->close(state);
        fake_source_destroy(ctx);
    }
    fl_schema_unref(s);
    fl_options_destroy(o);
}

static void sequence_errors(void **unused) {
    fl_error err = {0};
    const char *reversed[] = {"from=5", "to=4", NULL};
    assert_null(fake_source_collect("sequence", NULL, reversed, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_string_equal(err.message, "connector \"sequence\": from=5 is greater than to=4");

    fl_error_clear(&err);
    const char *missing[] = {"from=1", NULL};
    assert_null(fake_source_collect("sequence", NULL, missing, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_non_null(strstr(err.message, "missing required option \"to\""));

    fl_error_clear(&err);
    const char *unknown[] = {"from=1", "to=2", "step=2", NULL};
    assert_null(fake_source_collect("sequence", NULL, unknown, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_non_null(strstr(err.message, "unknown option \"step\""));

    fl_error_clear(&err);
    const char *malformed[] = {"from=one", "to=2", NULL};
    assert_null(fake_source_collect("sequence", NULL, malformed, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_non_null(strstr(err.message, "from"));

    fl_error_clear(&err);
    fl_schema *wrong = fl_schema_of(1, "value", FL_INT);
    const char *ok[] = {"from=1", "to=2", NULL};
    assert_null(fake_source_collect("sequence", wrong, ok, 0, 1, &err));
    assert_int_equal(err.code, FL_ESCHEMA);
    assert_non_null(strstr(err.message, "(value BIGINT)"));
    fl_schema_unref(wrong);

    fl_error_clear(&err);
    fl_schema *right = fl_schema_of(1, "value", FL_BIGINT);
    fl_source_ctx *ctx = fake_source_collect("sequence", right, ok, 0, 1, &err);
    assert_non_null(ctx);
    assert_int_equal(ctx->n_rows, 2);
    fake_source_destroy(ctx);
    fl_schema_unref(right);
}

static void sequence_stops_on_cancel(void **unused) {
    const fl_source_connector *c = fl_source_connector_find("sequence");
    const char *kv[] = {"from=1", "to=100000", NULL};
    fl_error err = {0};
    fl_options *o = fake_options(c->options, "connector \"sequence\"", kv, &err);
    fl_schema *s = c->schema(o, NULL, &err);
    fl_source_ctx *ctx = fake_source_create(s, 0, 1);
    ctx->cancel_after = 10;
    assert_int_equal(fake_source_run(c, o, ctx, 100, false, &err), FL_ECANCELED);
    assert_int_equal(ctx->n_rows, 10);
    assert_true(c->bounded(o));
    fake_source_destroy(ctx);
    fl_schema_unref(s);
    fl_options_destroy(o);
}

/* ---- collection -------------------------------------------------------------------------- */

static char *rows_option(fl_row **rows, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += fl_row_size(rows[i]);
    char *bytes = fl_xmalloc(total ? total : 1);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(bytes + off, rows[i], fl_row_size(rows[i]));
        off += fl_row_size(rows[i]);
    }
    char *b64 = fl_base64_encode(bytes, total);
    char *opt = fl_xasprintf("rows=%s", b64);
    free(b64);
    free(bytes);
    return opt;
}

static void collection_round_trip(void **unused) {
    fl_schema *s = fl_schema_of(2, "word", FL_STRING, "n", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s);
    enum { N = 3000 };
    fl_row **rows = fl_xcalloc(N, sizeof *rows);
    for (int i = 0; i < N; i++) {
        fl_row_builder_reset(b);
        char word[32];
        snprintf(word, sizeof word, "w%d", i * 7);
        fl_row_builder_set_cstring(b, 0, word);
        if (i % 5 != 0)
            fl_row_builder_set_bigint(b, 1, i);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    char *opt = rows_option(rows, N);
    const char *kv[] = {opt, NULL};
    fl_error err = {0};
    fl_source_ctx *ctx = fake_source_collect("collection", s, kv, 0, 1, &err);
    assert_non_null(ctx);
    assert_int_equal(ctx->n_rows, N);
    for (int i = 0; i < N; i++)
        assert_true(fl_row_equals(ctx->rows[i], rows[i]));
    fake_source_destroy(ctx);
    assert_false(fl_source_connector_find("collection")->parallel);

    /* Empty collection. */
    const char *empty[] = {"rows=", NULL};
    ctx = fake_source_collect("collection", s, empty, 0, 1, &err);
    assert_non_null(ctx);
    assert_int_equal(ctx->n_rows, 0);
    fake_source_destroy(ctx);

    /* The rows do not fit another schema. */
    fl_schema *other = fl_schema_of(1, "n", FL_BIGINT);
    assert_null(fake_source_collect("collection", other, kv, 0, 1, &err));
    assert_int_equal(err.code, FL_EFORMAT);
    assert_non_null(strstr(err.message, "connector \"collection\": row 0"));
    fl_schema_unref(other);

    /* No declared schema. */
    fl_error_clear(&err);
    assert_null(fake_source_collect("collection", NULL, kv, 0, 1, &err));
    assert_int_equal(err.code, FL_ESCHEMA);

    /* Truncated bytes: drop the last 8 bytes of the last row. */
    fl_error_clear(&err);
    char *two = rows_option(rows, 2);
    size_t len = 0;
    void *bytes = fl_base64_decode(two + 5, &len);
    char *b64 = fl_base64_encode(bytes, len - 8);
    char *cut = fl_xasprintf("rows=%s", b64);
    const char *kv_cut[] = {cut, NULL};
    assert_null(fake_source_collect("collection", s, kv_cut, 0, 1, &err));
    assert_int_equal(err.code, FL_EFORMAT);
    assert_non_null(strstr(err.message, "row 1"));

    fl_error_clear(&err);
    const char *garbage[] = {"rows=@@@@", NULL};
    assert_null(fake_source_collect("collection", s, garbage, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);

    free(cut);
    free(b64);
    free(bytes);
    free(two);
    free(opt);
    for (int i = 0; i < N; i++)
        free(rows[i]);
    free(rows);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sequence_split_covers_range),
        cmocka_unit_test(sequence_full_range_split),
        cmocka_unit_test(sequence_errors),
        cmocka_unit_test(sequence_stops_on_cancel),
        cmocka_unit_test(collection_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
