/*
 * test_core_hash.c - key hashing and key groups: XXH64 reference values, the
 * key-group rule written out independently, the exact agreement of
 * fl_key_group_range with fl_key_group_to_subtask for every parallelism up
 * to 128, and that keys spread evenly over key groups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flinc/row.h"
#include "hash.h"

static void test_xxh64_reference_values(void **state) {
    (void)state;
    /* Published XXH64 values with seed 0. */
    assert_true(fl_hash_bytes("", 0) == UINT64_C(0xEF46DB3751D8E999));
    assert_true(fl_hash_bytes("abc", 3) == UINT64_C(0x44BC2CF5AD770999));
    assert_true(fl_hash_bytes("abc", 3) != fl_hash_bytes("abd", 3));
}

/* The rule as the design states it: murmur3's fmix64, then mod. */
static int expected_key_group(uint64_t h, int max_parallelism) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (int)(h % (uint64_t)max_parallelism);
}

static void test_key_group_rule(void **state) {
    (void)state;
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 10000; i++) {
        h = h * 6364136223846793005ULL + 1442695040888963407ULL;
        int maxp = 1 + i % 300;
        assert_int_equal(fl_key_group_of_hash(h, maxp), expected_key_group(h, maxp));
    }
    assert_int_equal(fl_key_group_of_hash(12345, 1), 0);
    /* subtask = key_group * parallelism / max_parallelism */
    assert_int_equal(fl_key_group_to_subtask(0, 128, 3), 0);
    assert_int_equal(fl_key_group_to_subtask(42, 128, 3), 0);  /* 126 / 128 */
    assert_int_equal(fl_key_group_to_subtask(43, 128, 3), 1);  /* 129 / 128 */
    assert_int_equal(fl_key_group_to_subtask(127, 128, 3), 2);
    assert_int_equal(fl_key_group_to_subtask(127, 128, 128), 127);
    int first, last;
    fl_key_group_range(1, 128, 3, &first, &last);
    assert_int_equal(first, 43);
    assert_int_equal(last, 85);
    fl_key_group_range(0, 10, 4, &first, &last);
    assert_int_equal(first, 0);
    assert_int_equal(last, 2);
    fl_key_group_range(3, 10, 4, &first, &last);
    assert_int_equal(first, 8);
    assert_int_equal(last, 9);
}

/* Every key group maps back to the subtask whose range holds it, and the
 * ranges tile [0, max_parallelism) in subtask order. */
static void test_ranges_agree_with_subtasks(void **state) {
    (void)state;
    for (int maxp = 1; maxp <= 128; maxp++) {
        for (int p = 1; p <= maxp; p++) {
            int next = 0;
            for (int s = 0; s < p; s++) {
                int first, last;
                fl_key_group_range(s, maxp, p, &first, &last);
                if (first != next || last < first)
                    fail_msg("maxp %d p %d subtask %d: range [%d, %d] after %d", maxp, p, s,
                             first, last, next - 1);
                for (int g = first; g <= last; g++)
                    if (fl_key_group_to_subtask(g, maxp, p) != s)
                        fail_msg("maxp %d p %d: key group %d is in subtask %d's range but "
                                 "maps to %d", maxp, p, g, s,
                                 fl_key_group_to_subtask(g, maxp, p));
                next = last + 1;
            }
            if (next != maxp)
                fail_msg("maxp %d p %d: ranges end at %d", maxp, p, next - 1);
        }
    }
}

static void check_spread(int maxp, int nkeys) {
    int counts[1024] = {0};
    for (int i = 0; i < nkeys; i++) {
        char key[32];
        int n = snprintf(key, sizeof key, "key-%d", i);
        counts[fl_key_group_of_hash(fl_hash_bytes(key, (size_t)n), maxp)]++;
    }
    double expected = (double)nkeys / maxp;
    for (int g = 0; g < maxp; g++)
        if (counts[g] < expected * 0.8 || counts[g] > expected * 1.2)
            fail_msg("maxp %d: key group %d got %d keys, expected about %.0f", maxp, g,
                     counts[g], expected);
}

static void test_keys_spread(void **state) {
    (void)state;
    check_spread(128, 200000);
    check_spread(100, 200000);
    check_spread(7, 70000);

    /* Small integer keys (as key rows) spread too. */
    fl_schema *s = fl_schema_of(1, "id", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s);
    int counts[128] = {0};
    for (int i = 0; i < 128000; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, i);
        const fl_row *r = fl_row_builder_finish(b);
        counts[fl_key_group_of_hash(fl_hash_bytes(r, fl_row_size(r)), 128)]++;
    }
    for (int g = 0; g < 128; g++)
        assert_true(counts[g] > 800 && counts[g] < 1200);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxh64_reference_values),
        cmocka_unit_test(test_key_group_rule),
        cmocka_unit_test(test_ranges_agree_with_subtasks),
        cmocka_unit_test(test_keys_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
