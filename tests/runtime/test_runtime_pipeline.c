/*
 * test_runtime_pipeline.c - whole jobs on the embedded cluster, checked
 * against results computed independently in the test: a keyed sum over ten
 * million rows, the rolling aggregations and reduce, key selectors, unions,
 * user-function hooks and arguments, and rows of every type (and very long
 * ones) crossing network exchanges.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rt_util.h"

/* ---- keyed sum over 10 million rows --------------------------------------------------- */

#define SUM_ROWS 10000000LL
#define SUM_KEYS 1000

static fl_schema *kv_schema(void) { return fl_schema_of(2, "key", FL_BIGINT, "value", FL_BIGINT); }

int rt_to_key_value(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, v % SUM_KEYS);
    fl_row_builder_set_bigint(out, 1, v);
    return 0;
}

static void check_sums(const fl_collect *c) {
    int64_t expected[SUM_KEYS] = {0};
    for (int64_t v = 1; v <= SUM_ROWS; v++) expected[v % SUM_KEYS] += v;
    int seen[SUM_KEYS] = {0};
    assert_int_equal(fl_collect_count(c), SUM_KEYS);
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *r = fl_collect_row(c, i);
        int64_t k = fl_row_get_bigint(r, 0);
        assert_true(k >= 0 && k < SUM_KEYS);
        assert_int_equal(seen[k], 0);
        seen[k] = 1;
        assert_int_equal(fl_row_get_bigint(r, 1), expected[k]);
    }
}

static void test_keyed_sum_10m_parallelism_4(void **state) {
    fl_env *env = rt_env(4, "execution.runtime-mode", "BATCH", NULL);
    fl_schema *s = kv_schema();
    fl_stream *src = fl_env_from_sequence(env, 1, SUM_ROWS);
    fl_stream *kv = fl_stream_map(src, rt_to_key_value, s);
    fl_collect *c = fl_stream_collect(fl_keyed_sum(fl_stream_key_by(kv, "key"), "value"));
    rt_execute(env, "keyed sum");
    check_sums(c);
    fl_schema_unref(s);
    fl_env_destroy(env);
}

/* In STREAMING mode every row emits the key's running sum: the last one per
 * key is the total, and a key's sums grow by exactly its values in order. */
static int64_t stream_last[SUM_KEYS];
static int64_t stream_count;

int rt_record_last(fl_context *ctx, const fl_row *in) {
    int64_t k = fl_row_get_bigint(in, 0), sum = fl_row_get_bigint(in, 1);
    /* Only one subtask owns a key, so no two threads touch one slot. */
    if (sum <= stream_last[k])
        return fl_context_fail(ctx, "sum of key %lld went down", (long long)k);
    stream_last[k] = sum;
    __atomic_fetch_add(&stream_count, 1, __ATOMIC_RELAXED);
    return 0;
}

static void test_keyed_sum_streaming_parallelism_2(void **state) {
    const int64_t rows = 200000;
    memset(stream_last, 0, sizeof stream_last);
    stream_count = 0;
    fl_env *env = rt_env(2, NULL);
    fl_schema *s = kv_schema();
    fl_stream *kv = fl_stream_map(fl_env_from_sequence(env, 1, rows), rt_to_key_value, s);
    fl_stream_sink(fl_keyed_sum(fl_stream_key_by(kv, "key"), "value"), rt_record_last);
    rt_execute(env, "streaming sum");
    assert_int_equal(stream_count, rows);
    int64_t expected[SUM_KEYS] = {0};
    for (int64_t v = 1; v <= rows; v++) expected[v % SUM_KEYS] += v;
    for (int k = 0; k < SUM_KEYS; k++) assert_int_equal(stream_last[k], expected[k]);
    fl_schema_unref(s);
    fl_env_destroy(env);
}

/* ---- rolling aggregations against a reference ------------------------------------------ */

/* Rows (k INT, v DOUBLE, tag STRING); a null v in one row. */
#define AGG_ROWS 400

static fl_schema *agg_schema(void) {
    return fl_schema_of(3, "k", FL_INT, "v", FL_DOUBLE, "tag", FL_STRING);
}

static double agg_value(int i) { return (double)((i * 7919) % 101) - 50.0 + (i % 3) * 0.25; }

