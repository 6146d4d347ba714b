/*
 * test_runtime_key.c - key projection (key.c): the key row a keyed operator
 * and the hash exchange compute from an input row must be, byte for byte,
 * the row a builder makes of the key fields (the oracle here), and its hash
 * fl_hash_bytes of that row without its header; for single-field keys (the
 * fast path), for several fields in another order than the input's, with
 * nulls, empty and long values, and with the caller-memory form (key.h)
 * writing exactly the bytes it announced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hash.h"
#include "key.h"
#include "row_int.h"
#include "runtime_int.h"

/* Input rows: (word STRING, count BIGINT, raw BYTES, i INT). */
static fl_schema *input_schema(void) {
    return fl_schema_of(4, "word", FL_STRING, "count", FL_BIGINT, "raw", FL_BYTES, "i", FL_INT);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_random(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* A random input row in b's buffer: every field null one time in five,
 * strings and bytes of 0 to 40 bytes. */
static const fl_row *random_row(fl_row_builder *b) {
    char text[41];
    fl_row_builder_reset(b);
    for (int f = 0; f < 4; f++) {
        if (next_random() % 5 == 0) continue;
        uint32_t len = (uint32_t)(next_random() % 41);
        for (uint32_t k = 0; k < len; k++) text[k] = (char)('a' + next_random() % 26);
        switch (f) {
        case 0:
            fl_row_builder_set_string(b, 0, text, len);
            break;
        case 1:
            fl_row_builder_set_bigint(b, 1, (int64_t)next_random());
            break;
        case 2:
            fl_row_builder_set_bytes(b, 2, text, len);
            break;
        default:
            fl_row_builder_set_int(b, 3, (int32_t)next_random());
        }
    }
    return fl_row_builder_finish(b);
}

/* Checks n_fields key fields (indexes into the input) over many random rows. */
static void check_key(const int *fields, int n_fields) {
    fl_schema *in = input_schema();
    fl_field key_fields[4];
    for (int i = 0; i < n_fields; i++)
        key_fields[i] =
            (fl_field){fl_schema_field_name(in, fields[i]), fl_schema_field_type(in, fields[i])};
    fl_error err;
    fl_schema *ks = fl_schema_create(key_fields, n_fields, &err);
    assert_non_null(ks);
    fl_key_spec spec = {.n_fields = n_fields, .fields = (int *)fields, .key_schema = ks};
    fl_key_extractor kx;
    fl__key_extractor_init(&kx, &spec, NULL, NULL);
    fl_row_builder *rows = fl_row_builder_create(in), *oracle = fl_row_builder_create(ks);
    uint8_t out[512];

    for (int round = 0; round < 2000; round++) {
        fl_row *row = fl_row_copy(random_row(rows));
        fl_row_builder_reset(oracle);
        for (int i = 0; i < n_fields; i++) fl_row_builder_copy_field(oracle, i, row, fields[i]);
        const fl_row *want = fl_row_builder_finish(oracle);
        uint32_t want_len = fl_row_size(want);

        uint64_t hash = 0;
        const fl_row *key = fl__key_extract(&kx, row, &hash, NULL, NULL);
        assert_non_null(key);
        assert_int_equal(fl_row_size(key), want_len);
        assert_memory_equal(key, want, want_len);
        /* And read back field by field: a well-formed row (zero padding,
         * offsets) holding the input's values. */
        assert_int_equal(fl_row_validate(key, want_len, ks, &err), 0);
        for (int i = 0; i < n_fields; i++) {
            assert_int_equal(fl_row_is_null(key, i), fl_row_is_null(row, fields[i]));
            if (fl_row_is_null(row, fields[i])) continue;
            fl_type t = fl_schema_field_type(ks, i);
            if (t == FL_STRING || t == FL_BYTES) {
                uint32_t a, b;
                const void *p = fl_row_get_bytes(key, i, &a),
                           *q = fl_row_get_bytes(row, fields[i], &b);
                assert_int_equal(a, b);
                if (a) assert_memory_equal(p, q, a);
            } else {
                assert_true(fl_row_get_bigint(key, i) == fl_row_get_bigint(row, fields[i]));
            }
        }
        assert_true(hash ==
                    fl_hash_bytes((const uint8_t *)want + FL_ROW_HEADER, want_len - FL_ROW_HEADER));

        /* Into caller memory: exactly the announced bytes, nothing past them. */
        assert_int_equal(fl__key_size(&kx, row), want_len);
        memset(out, 0xa5, sizeof out);
        fl__key_write(&kx, row, out, want_len);
        assert_memory_equal(out, want, want_len);
        assert_int_equal(out[want_len], 0xa5);
        free(row);
    }
    fl__key_extractor_fini(&kx);
    fl_row_builder_destroy(rows);
    fl_row_builder_destroy(oracle);
    fl_schema_unref(ks);
    fl_schema_unref(in);
}

static void test_single_string_key(void **state) {
    (void)state;
    check_key((const int[]){0}, 1);
}

static void test_single_fixed_keys(void **state) {
    (void)state;
    check_key((const int[]){1}, 1);
    check_key((const int[]){3}, 1);
}

static void test_single_bytes_key(void **state) {
    (void)state;
    check_key((const int[]){2}, 1);
}

static void test_several_fields_reordered(void **state) {
    (void)state;
    check_key((const int[]){2, 1, 0}, 3);
    check_key((const int[]){3, 0, 2, 1}, 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_string_key),
        cmocka_unit_test(test_single_fixed_keys),
        cmocka_unit_test(test_single_bytes_key),
        cmocka_unit_test(test_several_fields_reordered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
