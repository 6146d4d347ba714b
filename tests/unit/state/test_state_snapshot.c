/*
 * test_state_snapshot.c - keyed state snapshots round trip and rescale,
 * checked against the reference model of snapshot_fixtures.h: every kind,
 * with namespaces, TTL deadlines and both timer domains, restored into a
 * backend of the same range, and snapshots of p old subtasks restored into
 * q new ones (2 -> 4, 4 -> 2, 1 -> 3, max parallelism 128), where every
 * entry and timer must land in exactly the backend that owns its key group.
 * Also: the rules for declaring a restored state, restore errors (another
 * max parallelism, the same snapshot twice, a mismatching declared state),
 * timer deduplication across a restore, a failing write, and bytes
 * returning to the level of a backend that never took a view.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "snapshot_fixtures.h"

static sink snapshot_and_release(fl_keyed_backend *b) {
    fl_keyed_snapshot *v = fl_keyed_backend_snapshot(b);
    sink s = snapshot_bytes(v);
    fl_keyed_snapshot_release(v);
    return s;
}

static void destroy_worlds(world *ws, int n) {
    for (int i = 0; i < n; i++) fl_keyed_backend_destroy(ws[i].b);
}

static void test_round_trip(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 300, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    world a = world_create(&fx, 0, FX_MAXP - 1, &now);
    model md = model_create(fx.n_keys);
    test_rng rng = {0x5eed1234};
    for (int i = 0; i < 30000; i++) step(&fx, &a, 1, &md, &rng, &now);
    sink blob = snapshot_and_release(a.b);
    print_message("round trip: %zu entries, %zu bytes of snapshot\n", fl_keyed_backend_entries(a.b),
                  blob.len);

    /* restored first, declared after (the restore creates the states) */
    world b = {.b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now)};
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_keyed_backend_restore(b.b, blob.p, blob.len, &err), 0);
    assert_true(world_declare(&fx, &b));
    /* declared first, restored after */
    world c = world_create(&fx, 0, FX_MAXP - 1, &now);
    assert_int_equal(fl_keyed_backend_restore(c.b, blob.p, blob.len, &err), 0);
    model md_c = model_create(fx.n_keys);
    for (int i = 0; i < md.n_keys * FX_NS; i++) {
        md_c.recs[i] = md.recs[i];
        md_c.recs[i].l = md.recs[i].l_n ? malloc(md.recs[i].l_n * sizeof(int64_t)) : NULL;
        if (md.recs[i].l_n) memcpy(md_c.recs[i].l, md.recs[i].l, md.recs[i].l_n * sizeof(int64_t));
        md_c.recs[i].l_cap = md.recs[i].l_n;
    }
    assert_true(check_worlds(&fx, &a, 1, &md, now, false));
    /* the model's timers are consumed by a check: give them back */
    for (int i = 0; i < md.n_keys * FX_NS; i++)
        memcpy(md.recs[i].timers, md_c.recs[i].timers, sizeof md.recs[i].timers);
    assert_true(check_worlds(&fx, &b, 1, &md, now, true));
    assert_true(check_worlds(&fx, &c, 1, &md_c, now, true));

    /* restored deadlines keep counting on this backend's clock */
    now += FX_TTL / 2;
    assert_true(check_worlds(&fx, &b, 1, &md, now, false));
    now += FX_TTL;
    assert_true(check_worlds(&fx, &b, 1, &md, now, false));
    /* and the restored backend keeps working: more operations, then again */
    for (int i = 0; i < 5000; i++) step(&fx, &b, 1, &md, &rng, &now);
    sink again = snapshot_and_release(b.b);
    world d = {.b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now)};
    assert_int_equal(fl_keyed_backend_restore(d.b, again.p, again.len, &err), 0);
    assert_true(world_declare(&fx, &d));
    assert_true(check_worlds(&fx, &d, 1, &md, now, true));

    sink_free(&again);
    sink_free(&blob);
    model_free(&md);
    model_free(&md_c);
    fl_keyed_backend_destroy(a.b);
    fl_keyed_backend_destroy(b.b);
    fl_keyed_backend_destroy(c.b);
    fl_keyed_backend_destroy(d.b);
    fx_fini(&fx);
}