static fl_row **agg_rows(const fl_schema *s) {
    fl_row **rows = calloc(AGG_ROWS, sizeof *rows);
    fl_row_builder *b = fl_row_builder_create(s);
    for (int i = 0; i < AGG_ROWS; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "t%d", i);
        fl_row_builder_reset(b);
        fl_row_builder_set_int(b, 0, i % 7);
        if (i != 50) fl_row_builder_set_double(b, 1, agg_value(i));
        fl_row_builder_set_cstring(b, 2, tag);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    return rows;
}

/* The expected output sequence of key k for an aggregation, as (v, tag index). */
typedef struct expect {
    double v;
    bool v_null;
    int tag;
} expect;

static int reference(const char *agg, int k, expect *out) {
    int n = 0;
    bool have = false, acc_null = true;
    double acc_v = 0;
    int acc_tag = 0;
    for (int i = 0; i < AGG_ROWS; i++) {
        if (i % 7 != k) continue;
        bool in_null = i == 50;
        double v = in_null ? 0 : agg_value(i);
        if (!have) {
            have = true;
            acc_v = v;
            acc_null = in_null;
            acc_tag = i;
        } else if (!strcmp(agg, "sum")) {
            if (!in_null) {
                acc_v = acc_null ? v : acc_v + v;
                acc_null = false;
            }
        } else {
            bool want_min = !strcmp(agg, "min") || !strcmp(agg, "min_by");
            bool wins = !in_null && (acc_null || (want_min ? v < acc_v : v > acc_v));
            if (wins) {
                acc_v = v;
                acc_null = false;
                if (!strcmp(agg, "min_by") || !strcmp(agg, "max_by")) acc_tag = i;
            }
        }
        out[n++] = (expect){acc_v, acc_null, acc_tag};
    }
    return n;
}

static void run_aggregation(const char *agg, int parallelism) {
    fl_env *env = rt_env(parallelism, NULL);
    fl_schema *s = agg_schema();
    fl_row **rows = agg_rows(s);
    fl_stream *src = fl_env_from_rows(env, s, (const fl_row *const *)rows, AGG_ROWS);
    fl_keyed_stream *k = fl_stream_key_by(src, "k");
    fl_stream *out = !strcmp(agg, "sum")      ? fl_keyed_sum(k, "v")
                     : !strcmp(agg, "min")    ? fl_keyed_min(k, "v")
                     : !strcmp(agg, "max")    ? fl_keyed_max(k, "v")
                     : !strcmp(agg, "min_by") ? fl_keyed_min_by(k, "v")
                                              : fl_keyed_max_by(k, "v");
    fl_collect *c = fl_stream_collect(out);
    rt_execute(env, agg);
    assert_int_equal(fl_collect_count(c), AGG_ROWS);
    /* One producer (the collection source) keeps each key's order. */
    for (int key = 0; key < 7; key++) {
        expect want[AGG_ROWS];
        int n = reference(agg, key, want), got = 0;
        for (size_t i = 0; i < fl_collect_count(c); i++) {
            const fl_row *r = fl_collect_row(c, i);
            if (fl_row_get_int(r, 0) != key) continue;
            assert_true(got < n);
            assert_int_equal(fl_row_is_null(r, 1), want[got].v_null);
            if (!want[got].v_null) assert_true(fabs(fl_row_get_double(r, 1) - want[got].v) < 1e-9);
            uint32_t len;
            const char *tag = fl_row_get_string(r, 2, &len);
            char buf[16];
            snprintf(buf, sizeof buf, "t%d", want[got].tag);
            if (len != strlen(buf) || memcmp(tag, buf, len) != 0)
                fail_msg("%s key %d output %d: tag %.*s, expected %s", agg, key, got, (int)len, tag,
                         buf);
            got++;
        }
        assert_int_equal(got, n);
    }
    for (int i = 0; i < AGG_ROWS; i++) free(rows[i]);
    free(rows);
    fl_schema_unref(s);
    fl_env_destroy(env);
}

static void test_rolling_aggregations(void **state) {
    const char *aggs[] = {"sum", "min", "max", "min_by", "max_by"};
    for (size_t i = 0; i < 5; i++) {
        run_aggregation(aggs[i], 1);
        run_aggregation(aggs[i], 3);
    }
}

/* ---- reduce with a key selector --------------------------------------------------------- */

int rt_parity_key(fl_context *ctx, const fl_row *in, fl_row_builder *key) {
    fl_row_builder_set_bigint(key, 0, fl_row_get_bigint(in, 0) % 2);
    return 0;
}

