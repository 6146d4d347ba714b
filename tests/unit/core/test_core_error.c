/*
 * test_core_error.c - fl_error: first error wins, prefixes add context, and
 * the table's names and messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flinc/error.h"

static void test_first_error_wins(void **state) {
    (void)state;
    fl_error e;
    fl_error_clear(&e);
    assert_int_equal(e.code, 0);
    assert_string_equal(e.message, "");
    assert_int_equal(fl_error_set(&e, FL_ENOENT, "could not open \"%s\": no such file", "a.txt"),
                     FL_ENOENT);
    assert_int_equal(fl_error_set(&e, FL_EIO, "later failure"), FL_EIO);
    assert_int_equal(e.code, FL_ENOENT);
    assert_string_equal(e.message, "could not open \"a.txt\": no such file");

    fl_error_clear(&e);
    assert_int_equal(e.code, 0);
    fl_error_set(&e, FL_EIO, "second");
    assert_string_equal(e.message, "second");

    /* NULL is accepted and the code still comes back. */
    assert_int_equal(fl_error_set(NULL, FL_EINVAL, "x"), FL_EINVAL);
    fl_error_clear(NULL);
    fl_error_prefix(NULL, "y");
}

static void test_prefix(void **state) {
    (void)state;
    fl_error e;
    fl_error_clear(&e);
    fl_error_prefix(&e, "ignored");
    assert_int_equal(e.code, 0);
    assert_string_equal(e.message, "");

    fl_error_set(&e, FL_ECONFIG, "unknown option \"x\"");
    fl_error_prefix(&e, "source %d", 3);
    fl_error_prefix(&e, "job \"%s\"", "wc");
    assert_int_equal(e.code, FL_ECONFIG);
    assert_string_equal(e.message, "job \"wc\": source 3: unknown option \"x\"");

    /* A message at the size limit is cut, never overrun. */
    char longmsg[FL_ERROR_MSG_MAX * 2];
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    fl_error_clear(&e);
    fl_error_set(&e, FL_EIO, "%s", longmsg);
    assert_int_equal(strlen(e.message), FL_ERROR_MSG_MAX - 1);
    fl_error_prefix(&e, "ctx");
    assert_int_equal(strlen(e.message), FL_ERROR_MSG_MAX - 1);
    assert_memory_equal(e.message, "ctx: mmm", 8);
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(fl_strerror_name(FL_OK), "OK");
    assert_string_equal(fl_strerror_name(FL_ENOENT), "ENOENT");
    assert_string_equal(fl_strerror_name(FL_EUNSUPPORTED), "EUNSUPPORTED");
    assert_string_equal(fl_strerror(FL_ECONFIG), "invalid configuration");
    assert_string_equal(fl_strerror(FL_EAGAIN), "resource temporarily unavailable");
    assert_string_equal(fl_strerror_name(-999), "EUNKNOWN");
    assert_string_equal(fl_strerror(-999), "unknown error");
    assert_int_equal(FL_EINVAL, -1);
    assert_int_equal(FL_EUNSUPPORTED, -16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
