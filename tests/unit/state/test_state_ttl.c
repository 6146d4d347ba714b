/*
 * test_state_ttl.c - state TTL with a manual clock, Flink's semantics: an
 * entry written at t with ttl d is visible while now < t + d and never after
 * (NeverReturnExpired); on-create-and-write restarts the clock on writes
 * only, on-read-and-write on reads too; an expired entry met by an access is
 * dropped (entries and bytes fall). Map TTL is per map entry, list TTL per
 * list. A random run compares a value state with an independent reference
 * model for both update types.
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

typedef struct fixture {
    int64_t now;
    fl_keyed_backend *b;
    fl_schema *one;
    fl_row_builder *rb, *kb;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->b = fl_keyed_backend_create(0, 127, 128, manual_now, &f->now);
    f->one = fl_schema_of(1, "n", FL_BIGINT);
    f->rb = fl_row_builder_create(f->one);
    f->kb = fl_row_builder_create(f->one);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fl_row_builder_destroy(f->rb);
    fl_row_builder_destroy(f->kb);
    fl_schema_unref(f->one);
    fl_keyed_backend_destroy(f->b);
    free(f);
    return 0;
}

static const fl_row *row(fl_row_builder *rb, int64_t v) {
    fl_row_builder_reset(rb);
    fl_row_builder_set_bigint(rb, 0, v);
    return fl_row_builder_finish(rb);
}

static fl_kstate *declare(fixture *f, const char *name, fl_state_kind kind, fl_ttl_update u,
                          int64_t ttl) {
    fl_state_desc d = {
        .name = name, .kind = kind, .value_schema = f->one, .ttl_ms = ttl, .ttl_update = u};
    if (kind == FL_STATE_MAP) d.map_key_schema = f->one;
    fl_error err = {0};
    fl_kstate *s = fl_keyed_backend_state(f->b, &d, &err);
    if (!s) fail_msg("%s", err.message);
    return s;
}

static int64_t get_value(fl_kstate *s) {
    const fl_row *r = fl_kstate_value_get(s);
    return r ? fl_row_get_bigint(r, 0) : -1;
}

static void test_value_create_and_write(void **state) {
    fixture *f = *state;
    fl_kstate *s = declare(f, "v", FL_STATE_VALUE, FL_TTL_ON_CREATE_AND_WRITE, 100);
    test_key k = make_key(1);
    set_key(f->b, &k);
    f->now = 1000;
    assert_int_equal(fl_kstate_value_update(s, row(f->rb, 7)), 0);
    size_t bytes = fl_keyed_backend_bytes(f->b);
    assert_true(bytes > 0);
    f->now = 1050;
    assert_int_equal(get_value(s), 7); /* reading does not refresh */
    f->now = 1099;
    assert_int_equal(get_value(s), 7);
    assert_false(fl_kstate_is_empty(s));
    f->now = 1100; /* written at 1000 + 100: expired */
    assert_int_equal(fl_keyed_backend_entries(f->b), 1);
    assert_int_equal(get_value(s), -1);
    assert_int_equal(fl_keyed_backend_entries(f->b), 0);
    assert_int_equal(fl_keyed_backend_bytes(f->b), 0);

    /* a write restarts the clock */
    assert_int_equal(fl_kstate_value_update(s, row(f->rb, 8)), 0);
    f->now = 1180;
    assert_int_equal(fl_kstate_value_update(s, row(f->rb, 9)), 0);
    f->now = 1250;
    assert_int_equal(get_value(s), 9);
    f->now = 1280;
    assert_true(fl_kstate_is_empty(s)); /* expired: empty, and dropped */
    assert_int_equal(fl_keyed_backend_entries(f->b), 0);
    assert_int_equal(fl_keyed_backend_bytes(f->b), 0);
}

