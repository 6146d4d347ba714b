/*
 * test_core_row.c - binary rows: building, reading back, the canonical byte
 * layout (checked against bytes written out by hand), validation of damaged
 * rows, builder errors, copying and the printed form.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flinc/row.h"
#include "row_int.h"

/* One field of every type, then the same again to hold nulls. */
static fl_schema *all_types_schema(void) {
    return fl_schema_of(7, "flag", FL_BOOLEAN, "i", FL_INT, "big", FL_BIGINT, "d", FL_DOUBLE,
                        "s", FL_STRING, "raw", FL_BYTES, "ts", FL_TIMESTAMP);
}

static void test_round_trip_all_types(void **state) {
    (void)state;
    fl_schema *s = all_types_schema();
    fl_row_builder *b = fl_row_builder_create(s);
    const uint8_t raw[] = {0x00, 0xff, 0x10};

    fl_row_builder_set_bool(b, 0, true);
    fl_row_builder_set_int(b, 1, -123456);
    fl_row_builder_set_bigint(b, 2, INT64_MIN);
    fl_row_builder_set_double(b, 3, -2.75);
    fl_row_builder_set_cstring(b, 4, "h\xc3\xa9llo");
    fl_row_builder_set_bytes(b, 5, raw, sizeof raw);
    fl_row_builder_set_timestamp(b, 6, 1704067200123);
    const fl_row *r = fl_row_builder_finish(b);
    assert_non_null(r);
    assert_null(fl_row_builder_error(b));
    assert_int_equal(fl_row_validate(r, fl_row_size(r), s, NULL), 0);

    assert_int_equal(fl_row_num_fields(r), 7);
    assert_int_equal(fl_row_get_kind(r), FL_INSERT);
    for (int i = 0; i < 7; i++)
        assert_false(fl_row_is_null(r, i));
    assert_true(fl_row_get_bool(r, 0));
    assert_int_equal(fl_row_get_int(r, 1), -123456);
    assert_true(fl_row_get_bigint(r, 2) == INT64_MIN);
    assert_true(fl_row_get_double(r, 3) == -2.75);
    uint32_t len;
    const char *str = fl_row_get_string(r, 4, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(str, "h\xc3\xa9llo", 6);
    const void *bytes = fl_row_get_bytes(r, 5, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(bytes, raw, 3);
    assert_true(fl_row_get_timestamp(r, 6) == 1704067200123);
    /* 8 header + 8 bitmap + 7 * 8 slots + 8 (6-byte string) + 8 (3 bytes). */
    assert_int_equal(fl_row_size(r), 8 + 8 + 56 + 8 + 8);

    /* The same builder, all nulls. */
    fl_row_builder_reset(b);
    r = fl_row_builder_finish(b);
    assert_non_null(r);
    assert_int_equal(fl_row_validate(r, fl_row_size(r), s, NULL), 0);
    for (int i = 0; i < 7; i++)
        assert_true(fl_row_is_null(r, i));
    assert_null(fl_row_get_string(r, 4, &len));
    assert_int_equal(len, 0);
    assert_int_equal(fl_row_size(r), 8 + 8 + 56);

    /* Extremes of each fixed type; false, 0. */
    fl_row_builder_reset(b);
    fl_row_builder_set_bool(b, 0, false);
    fl_row_builder_set_int(b, 1, INT32_MIN);
    fl_row_builder_set_bigint(b, 2, INT64_MAX);
    fl_row_builder_set_double(b, 3, INFINITY);
    fl_row_builder_set_timestamp(b, 6, -1);
    r = fl_row_builder_finish(b);
    assert_false(fl_row_get_bool(r, 0));
    assert_false(fl_row_is_null(r, 0));
    assert_int_equal(fl_row_get_int(r, 1), INT32_MIN);
    assert_true(fl_row_get_bigint(r, 2) == INT64_MAX);
    assert_true(isinf(fl_row_get_double(r, 3)));
    assert_true(fl_row_get_timestamp(r, 6) == -1);
    assert_int_equal(fl_row_validate(r, fl_row_size(r), s, NULL), 0);

    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

static void test_empty_and_large_strings(void **state) {
    (void)state;
    fl_schema *s = fl_schema_of(3, "a", FL_STRING, "b", FL_STRING, "c", FL_BYTES);
    fl_row_builder *b = fl_row_builder_create(s);
    size_t big = 1u << 20;
    char *mib = malloc(big);
    for (size_t i = 0; i < big; i++)
        mib[i] = (char)('a' + i % 26);

    fl_row_builder_set_string(b, 0, "", 0);
    fl_row_builder_set_string(b, 1, mib, (uint32_t)big);
    fl_row_builder_set_bytes(b, 2, NULL, 0);
    const fl_row *r = fl_row_builder_finish(b);
    assert_non_null(r);
    assert_int_equal(fl_row_validate(r, fl_row_size(r), s, NULL), 0);
    uint32_t len = 99;
    fl_row_get_string(r, 0, &len);
    assert_int_equal(len, 0);
    assert_false(fl_row_is_null(r, 0)); /* empty is not null */
    const char *p = fl_row_get_string(r, 1, &len);
    assert_int_equal(len, big);
    assert_memory_equal(p, mib, big);
    fl_row_get_bytes(r, 2, &len);
    assert_int_equal(len, 0);
    assert_false(fl_row_is_null(r, 2));
    assert_int_equal(fl_row_size(r), 8 + 8 + 24 + big);

    /* Odd lengths are padded to 8 each. */
    fl_row_builder_reset(b);
    fl_row_builder_set_string(b, 0, mib, 1);
    fl_row_builder_set_string(b, 1, mib, 9);
    fl_row_builder_set_bytes(b, 2, mib, 8);
    r = fl_row_builder_finish(b);
    assert_int_equal(fl_row_size(r), 8 + 8 + 24 + 8 + 16 + 8);
    assert_int_equal(fl_row_validate(r, fl_row_size(r), s, NULL), 0);

    free(mib);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

static void test_many_fields(void **state) {
    (void)state;
    enum { N = 150 }; /* the null bitmap spans three 64-bit words */
    fl_field fields[N];
    char names[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        fields[i].name = names[i];
        fields[i].type = i % 3 == 0 ? FL_STRING : FL_BIGINT;
    }
    fl_error err;
    fl_error_clear(&err);
    fl_schema *s = fl_schema_create(fields, N, &err);
    assert_non_null(s);
    fl_row_builder *b = fl_row_builder_create(s);
    for (int i = 0; i < N; i++) {
        if (i % 5 == 0 || i == 64 || i == 127 || i == 128)
            continue; /* null */
        if (i % 3 == 0) {
            char v[32];
            snprintf(v, sizeof v, "value-%d", i);
            fl_row_builder_set_cstring(b, i, v);
        } else {
            fl_row_builder_set_bigint(b, i, (int64_t)i * 1000003);
        }
    }
    const fl_row *r = fl_row_builder_finish(b);
    assert_non_null(r);
    assert_int_equal(fl_row_num_fields(r), N);
    assert_int_equal(fl_row_validate(r, fl_row_size(r), s, &err), 0);
    for (int i = 0; i < N; i++) {
        bool null = i % 5 == 0 || i == 64 || i == 127 || i == 128;
        assert_int_equal(fl_row_is_null(r, i), null);
        if (null)
            continue;
        if (i % 3 == 0) {
            char v[32];
            int n = snprintf(v, sizeof v, "value-%d", i);
            uint32_t len;
            const char *p = fl_row_get_string(r, i, &len);
            assert_int_equal(len, n);
            assert_memory_equal(p, v, (size_t)n);
        } else {
            assert_true(fl_row_get_bigint(r, i) == (int64_t)i * 1000003);
        }
    }
    /* Bit i of the bitmap is bit i % 64 of little-endian word i / 64. */
    const uint8_t *bytes = (const uint8_t *)r;
    assert_int_equal(bytes[8 + 128 / 8] & 1, 1);
    assert_int_equal((bytes[8 + 127 / 8] >> 7) & 1, 1);
    assert_int_equal(bytes[8 + 129 / 8] & 2, 0);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

/* The layout, byte for byte, for (a INT, s STRING, b BIGINT) = (7, "hi", null). */
static void test_exact_layout(void **state) {
    (void)state;
    fl_schema *s = fl_schema_of(3, "a", FL_INT, "s", FL_STRING, "b", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row_builder_set_kind(b, FL_UPDATE_AFTER);
    fl_row_builder_set_int(b, 0, 7);
    fl_row_builder_set_string(b, 1, "hi", 2);
    const fl_row *r = fl_row_builder_finish(b);
    const uint8_t expect[48] = {
        48, 0, 0, 0, 2, 0, 3, 0,         /* length 48, kind +U, reserved, 3 fields */
        0x04, 0, 0, 0, 0, 0, 0, 0,       /* field 2 null */
        7, 0, 0, 0, 0, 0, 0, 0,          /* a = 7 */
        40, 0, 0, 0, 2, 0, 0, 0,         /* s: offset 40, length 2 */
        0, 0, 0, 0, 0, 0, 0, 0,          /* b: null */
        'h', 'i', 0, 0, 0, 0, 0, 0,      /* "hi" padded */
    };
    assert_int_equal(fl_row_size(r), 48);
    assert_memory_equal(r, expect, 48);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

/* fl__copy_padded (row_int.h) reads exactly the value's bytes (the source is
 * a heap block of that size: ASan checks), writes them zero padded to whole
 * words and nothing after. */
static void test_copy_padded(void **state) {
    (void)state;
    uint8_t dst[64];
    for (uint32_t len = 0; len <= 40; len++) {
        uint8_t *src = malloc(len ? len : 1);
        for (uint32_t i = 0; i < len; i++) src[i] = (uint8_t)(0x41 + i);
        memset(dst, 0xee, sizeof dst);
        fl__copy_padded(dst, src, len);
        uint32_t padded = fl__align8(len);
        if (len) assert_memory_equal(dst, src, len);
        for (uint32_t i = len; i < padded; i++) assert_int_equal(dst[i], 0);
        for (uint32_t i = padded; i < sizeof dst; i++) assert_int_equal(dst[i], 0xee);
        free(src);
    }
}

/* A reused builder forgets the previous row: fields set before a reset and
 * not since are null with a zero slot, and variable-length values set again,
 * nulled or copied in leave the row a fresh builder makes of the final
 * values (the builder tracks the variable-length bytes as they are set). */
static void test_builder_reuse_and_overwrite(void **state) {
    (void)state;
    fl_schema *s = all_types_schema();
    fl_row_builder *used = fl_row_builder_create(s);
    fl_row_builder *fresh = fl_row_builder_create(s);
    fl_error err;

    fl_row_builder_set_bool(used, 0, true);
    fl_row_builder_set_int(used, 1, -7);
    fl_row_builder_set_bigint(used, 2, 123456789);
    fl_row_builder_set_double(used, 3, 2.5);
    fl_row_builder_set_cstring(used, 4, "a value of twenty-two");
    fl_row_builder_set_bytes(used, 5, "\x01\x02\x03", 3);
    fl_row_builder_set_timestamp(used, 6, 99);
    assert_non_null(fl_row_builder_finish(used));

    /* Only the timestamp and the string again, the string three times. */
    fl_row_builder_reset(used);
    fl_row_builder_set_cstring(used, 4, "x");
    fl_row_builder_set_cstring(used, 4, "a much longer value than before");
    fl_row_builder_set_cstring(used, 4, "mid-sized");
    fl_row_builder_set_timestamp(used, 6, 5);
    fl_row_builder_set_cstring(fresh, 4, "mid-sized");
    fl_row_builder_set_timestamp(fresh, 6, 5);
    const fl_row *r = fl_row_builder_finish(used);
    assert_int_equal(fl_row_validate(r, fl_row_size(r), s, &err), 0);
    assert_true(fl_row_equals(r, fl_row_builder_finish(fresh)));
    assert_true(fl_row_is_null(r, 2));
    assert_int_equal(fl_row_get_bigint(r, 2), 0);

    /* A string nulled after being set, bytes set to empty, then copied. */
    fl_row_builder_set_null(used, 4);
    fl_row_builder_set_bytes(used, 5, "", 0);
    fl_row_builder_reset(fresh);
    fl_row_builder_set_timestamp(fresh, 6, 5);
    fl_row_builder_set_bytes(fresh, 5, NULL, 0);
    r = fl_row_builder_finish(used);
    assert_int_equal(fl_row_validate(r, fl_row_size(r), s, &err), 0);
    assert_true(fl_row_equals(r, fl_row_builder_finish(fresh)));
    assert_int_equal(fl_row_size(r), fl__row_fixed_bytes(7));

    fl_row_builder_reset(fresh);
    fl_row_builder_set_cstring(fresh, 4, "copied over a null");
    const fl_row *src = fl_row_copy(fl_row_builder_finish(fresh));
    fl_row_builder_copy_field(used, 4, src, 4);
    fl_row_builder_set_null(used, 5);
    fl_row_builder_set_null(used, 6);
    r = fl_row_builder_finish(used);
    assert_int_equal(fl_row_validate(r, fl_row_size(r), s, &err), 0);
    assert_true(fl_row_equals(r, src));

    free((void *)src);
    fl_row_builder_destroy(used);
    fl_row_builder_destroy(fresh);
    fl_schema_unref(s);
}

/* Two builders, values set in a different order and with overwrites, give
 * the same bytes. */
static void test_canonical_bytes(void **state) {
    (void)state;
    fl_schema *s = all_types_schema();
    fl_row_builder *b1 = fl_row_builder_create(s);
    fl_row_builder *b2 = fl_row_builder_create(s);

    fl_row_builder_set_cstring(b1, 4, "word");
    fl_row_builder_set_int(b1, 1, 42);
    fl_row_builder_set_bytes(b1, 5, "\x01\x02", 2);
    fl_row_builder_set_double(b1, 3, 0.5);

    fl_row_builder_set_cstring(b2, 4, "a much longer value that is replaced later");
    fl_row_builder_set_bytes(b2, 5, "\x01\x02", 2);
    fl_row_builder_set_bigint(b2, 2, 99);
    fl_row_builder_set_null(b2, 2);
    fl_row_builder_set_double(b2, 3, 0.5);
    fl_row_builder_set_int(b2, 1, 42);
    fl_row_builder_set_cstring(b2, 4, "word");

    const fl_row *r1 = fl_row_builder_finish(b1);
    const fl_row *r2 = fl_row_builder_finish(b2);
    assert_true(fl_row_equals(r1, r2));
    assert_int_equal(fl_row_size(r1), fl_row_size(r2));
    assert_memory_equal(r1, r2, fl_row_size(r1));

    /* A different value or kind is a different row. */
    fl_row_builder_set_kind(b2, FL_DELETE);
    r2 = fl_row_builder_finish(b2);
    assert_false(fl_row_equals(r1, r2));
    fl_row_builder_set_kind(b2, FL_INSERT);
    fl_row_builder_set_int(b2, 1, 43);
    r2 = fl_row_builder_finish(b2);
    assert_false(fl_row_equals(r1, r2));

    /* A null field and a zero field differ. */
    fl_row_builder_reset(b1);
    fl_row_builder_reset(b2);
    fl_row_builder_set_int(b2, 1, 0);
    assert_false(fl_row_equals(fl_row_builder_finish(b1), fl_row_builder_finish(b2)));

    /* Every NaN is the same key. */
    fl_row_builder_reset(b1);
    fl_row_builder_reset(b2);
    fl_row_builder_set_double(b1, 3, NAN);
    fl_row_builder_set_double(b2, 3, -NAN);
    assert_true(fl_row_equals(fl_row_builder_finish(b1), fl_row_builder_finish(b2)));

    fl_row_builder_destroy(b1);
    fl_row_builder_destroy(b2);
    fl_schema_unref(s);
}

/* A warm builder reuses its two buffers for rows that are no larger: the
 * rows it finishes alternate between them. */
static void test_builder_reuses_buffer(void **state) {
    (void)state;
    fl_schema *s = fl_schema_of(2, "w", FL_STRING, "n", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s);
    const fl_row *bufs[2];
    for (int k = 0; k < 2; k++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_string(b, 0, "0123456789012345678901234567890123456789", 40);
        bufs[k] = fl_row_builder_finish(b);
    }
    assert_ptr_not_equal(bufs[0], bufs[1]);
    for (int i = 0; i < 1000; i++) {
        fl_row_builder_reset(b);
        char w[16];
        int n = snprintf(w, sizeof w, "w%d", i);
        fl_row_builder_set_string(b, 0, w, (uint32_t)n);
        fl_row_builder_set_bigint(b, 1, i);
        const fl_row *r = fl_row_builder_finish(b);
        assert_ptr_equal(r, bufs[i % 2]);
        assert_true(fl_row_get_bigint(r, 1) == i);
    }
    assert_true(fl_row_builder_schema(b) == s);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

/* The row finish() returned stays readable while the next one is built
 * from it (a reduce function given its previous result), until the next
 * finish(); a value copied from the row being built survives the buffer
 * growing under it. */
static void test_builder_builds_from_its_last_row(void **state) {
    (void)state;
    fl_schema *s = fl_schema_of(3, "a", FL_STRING, "n", FL_BIGINT, "b", FL_STRING);
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row_builder_set_string(b, 0, "seed", 4);
    fl_row_builder_set_bigint(b, 1, 1);
    const fl_row *prev = fl_row_builder_finish(b);
    char expect[64] = "seed";
    for (int i = 2; i <= 12; i++) {
        fl_row_builder_reset(b);
        uint32_t len;
        const char *a = fl_row_get_string(prev, 0, &len);
        char next[64];
        memcpy(next, a, len);
        next[len] = (char)('a' + i); /* the string grows by a byte a round */
        fl_row_builder_set_string(b, 0, next, len + 1);
        fl_row_builder_copy_field(b, 2, prev, 0); /* read after the reset */
        fl_row_builder_set_bigint(b, 1, fl_row_get_bigint(prev, 1) + i);
        const fl_row *r = fl_row_builder_finish(b);
        assert_non_null(r);
        uint32_t blen;
        const char *bv = fl_row_get_string(r, 2, &blen);
        assert_int_equal(blen, strlen(expect));
        assert_memory_equal(bv, expect, blen);
        size_t el = strlen(expect);
        expect[el] = (char)('a' + i);
        expect[el + 1] = '\0';
        assert_int_equal(fl_row_get_bigint(r, 1), i * (i + 1) / 2);
        prev = r;
    }
    /* Copying a field of the row being built into another, past its buffer. */
    fl_row_builder_reset(b);
    char big[200];
    memset(big, 'z', sizeof big);
    fl_row_builder_set_string(b, 0, big, sizeof big);
    const fl_row *self = fl_row_builder_finish(b);
    fl_row_builder_copy_field(b, 2, self, 0);
    const fl_row *r = fl_row_builder_finish(b);
    uint32_t l0, l2;
    const char *v0 = fl_row_get_string(r, 0, &l0), *v2 = fl_row_get_string(r, 2, &l2);
    assert_int_equal(l0, sizeof big);
    assert_int_equal(l2, sizeof big);
    assert_memory_equal(v0, big, sizeof big);
    assert_memory_equal(v2, big, sizeof big);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

/* Rows that differ in their last string, emitted from one builder without a
 * reset, are canonical: each equals the same row built fresh. */
static void test_builder_resets_last_string(void **state) {
    (void)state;
    fl_schema *s = fl_schema_of(3, "tag", FL_STRING, "word", FL_STRING, "n", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s), *fresh = fl_row_builder_create(s);
    fl_row_builder_set_string(b, 0, "t", 1);
    fl_row_builder_set_bigint(b, 2, 1);
    const char *words[] = {"a", "longer-than-sixteen-bytes", "mid", "", "eightchr", "x"};
    for (size_t k = 0; k < sizeof words / sizeof *words; k++) {
        fl_row_builder_set_string(b, 1, words[k], (uint32_t)strlen(words[k]));
        fl_row_builder_reset(fresh);
        fl_row_builder_set_string(fresh, 0, "t", 1);
        fl_row_builder_set_string(fresh, 1, words[k], (uint32_t)strlen(words[k]));
        fl_row_builder_set_bigint(fresh, 2, 1);
        const fl_row *want = fl_row_builder_finish(fresh);
        uint8_t laid[128];
        uint32_t len = fl__row_builder_lay_out(b, laid, sizeof laid);
        assert_int_equal(len, fl_row_size(want));
        assert_memory_equal(laid, want, len);
    }
    /* The first string set again (not the last appended): still canonical. */
    fl_row_builder_set_string(b, 0, "second tag", 10);
    fl_row_builder_reset(fresh);
    fl_row_builder_set_string(fresh, 0, "second tag", 10);
    fl_row_builder_set_string(fresh, 1, "x", 1);
    fl_row_builder_set_bigint(fresh, 2, 1);
    assert_true(fl_row_equals(fl_row_builder_finish(b), fl_row_builder_finish(fresh)));
    fl_row_builder_destroy(b);
    fl_row_builder_destroy(fresh);
    fl_schema_unref(s);
}

static void test_builder_errors(void **state) {
    (void)state;
    fl_schema *s = fl_schema_of(3, "word", FL_STRING, "flag", FL_BOOLEAN, "count", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s);

    fl_row_builder_set_cstring(b, 2, "x");
    assert_null(fl_row_builder_finish(b));
    assert_string_equal(fl_row_builder_error(b), "field 2 (\"count\") is BIGINT, not STRING");
    /* The first error stays. */
    fl_row_builder_set_int(b, 1, 3);
    assert_string_equal(fl_row_builder_error(b), "field 2 (\"count\") is BIGINT, not STRING");
    assert_null(fl_row_builder_finish(b));

    /* reset starts a clean row. */
    fl_row_builder_reset(b);
    assert_null(fl_row_builder_error(b));
    fl_row_builder_set_bigint(b, 2, 5);
    assert_non_null(fl_row_builder_finish(b));

    fl_row_builder_reset(b);
    fl_row_builder_set_bigint(b, 3, 1);
    assert_null(fl_row_builder_finish(b));
    assert_string_equal(fl_row_builder_error(b),
                        "field 3 is out of range: the schema has 3 fields");

    fl_row_builder_reset(b);
    fl_row_builder_set_null(b, -1);
    assert_null(fl_row_builder_finish(b));
    assert_string_equal(fl_row_builder_error(b),
                        "field -1 is out of range: the schema has 3 fields");

    fl_row_builder_reset(b);
    fl_row_builder_set_int(b, 1, 1);
    assert_string_equal(fl_row_builder_error(b), "field 1 (\"flag\") is BOOLEAN, not INT");

    fl_row_builder_reset(b);
    fl_row_builder_set_bytes(b, 0, "x", 1);
    assert_string_equal(fl_row_builder_error(b), "field 0 (\"word\") is STRING, not BYTES");

    fl_row_builder_reset(b);
    fl_row_builder_set_timestamp(b, 2, 1);
    assert_string_equal(fl_row_builder_error(b),
                        "field 2 (\"count\") is BIGINT, not TIMESTAMP(3)");

    fl_row_builder_reset(b);
    fl_row_builder_set_kind(b, (fl_row_kind)9);
    assert_null(fl_row_builder_finish(b));
    assert_non_null(fl_row_builder_error(b));

    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

static void test_copy(void **state) {
    (void)state;
    fl_schema *s = all_types_schema();
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row_builder_set_kind(b, FL_UPDATE_BEFORE);
    fl_row_builder_set_bool(b, 0, true);
    fl_row_builder_set_int(b, 1, 5);
    fl_row_builder_set_double(b, 3, 1.25);
    fl_row_builder_set_cstring(b, 4, "seven");
    fl_row_builder_set_bytes(b, 5, "\xab", 1);
    fl_row_builder_set_timestamp(b, 6, 86400000);
    fl_row *orig = fl_row_copy(fl_row_builder_finish(b));
    assert_int_equal(fl_row_validate(orig, fl_row_size(orig), s, NULL), 0);

    /* copy_row into another builder gives equal bytes. */
    fl_row_builder *c = fl_row_builder_create(s);
    fl_row_builder_copy_row(c, orig);
    const fl_row *copy = fl_row_builder_finish(c);
    assert_non_null(copy);
    assert_true(fl_row_equals(orig, copy));
    assert_int_equal(fl_row_get_kind(copy), FL_UPDATE_BEFORE);

    /* copy_field projects: (s STRING, i INT, big BIGINT) from fields 4, 1, 2. */
    fl_schema *p = fl_schema_of(3, "s", FL_STRING, "i", FL_INT, "big", FL_BIGINT);
    fl_row_builder *pb = fl_row_builder_create(p);
    fl_row_builder_copy_field(pb, 0, orig, 4);
    fl_row_builder_copy_field(pb, 1, orig, 1);
    fl_row_builder_copy_field(pb, 2, orig, 2);
    const fl_row *proj = fl_row_builder_finish(pb);
    assert_non_null(proj);
    fl_row_builder *eb = fl_row_builder_create(p);
    fl_row_builder_set_cstring(eb, 0, "seven");
    fl_row_builder_set_int(eb, 1, 5);
    assert_true(fl_row_equals(proj, fl_row_builder_finish(eb)));

    /* A row of another arity cannot be copied whole. */
    fl_row_builder_reset(c);
    fl_row_builder_copy_row(c, proj);
    assert_null(fl_row_builder_finish(c));
    assert_non_null(fl_row_builder_error(c));

    free(orig);
    fl_row_builder_destroy(b);
    fl_row_builder_destroy(c);
    fl_row_builder_destroy(pb);
    fl_row_builder_destroy(eb);
    fl_schema_unref(p);
    fl_schema_unref(s);
}

/* ---- validation of damaged rows --------------------------------------------- */

typedef struct damaged {
    uint8_t *buf;
    uint32_t len;
} damaged;

/* A fresh copy of the (7, "hi", null, true) row of schema
 * (a INT, s STRING, b BIGINT, f BOOLEAN) laid out as:
 * 0 header, 8 bitmap, 16 a, 24 s, 32 b, 40 f, 48 "hi" + padding; 56 bytes. */
static damaged good_row(const fl_schema *s) {
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row_builder_set_int(b, 0, 7);
    fl_row_builder_set_string(b, 1, "hi", 2);
    fl_row_builder_set_bool(b, 3, true);
    const fl_row *r = fl_row_builder_finish(b);
    damaged d = {(uint8_t *)fl_row_copy(r), fl_row_size(r)};
    fl_row_builder_destroy(b);
    assert_int_equal(d.len, 56);
    return d;
}

static void expect_malformed(const damaged *d, size_t len, const fl_schema *s,
                             const char *fragment) {
    fl_error err;
    fl_error_clear(&err);
    int rc = fl_row_validate(d->buf, len, s, &err);
    if (rc != FL_EFORMAT || strstr(err.message, fragment) == NULL)
        fail_msg("expected FL_EFORMAT with \"%s\", got %d \"%s\"", fragment, rc, err.message);
}

static void test_validate_rejects_damage(void **state) {
    (void)state;
    fl_schema *s = fl_schema_of(4, "a", FL_INT, "s", FL_STRING, "b", FL_BIGINT, "f",
                                FL_BOOLEAN);
    damaged d = good_row(s);
    assert_int_equal(fl_row_validate(d.buf, d.len, s, NULL), 0);
    free(d.buf);

    /* Truncated: every shorter length fails. */
    d = good_row(s);
    for (size_t len = 0; len < d.len; len++) {
        fl_error err;
        fl_error_clear(&err);
        assert_int_equal(fl_row_validate(d.buf, len, s, &err), FL_EFORMAT);
        assert_true(strncmp(err.message, "malformed row", 13) == 0);
    }
    expect_malformed(&d, 40, s, "truncated");
    free(d.buf);

    struct {
        size_t offset;
        uint8_t value;
        const char *fragment;
    } cases[] = {
        {0, 52, "multiple of 8"},          /* length 52 */
        {0, 48, "runs past"},              /* length drops the string */
        {4, 7, "row kind"},                /* kind 7 */
        {5, 1, "reserved"},                /* reserved byte */
        {6, 5, "5 fields"},                /* field count */
        {8, 0x10, "beyond"},               /* null bit 4 of 4 fields */
        {8, 0x05, "field 0 (\"a\") is null but its slot is not zero"},
        {20, 1, "upper half"},             /* a INT, byte 4 of its slot */
        {40, 2, "neither 0 nor 1"},        /* f BOOLEAN = 2 */
        {24, 56, "starts at offset 56"},   /* s offset */
        {28, 200, "runs past"},            /* s length 200 */
        {50, 'x', "padding"},              /* padding after "hi" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        d = good_row(s);
        d.buf[cases[i].offset] = cases[i].value;
        expect_malformed(&d, d.len, s, cases[i].fragment);
        free(d.buf);
    }

    /* Bytes after the last value that the length claims. */
    d = good_row(s);
    d.buf = realloc(d.buf, 64);
    memset(d.buf + 56, 0, 8);
    d.buf[0] = 64;
    d.len = 64;
    expect_malformed(&d, d.len, s, "64 bytes long but its values end at 56");
    free(d.buf);

    /* A schema of another type for the same field count. */
    fl_schema *other = fl_schema_of(4, "a", FL_INT, "s", FL_BIGINT, "b", FL_BIGINT, "f",
                                    FL_BOOLEAN);
    d = good_row(s);
    expect_malformed(&d, d.len, other, "values end at 48");
    free(d.buf);
    fl_schema *fewer = fl_schema_of(1, "a", FL_INT);
    d = good_row(s);
    expect_malformed(&d, d.len, fewer, "4 fields but the schema has 1");
    free(d.buf);

    fl_schema_unref(other);
    fl_schema_unref(fewer);
    fl_schema_unref(s);
}

/* ---- printed form ------------------------------------------------------------ */

static void expect_format(const fl_row *r, const fl_schema *s, const char *expected) {
    char buf[512];
    size_t n = fl_row_format(r, s, buf, sizeof buf);
    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
}

static void test_format(void **state) {
    (void)state;
    fl_schema *s = all_types_schema();
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row_builder_set_bool(b, 0, true);
    fl_row_builder_set_int(b, 1, -1);
    fl_row_builder_set_bigint(b, 2, 9000000000);
    fl_row_builder_set_double(b, 3, 2.5);
    fl_row_builder_set_cstring(b, 4, "a");
    fl_row_builder_set_bytes(b, 5, "\x0a\x1b", 2);
    fl_row_builder_set_timestamp(b, 6, 1704067200000); /* 2024-01-01 00:00:00 UTC */
    const fl_row *r = fl_row_builder_finish(b);
    expect_format(r, s, "(true,-1,9000000000,2.5,a,x'0a1b',2024-01-01 00:00:00.000)");

    fl_row_builder_reset(b);
    fl_row_builder_set_bool(b, 0, false);
    fl_row_builder_set_bytes(b, 5, "", 0);
    fl_row_builder_set_timestamp(b, 6, -1);
    fl_row_builder_set_cstring(b, 4, "");
    r = fl_row_builder_finish(b);
    expect_format(r, s, "(false,null,null,null,,x'',1969-12-31 23:59:59.999)");

    fl_row_builder_set_kind(b, FL_DELETE);
    fl_row_builder_set_timestamp(b, 6, 951782400123); /* 2000-02-29 00:00:00.123 */
    r = fl_row_builder_finish(b);
    expect_format(r, s, "-D(false,null,null,null,,x'',2000-02-29 00:00:00.123)");

    /* Truncation: returns the full length, writes what fits. */
    char small[6];
    size_t n = fl_row_format(r, s, small, sizeof small);
    assert_int_equal(n, strlen("-D(false,null,null,null,,x'',2000-02-29 00:00:00.123)"));
    assert_string_equal(small, "-D(fa");
    assert_int_equal(fl_row_format(r, s, NULL, 0), n);

    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

static void test_format_double(void **state) {
    (void)state;
    fl_schema *s = fl_schema_of(1, "d", FL_DOUBLE);
    fl_row_builder *b = fl_row_builder_create(s);
    struct {
        double v;
        const char *text;
    } cases[] = {
        {2.5, "(2.5)"},
        {3.0, "(3.0)"},
        {-3.0, "(-3.0)"},
        {0.1, "(0.1)"},
        {0.0, "(0.0)"},
        {-0.0, "(-0.0)"},
        {1.0 / 3.0, "(0.3333333333333333)"},
        {123456.789, "(123456.789)"},
        {1e7, "(1.0E7)"},
        {1e10, "(1.0E10)"},
        {1.5e300, "(1.5E300)"},
        {9999999.0, "(9999999.0)"},
        {0.001, "(0.001)"},
        {0.0001, "(1.0E-4)"},
        {1e-5, "(1.0E-5)"},
        {100.0, "(100.0)"},
        {4.35, "(4.35)"},
        {5e-324, "(5.0E-324)"}, /* shortest digits, where Java prints 4.9E-324 */
        {1.7976931348623157e308, "(1.7976931348623157E308)"},
        {NAN, "(NaN)"},
        {INFINITY, "(Infinity)"},
        {-INFINITY, "(-Infinity)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_double(b, 0, cases[i].v);
        expect_format(fl_row_builder_finish(b), s, cases[i].text);
    }
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_types),
        cmocka_unit_test(test_empty_and_large_strings),
        cmocka_unit_test(test_many_fields),
        cmocka_unit_test(test_exact_layout),
        cmocka_unit_test(test_copy_padded),
        cmocka_unit_test(test_builder_reuse_and_overwrite),
        cmocka_unit_test(test_canonical_bytes),
        cmocka_unit_test(test_builder_reuses_buffer),
        cmocka_unit_test(test_builder_builds_from_its_last_row),
        cmocka_unit_test(test_builder_resets_last_string),
        cmocka_unit_test(test_builder_errors),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_validate_rejects_damage),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
