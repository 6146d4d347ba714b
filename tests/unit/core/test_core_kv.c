/*
 * test_core_kv.c - the ordered string map: insertion order, replacement in
 * place, removal, cloning and merging.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kv.h"

static void test_set_get_order(void **state) {
    (void)state;
    fl_kv *kv = fl_kv_create();
    assert_int_equal(fl_kv_count(kv), 0);
    assert_null(fl_kv_get(kv, "a"));
    char key[] = "zeta";
    char value[] = "1";
    fl_kv_set(kv, key, value);
    key[0] = 'X'; /* copies were taken */
    value[0] = '9';
    fl_kv_set(kv, "alpha", "2");
    fl_kv_set(kv, "mid", "3");
    assert_int_equal(fl_kv_count(kv), 3);
    assert_string_equal(fl_kv_get(kv, "zeta"), "1");
    assert_string_equal(fl_kv_key(kv, 0), "zeta");
    assert_string_equal(fl_kv_key(kv, 1), "alpha");
    assert_string_equal(fl_kv_key(kv, 2), "mid");
    assert_null(fl_kv_key(kv, 3));
    assert_null(fl_kv_value(kv, 3));

    /* Replacing keeps the position; setting a value to itself is safe. */
    fl_kv_set(kv, "alpha", "two");
    assert_int_equal(fl_kv_count(kv), 3);
    assert_string_equal(fl_kv_key(kv, 1), "alpha");
    assert_string_equal(fl_kv_value(kv, 1), "two");
    fl_kv_set(kv, "alpha", fl_kv_get(kv, "alpha"));
    assert_string_equal(fl_kv_get(kv, "alpha"), "two");
    fl_kv_set(kv, "empty", "");
    assert_string_equal(fl_kv_get(kv, "empty"), "");

    assert_int_equal(fl_kv_remove(kv, "zeta"), 1);
    assert_int_equal(fl_kv_remove(kv, "zeta"), 0);
    assert_int_equal(fl_kv_count(kv), 3);
    assert_string_equal(fl_kv_key(kv, 0), "alpha");
    assert_string_equal(fl_kv_key(kv, 2), "empty");
    fl_kv_destroy(kv);
    fl_kv_destroy(NULL);
}

static void test_many_entries(void **state) {
    (void)state;
    fl_kv *kv = fl_kv_create();
    for (int i = 0; i < 1000; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i * 2);
        fl_kv_set(kv, k, v);
    }
    assert_int_equal(fl_kv_count(kv), 1000);
    for (int i = 0; i < 1000; i += 37) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i * 2);
        assert_string_equal(fl_kv_get(kv, k), v);
        assert_string_equal(fl_kv_key(kv, (size_t)i), k);
    }
    fl_kv_destroy(kv);
}

static void test_clone_merge(void **state) {
    (void)state;
    fl_kv *a = fl_kv_create();
    fl_kv_set(a, "x", "1");
    fl_kv_set(a, "y", "2");
    fl_kv *b = fl_kv_clone(a);
    fl_kv_set(a, "x", "changed");
    assert_string_equal(fl_kv_get(b, "x"), "1");

    fl_kv *src = fl_kv_create();
    fl_kv_set(src, "y", "from-src");
    fl_kv_set(src, "z", "3");
    fl_kv_merge(b, src);
    assert_int_equal(fl_kv_count(b), 3);
    assert_string_equal(fl_kv_get(b, "x"), "1");
    assert_string_equal(fl_kv_get(b, "y"), "from-src");
    assert_string_equal(fl_kv_key(b, 2), "z");
    fl_kv_merge(b, b);
    fl_kv_merge(b, NULL);
    assert_int_equal(fl_kv_count(b), 3);

    fl_kv_destroy(a);
    fl_kv_destroy(b);
    fl_kv_destroy(src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_order),
        cmocka_unit_test(test_many_entries),
        cmocka_unit_test(test_clone_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