static void test_value_read_and_write(void **state) {
    fixture *f = *state;
    fl_kstate *s = declare(f, "v", FL_STATE_VALUE, FL_TTL_ON_READ_AND_WRITE, 100);
    test_key k = make_key(2);
    set_key(f->b, &k);
    f->now = 0;
    assert_int_equal(fl_kstate_value_update(s, row(f->rb, 1)), 0);
    f->now = 60;
    assert_int_equal(get_value(s), 1); /* refreshed: now lives until 160 */
    f->now = 150;
    assert_false(fl_kstate_is_empty(s)); /* not a read: no refresh */
    assert_int_equal(get_value(s), 1);   /* until 250 */
    f->now = 249;
    assert_int_equal(get_value(s), 1); /* until 349 */
    f->now = 348;
    assert_false(fl_kstate_is_empty(s));
    f->now = 349;
    assert_true(fl_kstate_is_empty(s));
    assert_int_equal(get_value(s), -1);
    assert_int_equal(fl_keyed_backend_bytes(f->b), 0);
}

static void test_list_ttl(void **state) {
    fixture *f = *state;
    fl_kstate *s = declare(f, "l", FL_STATE_LIST, FL_TTL_ON_CREATE_AND_WRITE, 100);
    test_key k = make_key(3);
    set_key(f->b, &k);
    f->now = 0;
    assert_int_equal(fl_kstate_list_add(s, row(f->rb, 1)), 0);
    f->now = 90;
    assert_int_equal(fl_kstate_list_add(s, row(f->rb, 2)), 0); /* refreshes the whole list */
    f->now = 150;
    size_t n;
    const fl_row *const *els = fl_kstate_list_get(s, &n);
    assert_int_equal(n, 2);
    assert_int_equal(fl_row_get_bigint(els[0], 0), 1);
    f->now = 190;
    els = fl_kstate_list_get(s, &n);
    assert_null(els);
    assert_int_equal(n, 0);
    assert_int_equal(fl_keyed_backend_bytes(f->b), 0);
    /* adding to an expired list starts a new one */
    f->now = 200;
    assert_int_equal(fl_kstate_list_add(s, row(f->rb, 3)), 0);
    f->now = 350;
    assert_int_equal(fl_kstate_list_add(s, row(f->rb, 4)), 0);
    els = fl_kstate_list_get(s, &n);
    assert_int_equal(n, 1);
    assert_int_equal(fl_row_get_bigint(els[0], 0), 4);
    fl_kstate_clear(s);
    assert_int_equal(fl_keyed_backend_bytes(f->b), 0);
}

static void test_map_ttl_per_entry(void **state) {
    fixture *f = *state;
    fl_kstate *s = declare(f, "m", FL_STATE_MAP, FL_TTL_ON_READ_AND_WRITE, 100);
    test_key k = make_key(4);
    set_key(f->b, &k);
    f->now = 0;
    assert_int_equal(fl_kstate_map_put(s, row(f->kb, 1), row(f->rb, 10)), 0);
    f->now = 50;
    assert_int_equal(fl_kstate_map_put(s, row(f->kb, 2), row(f->rb, 20)), 0);
    assert_int_equal(fl_kstate_map_put(s, row(f->kb, 3), row(f->rb, 30)), 0);
    f->now = 80;
    assert_true(fl_kstate_map_contains(s, row(f->kb, 3))); /* a read: 3 until 180 */
    assert_int_equal(fl_keyed_backend_entries(f->b), 3);
    f->now = 100; /* 1 expired */
    assert_null(fl_kstate_map_get(s, row(f->kb, 1)));
    assert_int_equal(fl_keyed_backend_entries(f->b), 2);
    f->now = 120;
    assert_int_equal(fl_row_get_bigint(fl_kstate_map_get(s, row(f->kb, 2)), 0), 20); /* -> 220 */
    f->now = 185; /* 3 expired at 180 */
    const fl_row *const *keys;
    const fl_row *const *values;
    assert_int_equal(fl_kstate_map_entries(s, &keys, &values), 1); /* reads 2: -> 285 */
    assert_int_equal(fl_row_get_bigint(keys[0], 0), 2);
    assert_int_equal(fl_row_get_bigint(values[0], 0), 20);
    assert_int_equal(fl_keyed_backend_entries(f->b), 1);
    f->now = 284;
    assert_false(fl_kstate_is_empty(s));
    assert_int_equal(fl_kstate_map_remove(s, row(f->kb, 9)), 0);
    f->now = 285;
    assert_int_equal(fl_kstate_map_remove(s, row(f->kb, 2)), 0); /* expired: not there */
    assert_true(fl_kstate_is_empty(s));
    assert_int_equal(fl_keyed_backend_entries(f->b), 0);
    assert_int_equal(fl_keyed_backend_bytes(f->b), 0);

    /* is_empty drops a container whose entries all expired */
    assert_int_equal(fl_kstate_map_put(s, row(f->kb, 5), row(f->rb, 50)), 0);
    f->now = 400;
    assert_true(fl_kstate_is_empty(s));
    assert_int_equal(fl_keyed_backend_bytes(f->b), 0);
}

