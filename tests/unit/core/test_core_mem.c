/*
 * test_core_mem.c - allocation helpers and base64: RFC 4648's test vectors,
 * round trips of every byte value and length, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem.h"

static void test_helpers(void **state) {
    (void)state;
    char *s = fl_xstrdup("hello");
    assert_string_equal(s, "hello");
    free(s);
    s = fl_xstrndup("hello", 3);
    assert_string_equal(s, "hel");
    free(s);
    s = fl_xstrndup("hi", 10);
    assert_string_equal(s, "hi");
    free(s);
    s = fl_xasprintf("%s-%d-%.1f", "a", 42, 2.5);
    assert_string_equal(s, "a-42-2.5");
    free(s);
    int *z = fl_xcalloc(16, sizeof(int));
    for (int i = 0; i < 16; i++)
        assert_int_equal(z[i], 0);
    z = fl_xrealloc(z, 1024 * sizeof(int));
    assert_int_equal(z[15], 0);
    free(z);
    void *p = fl_xmalloc(0); /* a real, freeable pointer */
    assert_non_null(p);
    free(p);
}

static void test_base64_vectors(void **state) {
    (void)state;
    /* RFC 4648, section 10. */
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = fl_base64_encode(plain[i], strlen(plain[i]));
        assert_string_equal(e, coded[i]);
        free(e);
        size_t len = 99;
        char *d = fl_base64_decode(coded[i], &len);
        assert_non_null(d);
        assert_int_equal(len, strlen(plain[i]));
        assert_memory_equal(d, plain[i], len);
        free(d);
    }
    char *e = fl_base64_encode("\xfb\xff", 2);
    assert_string_equal(e, "+/8=");
    free(e);
}

static void test_base64_round_trip(void **state) {
    (void)state;
    uint8_t data[600];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 8));
    for (size_t len = 0; len <= sizeof data; len += (len < 20 ? 1 : 37)) {
        char *e = fl_base64_encode(data, len);
        assert_int_equal(strlen(e), (len + 2) / 3 * 4);
        size_t out_len;
        uint8_t *d = fl_base64_decode(e, &out_len);
        assert_non_null(d);
        assert_int_equal(out_len, len);
        assert_memory_equal(d, data, len);
        free(d);
        free(e);
    }
}

static void test_base64_malformed(void **state) {
    (void)state;
    const char *bad[] = {
        "Zg=",       /* length not a multiple of 4 */
        "Z",         "Zm9vY",
        "Zm9v!A==",  /* character outside the alphabet */
        "Zm 9v",     /* white space */
        "Zg==Zg==",  /* padding in the middle */
        "Z===",      /* too much padding */
        "====",
        "Zm=v",      /* '=' followed by data */
        "Zh==",      /* non-zero bits under the padding */
        "Zm9=",
        "Zm9v\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = 12345;
        void *d = fl_base64_decode(bad[i], &len);
        if (d != NULL)
            fail_msg("\"%s\" decoded but is malformed", bad[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_base64_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
