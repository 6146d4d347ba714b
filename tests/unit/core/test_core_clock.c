/*
 * test_core_clock.c - timestamp formatting against dates worked out by
 * hand, the clocks' basic properties, and manual clocks: their listeners and
 * the lock order between a move and a task that reads the time.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
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

/* A task's lock: the runtime reads the time under it while it decides to
 * wait, and its clock listener takes it to signal the task. */
static pthread_mutex_t task_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool listener_entered;

static void wake_task(void *arg) {
    atomic_store(&listener_entered, true);
    pthread_mutex_lock(&task_mu);
    (*(int *)arg)++;
    pthread_mutex_unlock(&task_mu);
}

static void *move_to_50(void *clock) {
    fl_manual_clock_set(clock, 50);
    return NULL;
}

static void test_manual_clock(void **state) {
    (void)state;
    fl_manual_clock *c = fl_manual_clock_create(10);
    int woken = 0;
    int id = fl_manual_clock_listen(c, wake_task, &woken);
    assert_true(id >= 0);
    /* The listener of a move blocks on the task's lock while the task,
     * holding it, reads the time: the read must not wait for the move. */
    pthread_mutex_lock(&task_mu);
    pthread_t mover;
    assert_int_equal(pthread_create(&mover, NULL, move_to_50, c), 0);
    while (!atomic_load(&listener_entered)) sched_yield();
    assert_int_equal(fl_manual_clock_now(c), 50);
    pthread_mutex_unlock(&task_mu);
    pthread_join(mover, NULL);
    assert_int_equal(woken, 1);
    /* Time never goes back; every move tells the listeners. */
    fl_manual_clock_set(c, 40);
    assert_int_equal(fl_manual_clock_now(c), 50);
    fl_manual_clock_advance(c, 5);
    assert_int_equal(fl_manual_clock_now(c), 55);
    assert_int_equal(woken, 3);
    fl_manual_clock_unlisten(c, id);
    fl_manual_clock_advance(c, 5);
    assert_int_equal(fl_manual_clock_now(c), 60);
    assert_int_equal(woken, 3);
    fl_manual_clock_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_timestamp),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_manual_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
