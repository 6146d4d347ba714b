/*
 * test_core_schema.c - type names, schema creation and its errors, lookup,
 * equality, formatting, reference counting (also across threads) and the
 * schema as option text (schema_text.h).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flinc/row.h"
#include "schema_text.h"

static void test_type_names(void **state) {
    (void)state;
    assert_string_equal(fl_type_name(FL_BOOLEAN), "BOOLEAN");
    assert_string_equal(fl_type_name(FL_INT), "INT");
    assert_string_equal(fl_type_name(FL_BIGINT), "BIGINT");
    assert_string_equal(fl_type_name(FL_DOUBLE), "DOUBLE");
    assert_string_equal(fl_type_name(FL_STRING), "STRING");
    assert_string_equal(fl_type_name(FL_BYTES), "BYTES");
    assert_string_equal(fl_type_name(FL_TIMESTAMP), "TIMESTAMP(3)");
    assert_null(fl_type_name((fl_type)0));
    assert_null(fl_type_name((fl_type)42));

    struct {
        const char *text;
        fl_type type;
    } ok[] = {
        {"boolean", FL_BOOLEAN}, {"INT", FL_INT},          {"Integer", FL_INT},
        {"bigint", FL_BIGINT},   {"DOUBLE", FL_DOUBLE},    {"string", FL_STRING},
        {"VARCHAR", FL_STRING},  {"bytes", FL_BYTES},      {"TIMESTAMP", FL_TIMESTAMP},
        {"timestamp(3)", FL_TIMESTAMP}, {" BIGINT ", FL_BIGINT},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        fl_type t = 0;
        assert_int_equal(fl_type_parse(ok[i].text, &t), 0);
        assert_int_equal(t, ok[i].type);
    }
    fl_type t;
    assert_int_equal(fl_type_parse("LONGINT", &t), FL_EINVAL);
    assert_int_equal(fl_type_parse("", &t), FL_EINVAL);
    assert_int_equal(fl_type_parse("TIMESTAMP(9)", &t), FL_EINVAL);
    assert_int_equal(fl_type_parse(NULL, &t), FL_EINVAL);
}

static void test_create_and_lookup(void **state) {
    (void)state;
    char name[] = "word";
    fl_field fields[] = {{name, FL_STRING}, {"count", FL_BIGINT}, {"ts", FL_TIMESTAMP}};
    fl_error err;
    fl_error_clear(&err);
    fl_schema *s = fl_schema_create(fields, 3, &err);
    assert_non_null(s);
    assert_int_equal(err.code, 0);
    name[0] = 'X'; /* the schema keeps its own copy */
    assert_int_equal(fl_schema_num_fields(s), 3);
    assert_string_equal(fl_schema_field_name(s, 0), "word");
    assert_int_equal(fl_schema_field_type(s, 1), FL_BIGINT);
    assert_int_equal(fl_schema_index_of(s, "word"), 0);
    assert_int_equal(fl_schema_index_of(s, "ts"), 2);
    assert_int_equal(fl_schema_index_of(s, "Word"), -1);
    assert_int_equal(fl_schema_index_of(s, "missing"), -1);
    char buf[128];
    assert_string_equal(fl_schema_format(s, buf, sizeof buf),
                        "(word STRING, count BIGINT, ts TIMESTAMP(3))");
    char small[8];
    assert_string_equal(fl_schema_format(s, small, sizeof small), "(word S");
    fl_schema_unref(s);

    fl_schema *empty = fl_schema_create(NULL, 0, &err);
    assert_non_null(empty);
    assert_int_equal(fl_schema_num_fields(empty), 0);
    assert_string_equal(fl_schema_format(empty, buf, sizeof buf), "()");
    fl_schema_unref(empty);
    fl_schema_unref(NULL);
}

static void expect_create_error(const fl_field *fields, int n, const char *message) {
    fl_error err;
    fl_error_clear(&err);
    assert_null(fl_schema_create(fields, n, &err));
    assert_int_equal(err.code, FL_ESCHEMA);
    assert_string_equal(err.message, message);
}