static void rescale(int p_old, int p_new, uint64_t seed) {
    fixture fx;
    fx_init(&fx, 400, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    world olds[8], news[8];
    for (int i = 0; i < p_old; i++) {
        int first, last;
        fl_key_group_range(i, FX_MAXP, p_old, &first, &last);
        olds[i] = world_create(&fx, first, last, &now);
    }
    model md = model_create(fx.n_keys);
    test_rng rng = {seed};
    for (int i = 0; i < 30000; i++) step(&fx, olds, p_old, &md, &rng, &now);
    sink blobs[8];
    for (int i = 0; i < p_old; i++) blobs[i] = snapshot_and_release(olds[i].b);

    fl_error err;
    fl_error_clear(&err);
    for (int j = 0; j < p_new; j++) {
        int first, last;
        fl_key_group_range(j, FX_MAXP, p_new, &first, &last);
        news[j] = (world){.b = fl_keyed_backend_create(first, last, FX_MAXP, manual_now, &now)};
        for (int i = 0; i < p_old; i++)
            assert_int_equal(fl_keyed_backend_restore(news[j].b, blobs[i].p, blobs[i].len, &err),
                             0);
        assert_true(world_declare(&fx, &news[j]));
    }
    print_message("rescale %d -> %d: %zu live entries\n", p_old, p_new, model_entries(&md, now));
    assert_true(check_worlds(&fx, news, p_new, &md, now, true));
    for (int i = 0; i < p_old; i++) sink_free(&blobs[i]);
    destroy_worlds(olds, p_old);
    destroy_worlds(news, p_new);
    model_free(&md);
    fx_fini(&fx);
}

static void test_rescale_2_to_4(void **state) {
    (void)state;
    rescale(2, 4, 0xa11ce);
}
static void test_rescale_4_to_2(void **state) {
    (void)state;
    rescale(4, 2, 0xb0b);
}
static void test_rescale_1_to_3(void **state) {
    (void)state;
    rescale(1, 3, 0xc0ffee);
}

/* A blob with one key in each state of a small world, for the rule tests. */
static sink small_blob(fixture *fx, int64_t *now) {
    world w = world_create(fx, 0, FX_MAXP - 1, now);
    model md = model_create(fx->n_keys);
    test_rng rng = {77};
    for (int i = 0; i < 2000; i++) step(fx, &w, 1, &md, &rng, now);
    sink s = snapshot_and_release(w.b);
    fl_keyed_backend_destroy(w.b);
    model_free(&md);
    return s;
}

static void test_declaring_restored_states(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 50, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    sink blob = small_blob(&fx, &now);
    fl_keyed_backend *b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_keyed_backend_restore(b, blob.p, blob.len, &err), 0);
    size_t entries = fl_keyed_backend_entries(b);
    assert_true(entries > 0);

    /* another kind */
    fl_state_desc d = {.name = "r", .kind = FL_STATE_VALUE, .value_schema = fx.one};
    assert_null(fl_keyed_backend_state(b, &d, &err));
    assert_int_equal(err.code, FL_ESTATE);
    print_message("%s\n", err.message);
    assert_non_null(strstr(err.message, "was restored as REDUCING (BIGINT)"));
    /* another schema */
    fl_error_clear(&err);
    d = (fl_state_desc){.name = "l", .kind = FL_STATE_LIST, .value_schema = fx.one};
    assert_null(fl_keyed_backend_state(b, &d, &err));
    assert_int_equal(err.code, FL_ESTATE);
    /* ttl turned off */
    fl_error_clear(&err);
    d = (fl_state_desc){.name = "vt", .kind = FL_STATE_VALUE, .value_schema = fx.one};
    assert_null(fl_keyed_backend_state(b, &d, &err));
    assert_int_equal(err.code, FL_ESTATE);
    assert_non_null(strstr(err.message, "ttl"));
    /* another ttl duration is fine (restored deadlines are kept) */
    d.ttl_ms = 5000;
    d.ttl_update = FL_TTL_ON_READ_AND_WRITE;
    fl_kstate *vt = fl_keyed_backend_state(b, &d, NULL);
    assert_non_null(vt);
    assert_int_equal(vt->ttl_ms, 5000);
    /* the right declaration attaches the functions; re-declaring follows the usual rules */
    fl_kstate *r = fx_declare(&fx, b, "r", NULL);
    assert_non_null(r);
    assert_ptr_equal(fx_declare(&fx, b, "r", NULL), r);
    fl_state_desc other = {.name = "r",
                           .kind = FL_STATE_REDUCING,
                           .value_schema = fx.one,
                           .reduce = fx_sum,
                           .reduce_arg = &fx};
    fl_error_clear(&err);
    assert_null(fl_keyed_backend_state(b, &other, &err));
    assert_int_equal(err.code, FL_ESTATE);
    fl_kstate *a = fx_declare(&fx, b, "a", NULL);
    assert_non_null(a);
    test_key k = fx.keys[0];
    set_key(b, &k);
    assert_int_equal(fl_kstate_add(r, row_one(&fx, 5)), 0);
    assert_int_equal(fl_kstate_add(a, row_one(&fx, 5)), 0);
    assert_non_null(fl_kstate_get(r));
    assert_non_null(fl_kstate_get(a));
    /* undeclared states are in the next snapshot too */
    sink again = snapshot_and_release(b);
    fl_keyed_backend *c = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    assert_int_equal(fl_keyed_backend_restore(c, again.p, again.len, &err), 0);
    assert_int_equal(fl_keyed_backend_entries(c), fl_keyed_backend_entries(b));

    fl_keyed_backend_destroy(b);
    fl_keyed_backend_destroy(c);
    sink_free(&blob);
    sink_free(&again);
    fx_fini(&fx);
}

