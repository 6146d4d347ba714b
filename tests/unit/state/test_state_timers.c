/*
 * test_state_timers.c - the timer service: deduplication on (key, namespace,
 * time), time order with ties in registration order, deletion, the current
 * key on pop, registering while popping, both domains independent, a random
 * register/delete/pop run against a reference (a plain array scanned for the
 * minimum), and bytes returning to 0 once every timer has fired.
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

static fl_keyed_backend *backend(void) {
    fl_keyed_backend *b = fl_keyed_backend_create(0, 127, 128, NULL, NULL);
    assert_non_null(b);
    return b;
}

static void test_basics(void **state) {
    (void)state;
    fl_keyed_backend *b = backend();
    assert_int_equal(fl_timer_next(b, FL_EVENT_TIME), INT64_MAX);
    assert_int_equal(fl_timer_count(b, FL_EVENT_TIME), 0);
    fl_timer t;
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, INT64_MAX, &t), 0);

    test_key k1 = make_key(1), k2 = make_key(2);
    test_ns w = {0, 10};
    set_key(b, &k1);
    fl_timer_register(b, FL_EVENT_TIME, 10, &w, sizeof w);
    fl_timer_register(b, FL_EVENT_TIME, 10, &w, sizeof w); /* duplicate */
    fl_timer_register(b, FL_EVENT_TIME, 10, NULL, 0);      /* other namespace */
    fl_timer_register(b, FL_EVENT_TIME, 5, &w, sizeof w);
    set_key(b, &k2);
    fl_timer_register(b, FL_EVENT_TIME, 10, &w, sizeof w); /* other key */
    fl_timer_register(b, FL_PROCESSING_TIME, 1, NULL, 0);  /* other domain */
    assert_int_equal(fl_timer_count(b, FL_EVENT_TIME), 4);
    assert_int_equal(fl_timer_count(b, FL_PROCESSING_TIME), 1);
    assert_int_equal(fl_timer_next(b, FL_EVENT_TIME), 5);
    assert_int_equal(fl_timer_next(b, FL_PROCESSING_TIME), 1);

    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, 4, &t), 0);
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, 5, &t), 1);
    assert_int_equal(t.time, 5);
    assert_int_equal(key_value(t.key), 1);
    assert_int_equal(t.ns_len, sizeof w);
    assert_memory_equal(t.ns, &w, sizeof w);
    /* the current key is the timer's */
    uint32_t len;
    assert_int_equal(key_value(fl_keyed_backend_key(b, &len)), 1);
    assert_int_equal(fl_keyed_backend_key_group(b), fl_key_group_of_hash(k1.hash, 128));

    /* ties on time: registration order (k1 w, k1 empty, k2 w) */
    int64_t expect_key[] = {1, 1, 2};
    uint32_t expect_ns[] = {sizeof w, 0, sizeof w};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, 10, &t), 1);
        assert_int_equal(t.time, 10);
        assert_int_equal(key_value(t.key), expect_key[i]);
        assert_int_equal(t.ns_len, expect_ns[i]);
        assert_int_equal(key_value(fl_keyed_backend_key(b, &len)), expect_key[i]);
    }
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, INT64_MAX, &t), 0);
    assert_int_equal(fl_timer_count(b, FL_PROCESSING_TIME), 1);

    /* deletion prevents firing; deleting the absent is a no-op */
    set_key(b, &k1);
    fl_timer_register(b, FL_EVENT_TIME, 20, &w, sizeof w);
    fl_timer_register(b, FL_EVENT_TIME, 30, &w, sizeof w);
    fl_timer_delete(b, FL_EVENT_TIME, 20, &w, sizeof w);
    fl_timer_delete(b, FL_EVENT_TIME, 20, &w, sizeof w);
    fl_timer_delete(b, FL_EVENT_TIME, 30, NULL, 0);
    fl_timer_delete(b, FL_PROCESSING_TIME, 30, &w, sizeof w);
    assert_int_equal(fl_timer_next(b, FL_EVENT_TIME), 30);
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, 100, &t), 1);
    assert_int_equal(t.time, 30);
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, 100, &t), 0);
    /* a fired timer can be registered again */
    fl_timer_register(b, FL_EVENT_TIME, 30, &w, sizeof w);
    assert_int_equal(fl_timer_count(b, FL_EVENT_TIME), 1);
    fl_timer_delete(b, FL_EVENT_TIME, 30, &w, sizeof w);
    /* extreme times */
    fl_timer_register(b, FL_EVENT_TIME, INT64_MIN, NULL, 0);
    fl_timer_register(b, FL_EVENT_TIME, INT64_MAX, NULL, 0);
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, INT64_MIN, &t), 1);
    assert_int_equal(t.time, INT64_MIN);
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, INT64_MAX - 1, &t), 0);
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, INT64_MAX, &t), 1);
    assert_int_equal(fl_timer_pop(b, FL_PROCESSING_TIME, INT64_MAX, &t), 1);
    assert_int_equal(fl_timer_pop(b, FL_PROCESSING_TIME, INT64_MAX, &t), 0);
    /* the timer popped last in event time is held (its key and namespace
     * readable) until the next event-time pop call */
    assert_true(fl_keyed_backend_bytes(b) > 0);
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, INT64_MAX, &t), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_keyed_backend_destroy(b);
}

