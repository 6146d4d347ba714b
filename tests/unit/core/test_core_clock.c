/*
 * test_core_clock.c - timestamp formatting against dates worked out by
 * hand, and the clocks' basic properties.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"

static void test_format_timestamp(void **state) {
    (void)state;
    struct {
        int64_t millis;
        const char *text;
    } cases[] = {
        {0, "1970-01-01 00:00:00.000"},
        {1, "1970-01-01 00:00:00.001"},
        {-1, "1969-12-31 23:59:59.999"},
        {-1000, "1969-12-31 23:59:59.000"},
        {1704067200000, "2024-01-01 00:00:00.000"},
        {951782400123, "2000-02-29 00:00:00.123"},
        {1767225599999, "2025-12-31 23:59:59.999"},
        {86400000 + 3600000 + 60000 + 1000 + 5, "1970-01-02 01:01:01.005"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        fl_format_timestamp(cases[i].millis, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
    char small[11];
    fl_format_timestamp(0, small, sizeof small);
    assert_string_equal(small, "1970-01-01");
}

static void test_clocks(void **state) {
    (void)state;
    int64_t t0 = fl_clock_monotonic_ns();
    fl_sleep_ns(2000000);
    int64_t t1 = fl_clock_monotonic_ns();
    assert_true(t1 - t0 >= 2000000);
    fl_sleep_ns(0);
    fl_sleep_ns(-5);
    /* After 2024-01-01 and before 2200. */
    int64_t now = fl_clock_wall_ms();
    assert_true(now > 1704067200000);
    assert_true(now < 7258118400000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_timestamp),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