static void test_restore_errors(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 50, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    sink blob = small_blob(&fx, &now);
    fl_error err;

    /* another max parallelism */
    fl_keyed_backend *b = fl_keyed_backend_create(0, 255, 256, manual_now, &now);
    fl_error_clear(&err);
    assert_int_equal(fl_keyed_backend_restore(b, blob.p, blob.len, &err), FL_ESTATE);
    print_message("%s\n", err.message);
    assert_non_null(strstr(err.message, "max parallelism 128"));
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    fl_keyed_backend_destroy(b);

    /* a declared state of another kind: nothing restored */
    b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    fl_state_desc d = {.name = "m", .kind = FL_STATE_LIST, .value_schema = fx.elem};
    assert_non_null(fl_keyed_backend_state(b, &d, NULL));
    fl_error_clear(&err);
    assert_int_equal(fl_keyed_backend_restore(b, blob.p, blob.len, &err), FL_ESTATE);
    print_message("%s\n", err.message);
    assert_non_null(strstr(err.message, "state \"m\" is MAP (BIGINT -> BIGINT, STRING)"));
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_keyed_backend_destroy(b);

    /* the same snapshot twice */
    b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    assert_int_equal(fl_keyed_backend_restore(b, blob.p, blob.len, NULL), 0);
    fl_error_clear(&err);
    assert_int_equal(fl_keyed_backend_restore(b, blob.p, blob.len, &err), FL_ESTATE);
    print_message("%s\n", err.message);
    fl_keyed_backend_destroy(b);

    /* a range that does not meet the snapshot's: states, no entries */
    fl_keyed_backend *half = fl_keyed_backend_create(0, 63, FX_MAXP, manual_now, &now);
    sink empty = snapshot_and_release(half);
    b = fl_keyed_backend_create(64, 127, FX_MAXP, manual_now, &now);
    assert_int_equal(fl_keyed_backend_restore(b, empty.p, empty.len, NULL), 0);
    fl_keyed_backend_destroy(half);
    fl_keyed_backend_destroy(b);
    sink_free(&empty);

    sink_free(&blob);
    fx_fini(&fx);
}

static int failing_write(void *arg, const void *p, size_t n) {
    (void)p;
    size_t *budget = arg;
    if (n > *budget) return FL_EIO;
    *budget -= n;
    return 0;
}