static void test_register_while_popping(void **state) {
    (void)state;
    fl_keyed_backend *b = backend();
    test_key k1 = make_key(1), k2 = make_key(2);
    test_ns w = {0, 10};
    set_key(b, &k1);
    fl_timer_register(b, FL_EVENT_TIME, 10, &w, sizeof w);
    fl_timer_register(b, FL_EVENT_TIME, 20, &w, sizeof w);
    fl_timer t;
    int fired = 0;
    int64_t times[8];
    int64_t keys[8];
    while (fl_timer_pop(b, FL_EVENT_TIME, 20, &t)) {
        assert_true(fired < 8);
        times[fired] = t.time;
        keys[fired] = key_value(t.key);
        fired++;
        if (fired == 1) {
            /* in the callback of (k1, w, 10): the current key is k1 */
            fl_timer_register(b, FL_EVENT_TIME, 10, &w, sizeof w); /* same again: fires again */
            fl_timer_register(b, FL_EVENT_TIME, 15, NULL, 0);
            fl_timer_register(b, FL_EVENT_TIME, 21, NULL, 0); /* after upto */
            set_key(b, &k2);
            fl_timer_register(b, FL_EVENT_TIME, 10, &w, sizeof w);
            fl_timer_delete(b, FL_EVENT_TIME, 20, &w, sizeof w); /* k2 has none: no-op */
        }
    }
    int64_t expect_times[] = {10, 10, 10, 15, 20};
    int64_t expect_keys[] = {1, 1, 2, 1, 1};
    assert_int_equal(fired, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(times[i], expect_times[i]);
        assert_int_equal(keys[i], expect_keys[i]);
    }
    assert_int_equal(fl_timer_count(b, FL_EVENT_TIME), 1);
    assert_int_equal(fl_timer_next(b, FL_EVENT_TIME), 21);
    fl_keyed_backend_destroy(b); /* frees the remaining timer */
}

/* Reference: every registered timer (key index, namespace index, time,
 * registration number), alive or not; pops take the alive minimum by
 * (time, registration). */
typedef struct ref_timer {
    int key, ns;
    int64_t time;
    uint64_t seq;
    bool alive;
} ref_timer;

typedef struct ref_timers {
    ref_timer *t;
    size_t n, cap;
    uint64_t seq;
} ref_timers;

static ref_timer *ref_find(ref_timers *r, int key, int ns, int64_t time) {
    for (size_t i = 0; i < r->n; i++)
        if (r->t[i].alive && r->t[i].key == key && r->t[i].ns == ns && r->t[i].time == time)
            return &r->t[i];
    return NULL;
}

static void ref_register(ref_timers *r, int key, int ns, int64_t time) {
    if (ref_find(r, key, ns, time)) return;
    if (r->n == r->cap) { /* drop the dead (keeping the order), then grow if still full */
        size_t live = 0;
        for (size_t i = 0; i < r->n; i++)
            if (r->t[i].alive) r->t[live++] = r->t[i];
        r->n = live;
    }
    if (r->n == r->cap || r->n * 2 > r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->t = realloc(r->t, r->cap * sizeof *r->t);
        assert_non_null(r->t);
    }
    r->t[r->n++] = (ref_timer){key, ns, time, r->seq++, true};
}

static ref_timer *ref_min(ref_timers *r) {
    ref_timer *best = NULL;
    for (size_t i = 0; i < r->n; i++) {
        ref_timer *t = &r->t[i];
        if (!t->alive) continue;
        if (!best || t->time < best->time || (t->time == best->time && t->seq < best->seq))
            best = t;
    }
    return best;
}

static size_t ref_count(const ref_timers *r) {
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) n += r->t[i].alive;
    return n;
}

static const char *const NS_NAMES[] = {"", "a", "window-1", "window-2"};