static int sum(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0) + fl_row_get_bigint(in, 0));
    return 0;
}

static void test_reducing_ttl_and_merge(void **state) {
    fixture *f = *state;
    fl_state_desc d = {.name = "r",
                       .kind = FL_STATE_REDUCING,
                       .value_schema = f->one,
                       .reduce = sum,
                       .ttl_ms = 100,
                       .ttl_update = FL_TTL_ON_CREATE_AND_WRITE};
    fl_kstate *s = fl_keyed_backend_state(f->b, &d, NULL);
    assert_non_null(s);
    test_key k = make_key(5);
    set_key(f->b, &k);
    test_ns w[3] = {{0, 1}, {1, 2}, {2, 3}};
    f->now = 0;
    for (int i = 0; i < 3; i++) {
        fl_kstate_set_namespace(s, &w[i], sizeof w[i]);
        assert_int_equal(fl_kstate_add(s, row(f->rb, 1 << i)), 0);
    }
    f->now = 50;
    fl_kstate_set_namespace(s, &w[1], sizeof w[1]);
    assert_int_equal(fl_kstate_add(s, row(f->rb, 8)), 0); /* w1 = 10, until 150 */
    f->now = 100;                                         /* w0 and w2 expired */
    fl_kstate_set_namespace(s, &w[0], sizeof w[0]);
    assert_null(fl_kstate_get(s));
    assert_int_equal(fl_kstate_add(s, row(f->rb, 100)), 0); /* a fresh start: 100 */
    const void *srcs[] = {&w[1], &w[2]};
    uint32_t lens[] = {sizeof w[1], sizeof w[2]};
    assert_int_equal(fl_kstate_merge_namespaces(s, &w[0], sizeof w[0], srcs, lens, 2), 0);
    assert_int_equal(fl_row_get_bigint(fl_kstate_get(s), 0), 110);
    assert_int_equal(fl_keyed_backend_entries(f->b), 1);
    f->now = 199; /* the merge wrote w0 at 100 */
    assert_int_equal(fl_row_get_bigint(fl_kstate_get(s), 0), 110);
    f->now = 200;
    assert_null(fl_kstate_get(s));
    assert_int_equal(fl_keyed_backend_bytes(f->b), 0);
}

static int count_keys(void *arg, const void *key, uint32_t klen) {
    (*(int *)arg)++;
    return 0;
}

static void test_for_each_key_skips_expired(void **state) {
    fixture *f = *state;
    fl_kstate *s = declare(f, "v", FL_STATE_VALUE, FL_TTL_ON_CREATE_AND_WRITE, 100);
    for (int k = 0; k < 100; k++) {
        f->now = k; /* key k lives until k + 100 */
        test_key key = make_key(k);
        set_key(f->b, &key);
        assert_int_equal(fl_kstate_value_update(s, row(f->rb, k)), 0);
    }
    f->now = 130; /* keys 0..30 expired */
    int n = 0;
    assert_int_equal(fl_kstate_for_each_key(s, NULL, 0, count_keys, &n), 0);
    assert_int_equal(n, 69);
}