static void test_write_failure(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 2000, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    world w = world_create(&fx, 0, FX_MAXP - 1, &now);
    test_rng rng = {5};
    for (int i = 0; i < 20000; i++) step(&fx, &w, 1, NULL, &rng, &now);
    fl_keyed_snapshot *v = fl_keyed_backend_snapshot(w.b);
    size_t budget = 100000;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_keyed_snapshot_write(v, failing_write, &budget, &err), FL_EIO);
    print_message("%s\n", err.message);
    assert_non_null(strstr(err.message, "could not write the keyed state snapshot"));
    fl_keyed_snapshot_release(v);
    fl_keyed_backend_destroy(w.b);
    fx_fini(&fx);
}

static void test_timers_deduplicated(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 10, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    fl_keyed_backend *a = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    test_ns w1 = fx_ns(1);
    for (int k = 0; k < 10; k++) {
        set_key(a, &fx.keys[k]);
        fl_timer_register(a, FL_EVENT_TIME, 100 + k, &w1, sizeof w1);
        fl_timer_register(a, FL_PROCESSING_TIME, 200, NULL, 0);
    }
    sink blob = snapshot_and_release(a);
    fl_keyed_backend *b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    set_key(b, &fx.keys[3]);
    fl_timer_register(b, FL_EVENT_TIME, 103, &w1, sizeof w1); /* also in the snapshot */
    fl_timer_register(b, FL_EVENT_TIME, 999, &w1, sizeof w1); /* only here */
    assert_int_equal(fl_keyed_backend_restore(b, blob.p, blob.len, NULL), 0);
    assert_int_equal(fl_timer_count(b, FL_EVENT_TIME), 11);
    assert_int_equal(fl_timer_count(b, FL_PROCESSING_TIME), 10);
    fl_timer t;
    int64_t last = 0;
    int n = 0;
    while (fl_timer_pop(b, FL_EVENT_TIME, INT64_MAX, &t)) {
        assert_true(t.time >= last);
        last = t.time;
        assert_int_equal(t.ns_len, sizeof w1);
        /* the pop sets the key: the timer's key is the current key */
        uint32_t klen;
        const void *key = fl_keyed_backend_key(b, &klen);
        if (t.time < 999) assert_int_equal(key_value(key), key_value(fx.keys[t.time - 100].bytes));
        n++;
    }
    assert_int_equal(n, 11);
    fl_keyed_backend_destroy(a);
    fl_keyed_backend_destroy(b);
    sink_free(&blob);
    fx_fini(&fx);
}

/* A view that is never written changes nothing; after its release the
 * copies it caused are gone: bytes equal those of a backend without views. */
static void test_bytes_after_release(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 500, FL_TTL_ON_READ_AND_WRITE);
    int64_t now_a = 0, now_r = 0;
    world a = world_create(&fx, 0, FX_MAXP - 1, &now_a);
    world r = world_create(&fx, 0, FX_MAXP - 1, &now_r);
    test_rng ra = {9}, rr = {9};
    for (int i = 0; i < 10000; i++) {
        step(&fx, &a, 1, NULL, &ra, &now_a);
        step(&fx, &r, 1, NULL, &rr, &now_r);
    }
    size_t before = fl_keyed_backend_bytes(a.b);
    assert_int_equal(before, fl_keyed_backend_bytes(r.b));
    fl_keyed_snapshot *v = fl_keyed_backend_snapshot(a.b);
    assert_int_equal(fl_keyed_backend_bytes(a.b), before); /* the view copies no entry */
    for (int i = 0; i < 10000; i++) {
        step(&fx, &a, 1, NULL, &ra, &now_a);
        step(&fx, &r, 1, NULL, &rr, &now_r);
    }
    size_t during = fl_keyed_backend_bytes(a.b);
    print_message("bytes: %zu before, %zu with a view after 10000 operations, %zu without\n",
                  before, during, fl_keyed_backend_bytes(r.b));
    assert_true(during > fl_keyed_backend_bytes(r.b));
    fl_keyed_snapshot_release(v); /* in the owner's thread: reclaimed at once */
    assert_int_equal(fl_keyed_backend_bytes(a.b), fl_keyed_backend_bytes(r.b));
    assert_int_equal(fl_keyed_backend_entries(a.b), fl_keyed_backend_entries(r.b));
    fl_keyed_backend_destroy(a.b);
    fl_keyed_backend_destroy(r.b);
    fx_fini(&fx);
}

/* Payloads, keys and namespaces larger than the writer's buffer, a list of
 * thousands of elements, and copies of such entries under a live view. */
