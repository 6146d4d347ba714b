/*
 * test_state_scale.c - one million distinct keys in a value state (and a
 * windowed reducing state over many keys): every value reads back, the
 * entry count is exact, the bytes per key stay within a sane bound, and
 * clearing every entry returns the backend's bytes to those of an empty
 * backend (0). Sized to run in a few seconds under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state_fixtures.h"

/* The value row (n BIGINT), built in place: 24 bytes. */
static void bigint_row_bytes(uint8_t out[24], int64_t v) {
    test_key k = make_key(v); /* same layout as a one-field BIGINT key row */
    memcpy(out, k.bytes, 24);
}

static void test_million_keys(void **state) {
    (void)state;
    enum { N = 1000000 };
    fl_keyed_backend *b = fl_keyed_backend_create(0, 127, 128, NULL, NULL);
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_state_desc d = {.name = "v", .kind = FL_STATE_VALUE, .value_schema = one};
    fl_kstate *s = fl_keyed_backend_state(b, &d, NULL);
    assert_non_null(s);
    size_t empty = fl_keyed_backend_bytes(b);
    test_key *keys = malloc((size_t)N * sizeof *keys);
    assert_non_null(keys);
    for (int i = 0; i < N; i++) keys[i] = make_key((int64_t)i * 2654435761 + 17);

    uint8_t v[24];
    for (int i = 0; i < N; i++) {
        set_key(b, &keys[i]);
        bigint_row_bytes(v, i);
        assert_int_equal(fl_kstate_value_update(s, (const fl_row *)v), 0);
    }
    assert_int_equal(fl_keyed_backend_entries(b), N);
    size_t full = fl_keyed_backend_bytes(b);
    /* a 24-byte key and a 24-byte value: entry header, both rows, and the
     * slot array (16 bytes a slot, at most 3/4 full, at least 1/8 after growth) */
    double per_key = (double)(full - empty) / N;
    print_message("1M keys: %.1f bytes per key\n", per_key);
    assert_true(per_key >= 80 && per_key <= 80 + 16 * 3);

    /* read back and increment (a get followed by an update of the same key) */
    for (int i = 0; i < N; i++) {
        set_key(b, &keys[i]);
        const fl_row *got = fl_kstate_value_get(s);
        if (!got || fl_row_get_bigint(got, 0) != i) fail_msg("key %d: wrong value", i);
        bigint_row_bytes(v, i + 1);
        assert_int_equal(fl_kstate_value_update(s, (const fl_row *)v), 0);
    }
    assert_int_equal(fl_keyed_backend_bytes(b), full); /* updated in place */
    /* keep one key in a thousand: the slot arrays shrink with the tables
     * (1000 entries of 80 bytes, 128 small tables), not stay at 1M's size */
    for (int i = 0; i < N; i++) {
        set_key(b, &keys[i]);
        const fl_row *got = fl_kstate_value_get(s);
        if (!got || fl_row_get_bigint(got, 0) != i + 1) fail_msg("key %d: wrong value", i);
        if (i % 1000) fl_kstate_clear(s);
    }
    assert_int_equal(fl_keyed_backend_entries(b), N / 1000);
    assert_true(fl_keyed_backend_bytes(b) < 200 * 1024);
    for (int i = 0; i < N; i += 1000) {
        set_key(b, &keys[i]);
        assert_false(fl_kstate_is_empty(s));
        fl_kstate_clear(s);
    }
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), empty);
    assert_int_equal(empty, 0);
    free(keys);
    fl_schema_unref(one);
    fl_keyed_backend_destroy(b);
}

static int sum(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0) + fl_row_get_bigint(in, 0));
    return 0;
}

/* Windowed counts: 20000 words, 10 tumbling windows, a timer per (word,
 * window); firing a window reads and clears its counts. */
static void test_windowed_counts(void **state) {
    (void)state;
    enum { WORDS = 20000, WINDOWS = 10, PER_WINDOW = 100000 };
    fl_keyed_backend *b = fl_keyed_backend_create(0, 127, 128, NULL, NULL);
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_state_desc d = {
        .name = "counts", .kind = FL_STATE_REDUCING, .value_schema = one, .reduce = sum};
    fl_kstate *s = fl_keyed_backend_state(b, &d, NULL);
    test_key *keys = malloc(WORDS * sizeof *keys);
    for (int i = 0; i < WORDS; i++) keys[i] = make_key(i);
    int64_t *ref = calloc(WORDS, sizeof *ref);
    uint8_t onerow[24];
    bigint_row_bytes(onerow, 1);
    test_rng rng = {31337};
    for (int w = 0; w < WINDOWS; w++) {
        test_ns ns = {w * 1000, w * 1000 + 1000};
        memset(ref, 0, WORDS * sizeof *ref);
        for (int i = 0; i < PER_WINDOW; i++) {
            uint32_t word = rng_below(&rng, WORDS);
            set_key(b, &keys[word]);
            fl_kstate_set_namespace(s, &ns, sizeof ns);
            assert_int_equal(fl_kstate_add(s, (const fl_row *)onerow), 0);
            fl_timer_register(b, FL_EVENT_TIME, ns.end - 1, &ns, sizeof ns);
            ref[word]++;
        }
        fl_timer t;
        size_t fired = 0;
        while (fl_timer_pop(b, FL_EVENT_TIME, ns.end - 1, &t)) {
            fl_kstate_set_namespace(s, t.ns, t.ns_len);
            const fl_row *got = fl_kstate_get(s);
            assert_non_null(got);
            int64_t word = key_value(t.key);
            assert_int_equal(fl_row_get_bigint(got, 0), ref[word]);
            ref[word] = -1; /* exactly once */
            fl_kstate_clear(s);
            fired++;
        }
        size_t distinct = 0;
        for (int i = 0; i < WORDS; i++) distinct += ref[i] != 0;
        assert_int_equal(fired, distinct);
        assert_int_equal(fl_keyed_backend_entries(b), 0);
        assert_int_equal(fl_keyed_backend_bytes(b), 0);
    }
    free(keys);
    free(ref);
    fl_schema_unref(one);
    fl_keyed_backend_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million_keys),
        cmocka_unit_test(test_windowed_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