/* Keeps (value) = the product modulo a prime, to make order-independent
 * reduction easy to check. */
int rt_mul_mod(fl_context *ctx, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    int64_t a = fl_row_get_bigint(acc, 0), b = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, (a * b) % 1000003);
    return 0;
}

static void test_reduce_with_key_selector(void **state) {
    fl_env *env = rt_env(2, "execution.runtime-mode", "BATCH", NULL);
    fl_schema *ks = fl_schema_of(1, "parity", FL_BIGINT);
    fl_stream *src = fl_env_from_sequence(env, 1, 5000);
    fl_collect *c =
        fl_stream_collect(fl_keyed_reduce(fl_stream_key_by_fn(src, rt_parity_key, ks), rt_mul_mod));
    rt_execute(env, "reduce");
    int64_t odd = 1, even = 1;
    for (int64_t v = 1; v <= 5000; v++) {
        if (v % 2)
            odd = (odd * v) % 1000003;
        else
            even = (even * v) % 1000003;
    }
    assert_int_equal(fl_collect_count(c), 2);
    int64_t a = fl_row_get_bigint(fl_collect_row(c, 0), 0);
    int64_t b = fl_row_get_bigint(fl_collect_row(c, 1), 0);
    assert_true((a == odd && b == even) || (a == even && b == odd));
    fl_schema_unref(ks);
    fl_env_destroy(env);
}

/* ---- union, filter, flat_map -------------------------------------------------------------- */

int rt_keep_multiples_of_3(fl_context *ctx, const fl_row *in) {
    return fl_row_get_bigint(in, 0) % 3 == 0;
}

/* Emits v copies of nothing interesting: (v) repeated v % 4 times. */
int rt_repeat(fl_context *ctx, const fl_row *in, fl_collector *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    for (int i = 0; i < v % 4; i++) {
        int rc = fl_collector_emit_row(out, in);
        if (rc < 0) return rc;
    }
    return 0;
}

static void test_union_filter_flat_map(void **state) {
    fl_env *env = rt_env(2, NULL);
    fl_stream *a = fl_env_from_sequence(env, 1, 30000);
    fl_stream *b = fl_stream_set_parallelism(fl_env_from_sequence(env, 100001, 130000), 3);
    fl_stream *u = fl_stream_union(a, b);
    fl_stream *f = fl_stream_flat_map(fl_stream_filter(u, rt_keep_multiples_of_3), rt_repeat, NULL);
    fl_collect *c = fl_stream_collect(f);
    rt_execute(env, "union");
    int64_t count = 0, sum = 0;
    for (int64_t v = 1; v <= 130000; v++) {
        if (v > 30000 && v <= 100000) continue;
        if (v % 3) continue;
        count += v % 4;
        sum += (v % 4) * v;
    }
    int64_t got_sum = 0;
    for (size_t i = 0; i < fl_collect_count(c); i++)
        got_sum += fl_row_get_bigint(fl_collect_row(c, i), 0);
    assert_int_equal((int64_t)fl_collect_count(c), count);
    assert_int_equal(got_sum, sum);
    fl_env_destroy(env);
}

/* ---- hooks, arguments, parameters, context -----------------------------------------------------
 */

typedef struct hook_user {
    int64_t offset;
    int opened;
} hook_user;

static int closes;

int rt_hook_open(fl_context *ctx) {
    size_t len;
    const int64_t *arg = fl_context_arg(ctx, &len);
    if (len != sizeof(int64_t)) return fl_context_fail(ctx, "argument of %zu bytes", len);
    hook_user *u = calloc(1, sizeof *u);
    u->offset = *arg + atoi(fl_context_param(ctx, "extra"));
    u->opened = 1;
    fl_context_set_user(ctx, u);
    return 0;
}

void rt_hook_close(fl_context *ctx) {
    free(fl_context_user(ctx));
    __atomic_fetch_add(&closes, 1, __ATOMIC_RELAXED);
}

/* (value, value + offset, subtask, parallelism) */
int rt_hook_map(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    hook_user *u = fl_context_user(ctx);
    int64_t v = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, v);
    fl_row_builder_set_bigint(out, 1, v + u->offset);
    fl_row_builder_set_int(out, 2, fl_context_subtask_index(ctx));
    fl_row_builder_set_int(out, 3, fl_context_parallelism(ctx));
    return 0;
}