static void test_large_payloads(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 1, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    fl_schema *bytes = fl_schema_of(1, "b", FL_BYTES);
    fl_state_desc bd = {.name = "blob", .kind = FL_STATE_VALUE, .value_schema = bytes};
    fl_state_desc ld = {.name = "big", .kind = FL_STATE_LIST, .value_schema = fx.elem};
    fl_keyed_backend *a = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    fl_kstate *blob = fl_keyed_backend_state(a, &bd, NULL),
              *big = fl_keyed_backend_state(a, &ld, NULL);
    enum { BLOB = 300 * 1024, KEY = 300 * 1024, NS = 70 * 1024, ELEMS = 3000 };
    uint8_t *payload = malloc(BLOB), *key = malloc(KEY), *ns = malloc(NS);
    for (int i = 0; i < BLOB; i++) payload[i] = (uint8_t)(i * 7);
    for (int i = 0; i < KEY; i++) key[i] = (uint8_t)(i * 13);
    for (int i = 0; i < NS; i++) ns[i] = (uint8_t)(i * 5);
    uint64_t hash = fl_hash_bytes(key, KEY);
    fl_row_builder *rb = fl_row_builder_create(bytes);
    fl_row_builder_set_bytes(rb, 0, payload, BLOB);
    fl_row *big_row = fl_row_copy(fl_row_builder_finish(rb));
    fl_keyed_backend_set_key(a, key, KEY, hash);
    fl_kstate_set_namespace(blob, ns, NS);
    assert_int_equal(fl_kstate_value_update(blob, big_row), 0);
    for (int i = 0; i < ELEMS; i++) assert_int_equal(fl_kstate_list_add(big, row_elem(&fx, i)), 0);
    fl_timer_register(a, FL_EVENT_TIME, 5, ns, NS);

    /* a view, then the entries change (copies of large entries) */
    fl_keyed_snapshot *v = fl_keyed_backend_snapshot(a);
    fl_keyed_backend_set_key(a, key, KEY, hash);
    assert_int_equal(fl_kstate_list_add(big, row_elem(&fx, ELEMS)), 0);
    fl_kstate_clear(blob);
    sink out = snapshot_bytes(v);
    fl_keyed_snapshot_release(v);
    assert_true(out.len > BLOB + KEY + NS);

    fl_keyed_backend *b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    assert_int_equal(fl_keyed_backend_restore(b, out.p, out.len, NULL), 0);
    fl_kstate *blob2 = fl_keyed_backend_state(b, &bd, NULL),
              *big2 = fl_keyed_backend_state(b, &ld, NULL);
    assert_non_null(blob2);
    assert_non_null(big2);
    fl_keyed_backend_set_key(b, key, KEY, hash);
    fl_kstate_set_namespace(blob2, ns, NS);
    const fl_row *got = fl_kstate_value_get(blob2);
    assert_non_null(got);
    assert_true(fl_row_equals(got, big_row));
    size_t n;
    const fl_row *const *els = fl_kstate_list_get(big2, &n);
    assert_int_equal(n, ELEMS); /* as at the view, not after */
    for (int i = 0; i < ELEMS; i++) assert_true(elem_is(els[i], i));
    fl_timer t;
    assert_int_equal(fl_timer_pop(b, FL_EVENT_TIME, 10, &t), 1);
    assert_int_equal(t.key_len, KEY);
    assert_memory_equal(t.key, key, KEY);
    assert_int_equal(t.ns_len, NS);
    assert_memory_equal(t.ns, ns, NS);

    sink_free(&out);
    fl_row_builder_destroy(rb);
    free(big_row);
    free(payload);
    free(key);
    free(ns);
    fl_schema_unref(bytes);
    fl_keyed_backend_destroy(a);
    fl_keyed_backend_destroy(b);
    fx_fini(&fx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rescale_2_to_4),
        cmocka_unit_test(test_rescale_4_to_2),
        cmocka_unit_test(test_rescale_1_to_3),
        cmocka_unit_test(test_declaring_restored_states),
        cmocka_unit_test(test_restore_errors),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_timers_deduplicated),
        cmocka_unit_test(test_bytes_after_release),
        cmocka_unit_test(test_large_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
