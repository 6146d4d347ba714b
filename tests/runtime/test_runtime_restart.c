/*
 * test_runtime_restart.c - restarts after failures: injected task failures
 * (deterministic for a seed) restart the job as the restart strategy allows,
 * and the strategy's limit fails the job with a clear message. The job here
 * is replay-safe (a sink that keeps the maximum running sum per key), so its
 * result is right however often it restarted from scratch.
 */
#include <string.h>

#include "minicluster.h"
#include "rt_util.h"

#define ROWS 100000
#define KEYS 50

static int64_t best[KEYS];

int rt_rs_kv(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, v % KEYS);
    fl_row_builder_set_bigint(out, 1, v);
    return 0;
}

int rt_rs_max(fl_context *ctx, const fl_row *in) {
    int64_t k = fl_row_get_bigint(in, 0), sum = fl_row_get_bigint(in, 1);
    int64_t old = __atomic_load_n(&best[k], __ATOMIC_SEQ_CST);
    while (sum > old && !__atomic_compare_exchange_n(&best[k], &old, sum, false, __ATOMIC_SEQ_CST,
                                                     __ATOMIC_SEQ_CST))
        ;
    return 0;
}

static int run(const char *attempts, const char *budget, fl_error *err) {
    memset(best, 0, sizeof best);
    fl_env *env = rt_env(2, "restart-strategy.type", "fixed-delay",
                         "restart-strategy.fixed-delay.attempts", attempts,
                         "restart-strategy.fixed-delay.delay", "0 ms",
                         "test.failure-injection.max-failures", budget,
                         "test.failure-injection.probability", "0.02",
                         "test.failure-injection.seed", "7", NULL);
    fl_schema *s = fl_schema_of(2, "k", FL_BIGINT, "v", FL_BIGINT);
    fl_stream *kv = fl_stream_map(fl_env_from_sequence(env, 1, ROWS), rt_rs_kv, s);
    fl_stream_sink(fl_keyed_sum(fl_stream_key_by(kv, "k"), "v"), rt_rs_max);
    int rc = fl_env_execute(env, "restarts", err);
    fl_schema_unref(s);
    fl_env_destroy(env);
    return rc;
}

static void test_job_restarts_until_it_finishes(void **state) {
    fl_error err = {0};
    int rc = run("10", "4", &err);
    if (rc != 0) fail_msg("%s", err.message);
    /* Two tasks may fail in the same attempt, so up to 4 restarts. */
    assert_true(fl_minicluster_last_restarts() >= 1 && fl_minicluster_last_restarts() <= 4);
    int64_t expected[KEYS] = {0};
    for (int64_t v = 1; v <= ROWS; v++) expected[v % KEYS] += v;
    for (int k = 0; k < KEYS; k++) assert_int_equal(best[k], expected[k]);
}

static void test_restart_strategy_gives_up(void **state) {
    fl_error err = {0};
    assert_int_equal(run("2", "5", &err), FL_EUSER);
    assert_true(fl_minicluster_last_restarts() <= 2);
    assert_non_null(strstr(err.message, "injected failure"));
    assert_non_null(strstr(err.message, "gave up after 2 restarts"));
}

static void test_no_restart_strategy_fails_at_once(void **state) {
    fl_error err = {0};
    fl_env *env = rt_env(1, "test.failure-injection.max-failures", "1",
                         "test.failure-injection.probability", "1", NULL);
    fl_stream_discard(fl_env_from_sequence(env, 1, 100000));
    assert_int_equal(fl_env_execute(env, "no restarts", &err), FL_EUSER);
    assert_int_equal(fl_minicluster_last_restarts(), 0);
    assert_non_null(strstr(err.message, "injected failure"));
    fl_env_destroy(env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_restarts_until_it_finishes),
        cmocka_unit_test(test_restart_strategy_gives_up),
        cmocka_unit_test(test_no_restart_strategy_fails_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