static void test_create_errors(void **state) {
    (void)state;
    fl_field dup[] = {{"a", FL_INT}, {"b", FL_INT}, {"a", FL_STRING}};
    expect_create_error(dup, 3, "duplicate field name \"a\" (fields 0 and 2)");
    fl_field empty[] = {{"a", FL_INT}, {"", FL_INT}};
    expect_create_error(empty, 2, "field 1 has an empty name");
    fl_field null_name[] = {{NULL, FL_INT}};
    expect_create_error(null_name, 1, "field 0 has an empty name");
    fl_field bad_type[] = {{"a", (fl_type)77}};
    expect_create_error(bad_type, 1, "field 0 (\"a\") has an unknown type 77");
    expect_create_error(dup, FL_ROW_MAX_FIELDS + 1,
                        "a schema has between 0 and 1024 fields, not 1025");
    expect_create_error(dup, -1, "a schema has between 0 and 1024 fields, not -1");
    /* No fl_error: still NULL, no crash. */
    assert_null(fl_schema_create(dup, 3, NULL));
}

static void test_equals(void **state) {
    (void)state;
    fl_schema *a = fl_schema_of(2, "w", FL_STRING, "n", FL_BIGINT);
    fl_schema *b = fl_schema_of(2, "w", FL_STRING, "n", FL_BIGINT);
    fl_schema *c = fl_schema_of(2, "w", FL_STRING, "n", FL_INT);
    fl_schema *d = fl_schema_of(2, "w", FL_STRING, "m", FL_BIGINT);
    fl_schema *e = fl_schema_of(1, "w", FL_STRING);
    assert_true(fl_schema_equals(a, a));
    assert_true(fl_schema_equals(a, b));
    assert_false(fl_schema_equals(a, c));
    assert_false(fl_schema_equals(a, d));
    assert_false(fl_schema_equals(a, e));
    assert_false(fl_schema_equals(e, a));
    assert_false(fl_schema_equals(a, NULL));
    fl_schema_unref(a);
    fl_schema_unref(b);
    fl_schema_unref(c);
    fl_schema_unref(d);
    fl_schema_unref(e);
}

static void *ref_unref_many(void *arg) {
    fl_schema *s = arg;
    for (int i = 0; i < 100000; i++) {
        fl_schema *r = fl_schema_ref(s);
        assert_true(r == s);
        fl_schema_unref(r);
    }
    return NULL;
}

/* Under ASan, a count that went wrong shows as a use after free or a leak. */
static void test_refcount(void **state) {
    (void)state;
    fl_schema *s = fl_schema_of(1, "x", FL_INT);
    assert_true(fl_schema_ref(s) == s);
    fl_schema_unref(s);
    assert_int_equal(fl_schema_num_fields(s), 1); /* still alive: one reference left */

    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, ref_unref_many, s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);

    /* A builder holds its own reference. */
    fl_row_builder *b = fl_row_builder_create(s);
    fl_schema_unref(s);
    assert_string_equal(fl_schema_field_name(fl_row_builder_schema(b), 0), "x");
    fl_row_builder_destroy(b);
}

/* Field names holding the separators and the escape survive the trip; the
 * expected text is written out by hand. */
static void test_option_text(void **state) {
    (void)state;
    fl_field f[] = {{"plain", FL_BIGINT}, {"a:b,c%d", FL_STRING}, {"t", FL_TIMESTAMP}};
    fl_schema *s = fl_schema_create(f, 3, NULL);
    char *text = fl__schema_encode(s);
    assert_string_equal(text, "plain:BIGINT,a%3Ab%2Cc%25d:STRING,t:TIMESTAMP(3)");
    fl_error err = {0};
    fl_schema *back = fl__schema_decode(text, "test", &err);
    assert_non_null(back);
    assert_int_equal(fl_schema_num_fields(back), 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(fl_schema_field_name(back, i), f[i].name);
        assert_int_equal(fl_schema_field_type(back, i), f[i].type);
    }
    fl_schema_unref(back);
    fl_schema_unref(s);
    free(text);

    const char *bad[] = {"", "x", "x:NOPE", "a%4:INT", "a:INT,", "a%ZZ:INT"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fl_error e = {0};
        assert_null(fl__schema_decode(bad[i], "the test's options", &e));
        assert_int_equal(e.code, FL_ESCHEMA);
        assert_non_null(strstr(e.message, "the test's options"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_create_and_lookup),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_equals),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_option_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