static void test_wall_clock_default(void **state) {
    (void)state;
    fl_keyed_backend *b = fl_keyed_backend_create(0, 127, 128, NULL, NULL);
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_state_desc d = {.name = "v",
                       .kind = FL_STATE_VALUE,
                       .value_schema = one,
                       .ttl_ms = INT64_MAX,
                       .ttl_update = FL_TTL_ON_READ_AND_WRITE};
    fl_kstate *s = fl_keyed_backend_state(b, &d, NULL);
    fl_row_builder *rb = fl_row_builder_create(one);
    test_key k = make_key(1);
    set_key(b, &k);
    assert_int_equal(fl_kstate_value_update(s, row(rb, 5)), 0);
    assert_int_equal(fl_row_get_bigint(fl_kstate_value_get(s), 0), 5); /* no overflow */
    fl_row_builder_destroy(rb);
    fl_schema_unref(one);
    fl_keyed_backend_destroy(b);
}

/* The reference model: per key, a value and the time it was last written or
 * (read-and-write) read; visible while now < stamp + ttl. */
typedef struct ref {
    bool set;
    int64_t v, stamp;
} ref;

static void random_run(fixture *f, fl_ttl_update u, uint64_t seed) {
    enum { KEYS = 64, TTL = 50 };
    fl_kstate *s = declare(f, u == FL_TTL_ON_READ_AND_WRITE ? "rw" : "cw", FL_STATE_VALUE, u, TTL);
    ref r[KEYS] = {0};
    test_key keys[KEYS];
    for (int k = 0; k < KEYS; k++) keys[k] = make_key(k * 7919);
    test_rng rng = {seed};
    f->now = 1000;
    for (int op = 0; op < 30000; op++) {
        f->now += rng_below(&rng, 4);
        int k = (int)rng_below(&rng, KEYS);
        set_key(f->b, &keys[k]);
        bool visible = r[k].set && f->now < r[k].stamp + TTL;
        uint32_t what = rng_below(&rng, 8);
        if (what < 2) {
            int64_t v = (int64_t)rng_below(&rng, 1000);
            assert_int_equal(fl_kstate_value_update(s, row(f->rb, v)), 0);
            r[k] = (ref){true, v, f->now};
        } else if (what < 3) {
            assert_int_equal(fl_kstate_is_empty(s), !visible);
        } else if (what < 4) {
            fl_kstate_clear(s);
            r[k].set = false;
        } else {
            const fl_row *got = fl_kstate_value_get(s);
            assert_int_equal(got != NULL, visible);
            if (visible) {
                assert_int_equal(fl_row_get_bigint(got, 0), r[k].v);
                if (u == FL_TTL_ON_READ_AND_WRITE) r[k].stamp = f->now;
            }
        }
        if (!visible && what != 0 && what != 1) r[k].set = false;
    }
    /* Everything left expires: reading all empties the backend. */
    f->now += TTL;
    for (int k = 0; k < KEYS; k++) {
        set_key(f->b, &keys[k]);
        assert_null(fl_kstate_value_get(s));
    }
    assert_int_equal(fl_keyed_backend_entries(f->b), 0);
    assert_int_equal(fl_keyed_backend_bytes(f->b), 0);
}

static void test_random_create_and_write(void **state) {
    random_run(*state, FL_TTL_ON_CREATE_AND_WRITE, 0x5eed);
}

static void test_random_read_and_write(void **state) {
    random_run(*state, FL_TTL_ON_READ_AND_WRITE, 0xbeef);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_value_create_and_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_read_and_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_ttl_per_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reducing_ttl_and_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_for_each_key_skips_expired, setup, teardown),
        cmocka_unit_test(test_wall_clock_default),
        cmocka_unit_test_setup_teardown(test_random_create_and_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_read_and_write, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