static void test_random_against_reference(void **state) {
    (void)state;
    enum { KEYS = 40 };
    fl_keyed_backend *b = backend();
    test_key keys[KEYS];
    for (int k = 0; k < KEYS; k++) keys[k] = make_key(k * 13);
    ref_timers ref[2] = {{0}};
    test_rng rng = {0x7177e5};
    int64_t watermark[2] = {0, 0};
    size_t popped_total = 0;

    for (int op = 0; op < 30000; op++) {
        int d = (int)rng_below(&rng, 2);
        fl_time_domain dom = d ? FL_PROCESSING_TIME : FL_EVENT_TIME;
        uint32_t what = rng_below(&rng, 10);
        int k = (int)rng_below(&rng, KEYS), ns = (int)rng_below(&rng, 4);
        int64_t time = watermark[d] + (int64_t)rng_below(&rng, 200) - 20;
        const char *nsb = NS_NAMES[ns];
        uint32_t nsl = (uint32_t)strlen(nsb);
        if (what < 5) {
            set_key(b, &keys[k]);
            fl_timer_register(b, dom, time, nsl ? nsb : NULL, nsl);
            ref_register(&ref[d], k, ns, time);
        } else if (what < 7) {
            /* delete one that exists (or a random one) */
            if (rng_below(&rng, 2) && ref_count(&ref[d]) > 0) {
                size_t i;
                do i = rng_below(&rng, (uint32_t)ref[d].n);
                while (!ref[d].t[i].alive);
                k = ref[d].t[i].key;
                ns = ref[d].t[i].ns;
                time = ref[d].t[i].time;
                nsb = NS_NAMES[ns];
                nsl = (uint32_t)strlen(nsb);
            }
            set_key(b, &keys[k]);
            fl_timer_delete(b, dom, time, nsb, nsl);
            ref_timer *t = ref_find(&ref[d], k, ns, time);
            if (t) t->alive = false;
        } else {
            /* advance time and pop everything due, sometimes registering from
             * within (due or not) */
            watermark[d] += (int64_t)rng_below(&rng, 60);
            fl_timer t;
            while (fl_timer_pop(b, dom, watermark[d], &t)) {
                ref_timer *r = ref_min(&ref[d]);
                assert_non_null(r);
                assert_true(r->time <= watermark[d]);
                assert_int_equal(t.time, r->time);
                assert_int_equal(key_value(t.key), key_value(keys[r->key].bytes));
                assert_int_equal(t.ns_len, strlen(NS_NAMES[r->ns]));
                assert_memory_equal(t.ns, NS_NAMES[r->ns], t.ns_len);
                uint32_t len;
                assert_int_equal(key_value(fl_keyed_backend_key(b, &len)),
                                 key_value(keys[r->key].bytes));
                r->alive = false;
                popped_total++;
                if (rng_below(&rng, 8) == 0) {
                    int64_t again = watermark[d] - 5 + (int64_t)rng_below(&rng, 10);
                    fl_timer_register(b, dom, again, NS_NAMES[r->ns], t.ns_len);
                    ref_register(&ref[d], r->key, r->ns, again);
                }
            }
            ref_timer *r = ref_min(&ref[d]);
            assert_true(r == NULL || r->time > watermark[d]);
        }
        assert_int_equal(fl_timer_count(b, dom), ref_count(&ref[d]));
        ref_timer *m = ref_min(&ref[d]);
        assert_int_equal(fl_timer_next(b, dom), m ? m->time : INT64_MAX);
    }
    assert_true(popped_total > 1000);
    /* drain: everything fires exactly once, then nothing is held */
    for (int d = 0; d < 2; d++) {
        fl_time_domain dom = d ? FL_PROCESSING_TIME : FL_EVENT_TIME;
        fl_timer t;
        while (fl_timer_pop(b, dom, INT64_MAX, &t)) {
            ref_timer *r = ref_min(&ref[d]);
            assert_non_null(r);
            assert_int_equal(t.time, r->time);
            r->alive = false;
        }
        assert_int_equal(ref_count(&ref[d]), 0);
        free(ref[d].t);
    }
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_keyed_backend_destroy(b);
}

static void test_many_timers_bytes(void **state) {
    (void)state;
    fl_keyed_backend *b = backend();
    enum { N = 200000 };
    for (int i = 0; i < N; i++) {
        test_key k = make_key(i % 5000);
        set_key(b, &k);
        test_ns w = {i / 5000 * 100, i / 5000 * 100 + 100};
        fl_timer_register(b, FL_EVENT_TIME, w.end - 1, &w, sizeof w);
    }
    assert_int_equal(fl_timer_count(b, FL_EVENT_TIME), N);
    assert_true(fl_keyed_backend_bytes(b) > (size_t)N * 64);
    /* delete half, fire the rest in order */
    for (int i = 0; i < N; i += 2) {
        test_key k = make_key(i % 5000);
        set_key(b, &k);
        test_ns w = {i / 5000 * 100, i / 5000 * 100 + 100};
        fl_timer_delete(b, FL_EVENT_TIME, w.end - 1, &w, sizeof w);
    }
    fl_timer t;
    int64_t last = INT64_MIN;
    size_t n = 0;
    while (fl_timer_pop(b, FL_EVENT_TIME, INT64_MAX, &t)) {
        assert_true(t.time >= last);
        assert_int_equal(key_value(t.key) % 2, 1);
        last = t.time;
        n++;
    }
    assert_int_equal(n, N / 2);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_keyed_backend_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_register_while_popping),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_many_timers_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
