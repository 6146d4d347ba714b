/*
 * test_core_options.c - connector options: unknown and missing options and
 * their messages, '#' patterns, defaults, and the typed getters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

static const fl_option_def datagen_defs[] = {
    {"rows-per-second", "10000", false, "rows emitted per second"},
    {"number-of-rows", NULL, false, "total rows; unbounded when unset"},
    {"fields.#.min", NULL, false, "minimum of a numeric field"},
    {"fields.#.kind", "random", false, "random or sequence"},
    {NULL, NULL, false, NULL},
};

static const fl_option_def filesystem_defs[] = {
    {"path", NULL, true, "file or directory"},
    {"format", "csv", true, "csv or json"},
    {NULL, NULL, false, NULL},
};

static void test_defaults_and_given(void **state) {
    (void)state;
    fl_kv *given = fl_kv_create();
    fl_kv_set(given, "number-of-rows", "100");
    fl_kv_set(given, "fields.price.min", "1.5");
    fl_error err;
    fl_error_clear(&err);
    fl_options *o = fl_options_create(datagen_defs, given, "connector \"datagen\"", &err);
    fl_kv_destroy(given); /* the options keep copies */
    assert_non_null(o);
    assert_string_equal(fl_options_get(o, "number-of-rows"), "100");
    assert_string_equal(fl_options_get(o, "rows-per-second"), "10000");
    assert_string_equal(fl_options_get(o, "fields.price.min"), "1.5");
    /* Pattern defaults are not materialized: there is no field to name. */
    assert_null(fl_options_get(o, "fields.#.kind"));
    assert_null(fl_options_get(o, "fields.price.kind"));
    const fl_kv *kv = fl_options_kv(o);
    assert_int_equal(fl_kv_count(kv), 3);
    assert_string_equal(fl_kv_key(kv, 0), "number-of-rows");
    assert_string_equal(fl_kv_key(kv, 2), "rows-per-second");

    int64_t rows;
    double min;
    bool flag;
    assert_int_equal(fl_options_get_int64(o, "number-of-rows", -1, &rows, &err), 0);
    assert_int_equal(rows, 100);
    assert_int_equal(fl_options_get_int64(o, "fields.x.min", -1, &rows, &err), 0);
    assert_int_equal(rows, -1);
    assert_int_equal(fl_options_get_double(o, "fields.price.min", 0, &min, &err), 0);
    assert_true(min == 1.5);
    assert_int_equal(fl_options_get_bool(o, "absent", true, &flag, &err), 0);
    assert_true(flag);
    assert_int_equal(err.code, 0);
    fl_options_destroy(o);
    fl_options_destroy(NULL);

    /* No given options at all. */
    o = fl_options_create(datagen_defs, NULL, "connector \"datagen\"", &err);
    assert_non_null(o);
    assert_string_equal(fl_options_get(o, "rows-per-second"), "10000");
    fl_options_destroy(o);
}

static void expect_create_error(const fl_option_def *defs, const char *const *pairs,
                                const char *what, const char *message) {
    fl_kv *given = fl_kv_create();
    for (; pairs[0] != NULL; pairs += 2)
        fl_kv_set(given, pairs[0], pairs[1]);
    fl_error err;
    fl_error_clear(&err);
    assert_null(fl_options_create(defs, given, what, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_string_equal(err.message, message);
    fl_kv_destroy(given);
}

static void test_errors(void **state) {
    (void)state;
    const char *typo[] = {"rows-per-secnd", "5", NULL};
    expect_create_error(datagen_defs, typo, "connector \"datagen\"",
                        "unknown option \"rows-per-secnd\" for connector \"datagen\"; valid "
                        "options: rows-per-second, number-of-rows, fields.#.min, fields.#.kind");
    /* '#' stands for exactly one segment. */
    const char *two_segments[] = {"fields.a.b.min", "1", NULL};
    expect_create_error(datagen_defs, two_segments, "connector \"datagen\"",
                        "unknown option \"fields.a.b.min\" for connector \"datagen\"; valid "
                        "options: rows-per-second, number-of-rows, fields.#.min, fields.#.kind");
    const char *empty_segment[] = {"fields..min", "1", NULL};
    expect_create_error(datagen_defs, empty_segment, "connector \"datagen\"",
                        "unknown option \"fields..min\" for connector \"datagen\"; valid "
                        "options: rows-per-second, number-of-rows, fields.#.min, fields.#.kind");
    const char *prefix_only[] = {"fields.x", "1", NULL};
    expect_create_error(datagen_defs, prefix_only, "connector \"datagen\"",
                        "unknown option \"fields.x\" for connector \"datagen\"; valid "
                        "options: rows-per-second, number-of-rows, fields.#.min, fields.#.kind");

    const char *no_path[] = {"format", "json", NULL};
    expect_create_error(filesystem_defs, no_path, "connector \"filesystem\"",
                        "missing required option \"path\" for connector \"filesystem\"");
    expect_create_error(NULL, typo, "connector \"blackhole\"",
                        "unknown option \"rows-per-secnd\" for connector \"blackhole\"; valid "
                        "options: none");
    /* A required option with a default is satisfied by it. */
    const char *path_only[] = {"path", "/tmp/x", NULL};
    fl_kv *given = fl_kv_create();
    fl_kv_set(given, path_only[0], path_only[1]);
    fl_options *o = fl_options_create(filesystem_defs, given, "connector \"filesystem\"", NULL);
    assert_non_null(o);
    assert_string_equal(fl_options_get(o, "format"), "csv");
    fl_options_destroy(o);
    fl_kv_destroy(given);
}

static void test_getter_errors(void **state) {
    (void)state;
    fl_kv *given = fl_kv_create();
    fl_kv_set(given, "rows-per-second", "fast");
    fl_kv_set(given, "number-of-rows", "1.5");
    fl_kv_set(given, "fields.on.min", "maybe");
    fl_error err;
    fl_error_clear(&err);
    fl_options *o = fl_options_create(datagen_defs, given, "connector \"datagen\"", &err);
    assert_non_null(o);
    int64_t v = 0;
    assert_int_equal(fl_options_get_int64(o, "rows-per-second", 5, &v, &err), FL_ECONFIG);
    assert_int_equal(v, 5);
    assert_string_equal(err.message, "invalid value \"fast\" for option \"rows-per-second\" of "
                                     "connector \"datagen\": expected an integer");
    fl_error_clear(&err);
    double d;
    assert_int_equal(fl_options_get_double(o, "rows-per-second", 0, &d, &err), FL_ECONFIG);
    assert_string_equal(err.message, "invalid value \"fast\" for option \"rows-per-second\" of "
                                     "connector \"datagen\": expected a number");
    assert_int_equal(fl_options_get_double(o, "number-of-rows", 0, &d, NULL), 0);
    assert_true(d == 1.5);
    fl_error_clear(&err);
    bool b;
    assert_int_equal(fl_options_get_bool(o, "fields.on.min", false, &b, &err), FL_ECONFIG);
    assert_string_equal(err.message, "invalid value \"maybe\" for option \"fields.on.min\" of "
                                     "connector \"datagen\": expected true or false");
    fl_options_destroy(o);
    fl_kv_destroy(given);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_given),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_getter_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
