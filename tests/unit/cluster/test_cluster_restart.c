/*
 * test_cluster_restart.c - restart strategies against Flink's rules, with
 * explicit failure times (no waiting).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "restart.h"

static void init(fl_restart_strategy *s, bool ckpt, const char *const *pairs) {
    fl_config *c = fl_config_create();
    for (size_t i = 0; pairs && pairs[i]; i += 2) fl_config_set(c, pairs[i], pairs[i + 1]);
    fl_error err = {0};
    int rc = fl_restart_strategy_init(s, c, ckpt, &err);
    if (rc != 0) fail_msg("init failed: %s", err.message);
    fl_config_destroy(c);
}

static void test_default_none_without_checkpoints(void **state) {
    fl_restart_strategy s;
    int64_t d;
    init(&s, false, NULL);
    assert_int_equal(s.kind, FL_RESTART_NONE);
    assert_false(fl_restart_strategy_on_failure(&s, 0, &d));
    fl_restart_strategy_fini(&s);
    init(&s, true, NULL);
    assert_int_equal(s.kind, FL_RESTART_EXPONENTIAL_DELAY);
    fl_restart_strategy_fini(&s);
}

static void test_fixed_delay_allows_attempts(void **state) {
    const char *p[] = {"restart-strategy.type", "fixed-delay",
                       "restart-strategy.fixed-delay.attempts", "3",
                       "restart-strategy.fixed-delay.delay", "2 s", NULL};
    fl_restart_strategy s;
    int64_t d;
    init(&s, false, p);
    for (int i = 0; i < 3; i++) {
        assert_true(fl_restart_strategy_on_failure(&s, i * 10, &d));
        assert_int_equal(d, 2000);
    }
    assert_false(fl_restart_strategy_on_failure(&s, 100, &d));
    fl_restart_strategy_fini(&s);
}

static void test_failure_rate_sliding_interval(void **state) {
    const char *p[] = {"restart-strategy.type", "failure-rate",
                       "restart-strategy.failure-rate.max-failures-per-interval", "2",
                       "restart-strategy.failure-rate.failure-rate-interval", "10 s",
                       "restart-strategy.failure-rate.delay", "0", NULL};
    fl_restart_strategy s;
    int64_t d;
    init(&s, false, p);
    assert_true(fl_restart_strategy_on_failure(&s, 0, &d));
    assert_true(fl_restart_strategy_on_failure(&s, 5000, &d));
    /* A third failure within 10 s of the first gives up ... */
    assert_false(fl_restart_strategy_on_failure(&s, 9000, &d));
    fl_restart_strategy_fini(&s);
    /* ... but not once the first is older than the interval. */
    init(&s, false, p);
    assert_true(fl_restart_strategy_on_failure(&s, 0, &d));
    assert_true(fl_restart_strategy_on_failure(&s, 5000, &d));
    assert_true(fl_restart_strategy_on_failure(&s, 10001, &d));
    assert_false(fl_restart_strategy_on_failure(&s, 14000, &d)); /* 5000 and 10001 within 10 s */
    fl_restart_strategy_fini(&s);
}

static void test_exponential_backoff_doubles_caps_and_resets(void **state) {
    const char *p[] = {"restart-strategy.type", "exponential-delay",
                       "restart-strategy.exponential-delay.initial-backoff", "100 ms",
                       "restart-strategy.exponential-delay.max-backoff", "1 s",
                       "restart-strategy.exponential-delay.jitter-factor", "0",
                       "restart-strategy.exponential-delay.reset-backoff-threshold", "1 min",
                       NULL};
    fl_restart_strategy s;
    int64_t d;
    init(&s, false, p);
    const int64_t expect[] = {100, 200, 400, 800, 1000, 1000};
    for (int i = 0; i < 6; i++) {
        assert_true(fl_restart_strategy_on_failure(&s, i * 1000, &d));
        assert_int_equal(d, expect[i]);
    }
    /* Quiet for the reset threshold: back to the initial backoff. */
    assert_true(fl_restart_strategy_on_failure(&s, 5000 + 60000, &d));
    assert_int_equal(d, 100);
    fl_restart_strategy_fini(&s);
}

static void test_jitter_stays_within_factor(void **state) {
    const char *p[] = {"restart-strategy.type", "exponential-delay",
                       "restart-strategy.exponential-delay.initial-backoff", "1 s",
                       "restart-strategy.exponential-delay.max-backoff", "1 s",
                       "restart-strategy.exponential-delay.jitter-factor", "0.2", NULL};
    fl_restart_strategy s;
    int64_t d;
    init(&s, false, p);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < 200; i++) {
        assert_true(fl_restart_strategy_on_failure(&s, i, &d));
        assert_true(d >= 800 && d <= 1200);
        if (d < lo) lo = d;
        if (d > hi) hi = d;
    }
    /* There is jitter: 200 draws spread over more than +-5%. */
    assert_true(lo < 950 && hi > 1050);
    fl_restart_strategy_fini(&s);
}

static void test_bad_configuration_is_named(void **state) {
    fl_config *c = fl_config_create();
    fl_config_set(c, "restart-strategy.type", "sometimes");
    fl_restart_strategy s;
    fl_error err = {0};
    assert_int_equal(fl_restart_strategy_init(&s, c, false, &err), FL_ECONFIG);
    assert_non_null(strstr(err.message, "restart-strategy.type"));
    assert_non_null(strstr(err.message, "sometimes"));
    fl_config_set(c, "restart-strategy.type", "fixed-delay");
    fl_config_set(c, "restart-strategy.fixed-delay.delay", "soon");
    fl_error_clear(&err);
    assert_int_equal(fl_restart_strategy_init(&s, c, false, &err), FL_ECONFIG);
    assert_non_null(strstr(err.message, "restart-strategy.fixed-delay.delay"));
    fl_config_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_none_without_checkpoints),
        cmocka_unit_test(test_fixed_delay_allows_attempts),
        cmocka_unit_test(test_failure_rate_sliding_interval),
        cmocka_unit_test(test_exponential_backoff_doubles_caps_and_resets),
        cmocka_unit_test(test_jitter_stays_within_factor),
        cmocka_unit_test(test_bad_configuration_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