static void test_hooks_arguments_parameters(void **state) {
    closes = 0;
    fl_env *env = rt_env(3, NULL);
    fl_env_set_param(env, "extra", "5");
    fl_schema *s =
        fl_schema_of(4, "v", FL_BIGINT, "w", FL_BIGINT, "subtask", FL_INT, "parallelism", FL_INT);
    int64_t offset = 1000;
    fl_stream *m =
        fl_stream_map(fl_stream_rebalance(fl_env_from_sequence(env, 1, 999)), rt_hook_map, s);
    fl_stream_set_hooks(m, rt_hook_open, rt_hook_close);
    fl_stream_set_arg(m, &offset, sizeof offset);
    fl_collect *c = fl_stream_collect(m);
    rt_execute(env, "hooks");
    assert_int_equal(fl_collect_count(c), 999);
    int per_subtask[3] = {0};
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *r = fl_collect_row(c, i);
        assert_int_equal(fl_row_get_bigint(r, 1), fl_row_get_bigint(r, 0) + 1005);
        assert_int_equal(fl_row_get_int(r, 3), 3);
        per_subtask[fl_row_get_int(r, 2)]++;
    }
    /* Rebalance from 3 producers of 333 rows each spreads them evenly. */
    for (int i = 0; i < 3; i++) assert_int_equal(per_subtask[i], 333);
    assert_int_equal(closes, 3);
    fl_schema_unref(s);
    fl_env_destroy(env);
}

/* ---- every type, nulls and long rows through an exchange
 * ------------------------------------------ */

static void test_all_types_and_long_rows_cross_exchanges(void **state) {
    fl_schema *s = fl_schema_of(7, "b", FL_BOOLEAN, "i", FL_INT, "l", FL_BIGINT, "d", FL_DOUBLE,
                                "s", FL_STRING, "y", FL_BYTES, "t", FL_TIMESTAMP);
    enum { N = 60 };
    fl_row *rows[N];
    fl_row_builder *b = fl_row_builder_create(s);
    for (int i = 0; i < N; i++) {
        fl_row_builder_reset(b);
        if (i % 5 != 1) fl_row_builder_set_bool(b, 0, i % 2);
        if (i % 5 != 2) fl_row_builder_set_int(b, 1, -i * 1000);
        fl_row_builder_set_bigint(b, 2, (int64_t)i << 40);
        fl_row_builder_set_double(b, 3, i / 3.0);
        /* Some strings larger than a 32 KiB network buffer (up to 1 MiB). */
        size_t len = i % 10 == 0 ? (size_t)(i + 1) * 17000 : (size_t)i;
        char *str = malloc(len + 1);
        for (size_t k = 0; k < len; k++) str[k] = (char)('a' + (k * 31 + i) % 26);
        if (i % 5 != 3) fl_row_builder_set_string(b, 4, str, (uint32_t)len);
        free(str);
        uint8_t bytes[5] = {0, (uint8_t)i, 255, 7, 0};
        if (i % 5 != 4) fl_row_builder_set_bytes(b, 5, bytes, 5);
        fl_row_builder_set_timestamp(b, 6, 1700000000000LL + i);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    fl_env *env = rt_env(2, NULL);
    fl_stream *src = fl_env_from_rows(env, s, (const fl_row *const *)rows, N);
    fl_collect *c = fl_stream_collect(fl_stream_shuffle(fl_stream_rebalance(src)));
    rt_execute(env, "types");
    assert_int_equal(fl_collect_count(c), N);
    int found[N] = {0};
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *r = fl_collect_row(c, i);
        int idx = (int)(fl_row_get_bigint(r, 2) >> 40);
        assert_true(idx >= 0 && idx < N);
        assert_true(fl_row_equals(r, rows[idx]));
        found[idx]++;
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(found[i], 1);
        free(rows[i]);
    }
    fl_schema_unref(s);
    fl_env_destroy(env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_sum_10m_parallelism_4),
        cmocka_unit_test(test_keyed_sum_streaming_parallelism_2),
        cmocka_unit_test(test_rolling_aggregations),
        cmocka_unit_test(test_reduce_with_key_selector),
        cmocka_unit_test(test_union_filter_flat_map),
        cmocka_unit_test(test_hooks_arguments_parameters),
        cmocka_unit_test(test_all_types_and_long_rows_cross_exchanges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
