/*
 * test_state_keyed.c - the heap keyed state backend without TTL: declaration
 * and re-declaration rules, every state kind against a plain reference kept
 * in the test (arrays indexed by key and namespace) over thousands of random
 * operations, user function failures, merging namespaces, visiting keys, the
 * key-group range, and byte/entry accounting returning to 0.
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

#define NKEYS 48
#define NNS   5
#define NMK   12

/* Namespace i: 0 is the empty one, 1..3 windows, 4 a 5-byte string. */
static const void *ns_bytes(int i, uint32_t *len) {
    static const test_ns windows[3] = {{0, 10}, {10, 20}, {0, 20}};
    if (i == 0) {
        *len = 0;
        return NULL;
    }
    if (i == 4) {
        *len = 5;
        return "abcde";
    }
    *len = sizeof(test_ns);
    return &windows[i - 1];
}

static void set_ns(fl_kstate *s, int i) {
    uint32_t len;
    const void *ns = ns_bytes(i, &len);
    fl_kstate_set_namespace(s, ns, len);
}

static fl_keyed_backend *full_backend(void) {
    fl_keyed_backend *b = fl_keyed_backend_create(0, 127, 128, NULL, NULL);
    assert_non_null(b);
    return b;
}

static fl_kstate *declare(fl_keyed_backend *b, const fl_state_desc *d) {
    fl_error err = {0};
    fl_kstate *s = fl_keyed_backend_state(b, d, &err);
    if (!s) fail_msg("declaring \"%s\": %s", d->name, err.message);
    return s;
}

/* ---- declaration ------------------------------------------------------------------------------
 */

static int sum_reduce(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0) + fl_row_get_bigint(in, 0));
    return 0;
}

static int other_reduce(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(in, 0));
    return 0;
}

static void test_declaration(void **state) {
    (void)state;
    fl_keyed_backend *b = full_backend();
    fl_schema *bigint = fl_schema_of(1, "count", FL_BIGINT);
    fl_schema *bigint2 = fl_schema_of(1, "count", FL_BIGINT);
    fl_schema *integer = fl_schema_of(1, "count", FL_INT);
    fl_schema *str = fl_schema_of(1, "word", FL_STRING);

    fl_state_desc d = {.name = "counts", .kind = FL_STATE_VALUE, .value_schema = bigint};
    fl_kstate *s = declare(b, &d);
    /* Same again, with an equal (not the same) schema: the same handle. */
    fl_state_desc d2 = d;
    d2.value_schema = bigint2;
    assert_ptr_equal(declare(b, &d2), s);

    fl_error err = {0};
    fl_state_desc wrong = d;
    wrong.kind = FL_STATE_LIST;
    assert_null(fl_keyed_backend_state(b, &wrong, &err));
    assert_int_equal(err.code, FL_ESTATE);
    assert_string_equal(err.message, "state \"counts\" was declared as VALUE (BIGINT), not LIST");

    fl_error_clear(&err);
    wrong = d;
    wrong.value_schema = integer;
    assert_null(fl_keyed_backend_state(b, &wrong, &err));
    assert_int_equal(err.code, FL_ESTATE);
    assert_string_equal(err.message,
                        "state \"counts\" was declared as VALUE (BIGINT), not VALUE (INT)");

    fl_error_clear(&err);
    wrong = d;
    wrong.ttl_ms = 1000;
    wrong.ttl_update = FL_TTL_ON_READ_AND_WRITE;
    assert_null(fl_keyed_backend_state(b, &wrong, &err));
    assert_int_equal(err.code, FL_ESTATE);
    assert_string_equal(err.message, "state \"counts\" was declared without ttl, not with a ttl "
                                     "of 1000 ms on read and write");

    /* A ttl_ms without an update type is no TTL: the same declaration. */
    fl_error_clear(&err);
    wrong = d;
    wrong.ttl_ms = 1000;
    assert_ptr_equal(fl_keyed_backend_state(b, &wrong, &err), s);

    /* Map: the key schema takes part. */
    fl_state_desc m = {
        .name = "words", .kind = FL_STATE_MAP, .value_schema = bigint, .map_key_schema = str};
    fl_kstate *ms = declare(b, &m);
    assert_ptr_not_equal(ms, s);
    fl_state_desc m2 = m;
    m2.map_key_schema = integer;
    fl_error_clear(&err);
    assert_null(fl_keyed_backend_state(b, &m2, &err));
    assert_string_equal(err.message, "state \"words\" was declared as MAP (STRING -> BIGINT), not "
                                     "MAP (INT -> BIGINT)");

    /* Reducing: the function takes part. */
    fl_state_desc r = {
        .name = "sum", .kind = FL_STATE_REDUCING, .value_schema = bigint, .reduce = sum_reduce};
    fl_kstate *rs = declare(b, &r);
    assert_ptr_equal(declare(b, &r), rs);
    fl_state_desc r2 = r;
    r2.reduce = other_reduce;
    fl_error_clear(&err);
    assert_null(fl_keyed_backend_state(b, &r2, &err));
    assert_string_equal(err.message, "state \"sum\" was declared with another reduce function");

    /* Incomplete descriptors. */
    struct {
        fl_state_desc d;
        const char *message;
    } bad[] = {
        {{.name = "", .kind = FL_STATE_VALUE, .value_schema = bigint}, "a state needs a name"},
        {{.name = "x", .kind = FL_STATE_VALUE}, "state \"x\" has no value schema"},
        {{.name = "x", .kind = FL_STATE_MAP, .value_schema = bigint},
         "map state \"x\" has no map key schema"},
        {{.name = "x", .kind = FL_STATE_REDUCING, .value_schema = bigint},
         "reducing state \"x\" has no reduce function"},
        {{.name = "x", .kind = FL_STATE_AGGREGATING, .value_schema = bigint},
         "aggregating state \"x\" needs an aggregate with acc_schema, create, add, result and "
         "merge"},
        {{.name = "x",
          .kind = FL_STATE_VALUE,
          .value_schema = bigint,
          .ttl_update = FL_TTL_ON_CREATE_AND_WRITE},
         "state \"x\" has a ttl of 0 ms: the ttl must be positive"},
        {{.name = "x", .kind = (fl_state_kind)42, .value_schema = bigint},
         "state \"x\" has an unknown kind 42"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_error_clear(&err);
        assert_null(fl_keyed_backend_state(b, &bad[i].d, &err));
        assert_int_equal(err.code, FL_EINVAL);
        assert_string_equal(err.message, bad[i].message);
    }
    assert_null(fl_keyed_backend_state(b, NULL, NULL)); /* err may be NULL */

    /* Calls of another kind fail without touching anything. */
    test_key k = make_key(7);
    set_key(b, &k);
    fl_row_builder *rb = fl_row_builder_create(bigint);
    fl_row_builder_set_bigint(rb, 0, 5);
    const fl_row *five = fl_row_builder_finish(rb);
    assert_int_equal(fl_kstate_list_add(s, five), FL_ESTATE);
    assert_int_equal(fl_kstate_add(s, five), FL_ESTATE);
    assert_int_equal(fl_kstate_map_put(s, five, five), FL_ESTATE);
    assert_int_equal(fl_kstate_value_update(rs, five), FL_ESTATE);
    assert_null(fl_kstate_get(s));
    assert_null(fl_kstate_map_get(s, five));
    size_t n = 99;
    assert_null(fl_kstate_list_get(s, &n));
    assert_int_equal(n, 0);
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);

    fl_row_builder_destroy(rb);
    fl_schema_unref(bigint);
    fl_schema_unref(bigint2);
    fl_schema_unref(integer);
    fl_schema_unref(str);
    fl_keyed_backend_destroy(b);
}

/* ---- value -------------------------------------------------------------------------------------
 */

/* (v BIGINT, s STRING): s is slen letters derived from v, so that updates
 * change the row's size (in place, growing and shrinking). */
static const fl_row *value_row(fl_row_builder *rb, int64_t v, uint32_t slen) {
    char s[64];
    for (uint32_t i = 0; i < slen; i++) s[i] = (char)('a' + (v + i) % 26);
    fl_row_builder_reset(rb);
    fl_row_builder_set_bigint(rb, 0, v);
    fl_row_builder_set_string(rb, 1, s, slen);
    return fl_row_builder_finish(rb);
}

typedef struct ref_value {
    bool set;
    int64_t v;
    uint32_t slen;
} ref_value;

static void test_value_random(void **state) {
    (void)state;
    fl_keyed_backend *b = full_backend();
    fl_schema *sch = fl_schema_of(2, "v", FL_BIGINT, "s", FL_STRING);
    fl_state_desc d = {.name = "value", .kind = FL_STATE_VALUE, .value_schema = sch};
    fl_kstate *s = declare(b, &d);
    fl_row_builder *rb = fl_row_builder_create(sch);
    fl_row_builder *expect = fl_row_builder_create(sch);
    static ref_value ref[NKEYS][NNS];
    memset(ref, 0, sizeof ref);
    test_key keys[NKEYS];
    for (int k = 0; k < NKEYS; k++) keys[k] = make_key(k * 1000003);
    test_rng rng = {0x1234567};
    size_t present = 0;

    for (int op = 0; op < 40000; op++) {
        int k = (int)rng_below(&rng, NKEYS), ns = (int)rng_below(&rng, NNS);
        set_key(b, &keys[k]);
        set_ns(s, ns);
        ref_value *r = &ref[k][ns];
        uint32_t what = rng_below(&rng, 10);
        if (what < 4) {
            int64_t v = (int64_t)rng_below(&rng, 1000000);
            uint32_t slen = rng_below(&rng, 60);
            assert_int_equal(fl_kstate_value_update(s, value_row(rb, v, slen)), 0);
            present += !r->set;
            *r = (ref_value){true, v, slen};
        } else if (what < 5) {
            /* get, then update with the row got (it lives inside the entry) */
            const fl_row *got = fl_kstate_value_get(s);
            assert_int_equal(got != NULL, r->set);
            if (got) assert_int_equal(fl_kstate_value_update(s, got), 0);
        } else if (what < 6) {
            fl_kstate_clear(s);
            present -= r->set;
            r->set = false;
        } else if (what < 7) {
            assert_int_equal(fl_kstate_value_update(s, NULL), 0);
            present -= r->set;
            r->set = false;
        } else if (what < 8) {
            assert_int_equal(fl_kstate_is_empty(s), !r->set);
        } else {
            const fl_row *got = fl_kstate_value_get(s);
            if (!r->set) {
                assert_null(got);
            } else {
                assert_non_null(got);
                assert_true(fl_row_equals(got, value_row(expect, r->v, r->slen)));
            }
        }
        assert_int_equal(fl_keyed_backend_entries(b), present);
    }
    /* Every (key, namespace) against the reference, then clear all. */
    for (int k = 0; k < NKEYS; k++) {
        set_key(b, &keys[k]);
        for (int ns = 0; ns < NNS; ns++) {
            set_ns(s, ns);
            const fl_row *got = fl_kstate_value_get(s);
            assert_int_equal(got != NULL, ref[k][ns].set);
            if (got)
                assert_true(fl_row_equals(got, value_row(expect, ref[k][ns].v, ref[k][ns].slen)));
            fl_kstate_clear(s);
        }
    }
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_row_builder_destroy(rb);
    fl_row_builder_destroy(expect);
    fl_schema_unref(sch);
    fl_keyed_backend_destroy(b);
}

/* A large value then a small one: the entry shrinks (bytes fall); a row
 * handed back to the state that returned it is copied intact whatever the
 * capacity. */
static void test_value_shrink_self_update(void **state) {
    (void)state;
    fl_keyed_backend *b = full_backend();
    fl_schema *sch = fl_schema_of(1, "s", FL_STRING);
    fl_schema *ks = fl_schema_of(1, "k", FL_BIGINT);
    fl_state_desc d = {.name = "value", .kind = FL_STATE_VALUE, .value_schema = sch};
    fl_state_desc md = {
        .name = "map", .kind = FL_STATE_MAP, .value_schema = sch, .map_key_schema = ks};
    fl_kstate *s = declare(b, &d), *ms = declare(b, &md);
    fl_row_builder *rb = fl_row_builder_create(sch);
    fl_row_builder *kb = fl_row_builder_create(ks);
    static char big[4000];
    memset(big, 'b', sizeof big);
    test_key k = make_key(3);
    set_key(b, &k);
    fl_row_builder_set_bigint(kb, 0, 1);
    const fl_row *mkey = fl_row_builder_finish(kb);
    for (uint32_t len = 1; len <= sizeof big; len = len * 3 + 1) {
        fl_row_builder_reset(rb);
        fl_row_builder_set_string(rb, 0, big, sizeof big);
        assert_int_equal(fl_kstate_value_update(s, fl_row_builder_finish(rb)), 0);
        assert_int_equal(fl_kstate_map_put(ms, mkey, fl_row_builder_finish(rb)), 0);
        size_t large = fl_keyed_backend_bytes(b);
        fl_row_builder_reset(rb);
        fl_row_builder_set_string(rb, 0, big, len);
        assert_int_equal(fl_kstate_value_update(s, fl_row_builder_finish(rb)), 0);
        assert_int_equal(fl_kstate_map_put(ms, mkey, fl_row_builder_finish(rb)), 0);
        if (len < 500) assert_true(fl_keyed_backend_bytes(b) < large - 2 * 3000);
        assert_int_equal(fl_kstate_value_update(s, fl_kstate_value_get(s)), 0);
        assert_int_equal(fl_kstate_map_put(ms, mkey, fl_kstate_map_get(ms, mkey)), 0);
        uint32_t got;
        assert_memory_equal(fl_row_get_string(fl_kstate_value_get(s), 0, &got), big, len);
        assert_int_equal(got, len);
        assert_memory_equal(fl_row_get_string(fl_kstate_map_get(ms, mkey), 0, &got), big, len);
        assert_int_equal(got, len);
    }
    fl_kstate_clear(s);
    fl_kstate_clear(ms);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_row_builder_destroy(rb);
    fl_row_builder_destroy(kb);
    fl_schema_unref(sch);
    fl_schema_unref(ks);
    fl_keyed_backend_destroy(b);
}

/* ---- list --------------------------------------------------------------------------------------
 */

typedef struct ref_list {
    int64_t *v;
    size_t n, cap;
} ref_list;

static void ref_push(ref_list *l, int64_t v) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n++] = v;
}

static const fl_row *bigint_row(fl_row_builder *rb, int64_t v) {
    fl_row_builder_reset(rb);
    fl_row_builder_set_bigint(rb, 0, v);
    return fl_row_builder_finish(rb);
}

static void check_list(fl_kstate *s, const ref_list *r) {
    size_t n = 12345;
    const fl_row *const *got = fl_kstate_list_get(s, &n);
    assert_int_equal(n, r->n);
    if (n == 0) assert_null(got);
    for (size_t i = 0; i < n; i++) assert_int_equal(fl_row_get_bigint(got[i], 0), r->v[i]);
}

static void test_list_random(void **state) {
    (void)state;
    fl_keyed_backend *b = full_backend();
    fl_schema *sch = fl_schema_of(1, "x", FL_BIGINT);
    fl_state_desc d = {.name = "list", .kind = FL_STATE_LIST, .value_schema = sch};
    fl_kstate *s = declare(b, &d);
    fl_row_builder *rb = fl_row_builder_create(sch);
    static ref_list ref[NKEYS][NNS];
    memset(ref, 0, sizeof ref);
    test_key keys[NKEYS];
    for (int k = 0; k < NKEYS; k++) keys[k] = make_key(-k);
    test_rng rng = {0xfeedbeef};

    for (int op = 0; op < 40000; op++) {
        int k = (int)rng_below(&rng, NKEYS), ns = (int)rng_below(&rng, NNS);
        set_key(b, &keys[k]);
        set_ns(s, ns);
        ref_list *r = &ref[k][ns];
        uint32_t what = rng_below(&rng, 20);
        if (what < 9) {
            int64_t v = (int64_t)rng_next(&rng);
            assert_int_equal(fl_kstate_list_add(s, bigint_row(rb, v)), 0);
            ref_push(r, v);
        } else if (what < 10 && r->n > 0) {
            /* add one of the list's own elements (it may move while growing) */
            size_t n;
            const fl_row *const *got = fl_kstate_list_get(s, &n);
            size_t i = rng_below(&rng, (uint32_t)n);
            assert_int_equal(fl_kstate_list_add(s, got[i]), 0);
            ref_push(r, r->v[i]);
        } else if (what < 12) {
            /* update with a reversed, filtered view of the list itself */
            size_t n;
            const fl_row *const *got = fl_kstate_list_get(s, &n);
            const fl_row **sel = malloc((n + 1) * sizeof *sel);
            int64_t *keep = malloc((n + 1) * sizeof *keep);
            size_t m = 0;
            for (size_t i = n; i-- > 0;) {
                if (rng_below(&rng, 3) == 0) continue;
                sel[m] = got[i];
                keep[m++] = r->v[i];
            }
            assert_int_equal(fl_kstate_list_update(s, sel, m), 0);
            r->n = 0;
            for (size_t i = 0; i < m; i++) ref_push(r, keep[i]);
            free(sel);
            free(keep);
        } else if (what < 13) {
            fl_kstate_clear(s);
            r->n = 0;
        } else if (what < 14) {
            assert_int_equal(fl_kstate_is_empty(s), r->n == 0);
        } else {
            check_list(s, r);
        }
    }
    size_t present = 0;
    for (int k = 0; k < NKEYS; k++)
        for (int ns = 0; ns < NNS; ns++) present += ref[k][ns].n > 0;
    assert_int_equal(fl_keyed_backend_entries(b), present);
    for (int k = 0; k < NKEYS; k++) {
        set_key(b, &keys[k]);
        for (int ns = 0; ns < NNS; ns++) {
            set_ns(s, ns);
            check_list(s, &ref[k][ns]);
            assert_int_equal(fl_kstate_list_update(s, NULL, 0), 0);
            free(ref[k][ns].v);
        }
    }
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_row_builder_destroy(rb);
    fl_schema_unref(sch);
    fl_keyed_backend_destroy(b);
}

/* ---- map ---------------------------------------------------------------------------------------
 */

typedef struct ref_map_entry {
    bool set;
    int64_t v;
} ref_map_entry;

/* Map key i: a STRING row "key-i" padded with i letters (varying sizes). */
static const fl_row *map_key_row(fl_row_builder *rb, int i) {
    char s[64];
    int n = snprintf(s, sizeof s, "key-%d-", i);
    for (int j = 0; j < i; j++) s[n++] = 'x';
    fl_row_builder_reset(rb);
    fl_row_builder_set_string(rb, 0, s, (uint32_t)n);
    return fl_row_builder_finish(rb);
}

static int map_key_index(const fl_row *k) {
    uint32_t len;
    const char *s = fl_row_get_string(k, 0, &len);
    return atoi(s + 4);
}

static void check_map(fl_kstate *s, ref_map_entry *r) {
    const fl_row *const *keys;
    const fl_row *const *values;
    size_t n = fl_kstate_map_entries(s, &keys, &values);
    bool seen[NMK] = {0};
    size_t expected = 0;
    for (int i = 0; i < NMK; i++) expected += r[i].set;
    assert_int_equal(n, expected);
    for (size_t i = 0; i < n; i++) {
        int mk = map_key_index(keys[i]);
        assert_true(mk >= 0 && mk < NMK);
        assert_false(seen[mk]);
        seen[mk] = true;
        assert_true(r[mk].set);
        assert_int_equal(fl_row_get_bigint(values[i], 0), r[mk].v);
    }
}

static void test_map_random(void **state) {
    (void)state;
    fl_keyed_backend *b = full_backend();
    fl_schema *vs = fl_schema_of(1, "v", FL_BIGINT);
    fl_schema *ks = fl_schema_of(1, "k", FL_STRING);
    fl_state_desc d = {
        .name = "map", .kind = FL_STATE_MAP, .value_schema = vs, .map_key_schema = ks};
    fl_kstate *s = declare(b, &d);
    fl_row_builder *kb = fl_row_builder_create(ks);
    fl_row_builder *vb = fl_row_builder_create(vs);
    static ref_map_entry ref[NKEYS][NNS][NMK];
    memset(ref, 0, sizeof ref);
    test_key keys[NKEYS];
    for (int k = 0; k < NKEYS; k++) keys[k] = make_key(k + 77);
    test_rng rng = {0xabcdef12345};
    size_t present = 0;

    for (int op = 0; op < 60000; op++) {
        int k = (int)rng_below(&rng, NKEYS), ns = (int)rng_below(&rng, NNS);
        int mk = (int)rng_below(&rng, NMK);
        set_key(b, &keys[k]);
        set_ns(s, ns);
        ref_map_entry *r = &ref[k][ns][mk];
        const fl_row *key = map_key_row(kb, mk);
        uint32_t what = rng_below(&rng, 12);
        if (what < 5) {
            int64_t v = (int64_t)rng_next(&rng);
            assert_int_equal(fl_kstate_map_put(s, key, bigint_row(vb, v)), 0);
            present += !r->set;
            *r = (ref_map_entry){true, v};
        } else if (what < 7) {
            assert_int_equal(fl_kstate_map_remove(s, key), r->set ? 1 : 0);
            present -= r->set;
            r->set = false;
        } else if (what < 8) {
            assert_int_equal(fl_kstate_map_contains(s, key), r->set);
        } else if (what < 9) {
            check_map(s, ref[k][ns]);
        } else if (what < 10) {
            if (rng_below(&rng, 4) == 0) {
                fl_kstate_clear(s);
                for (int i = 0; i < NMK; i++) {
                    present -= ref[k][ns][i].set;
                    ref[k][ns][i].set = false;
                }
            } else {
                bool any = false;
                for (int i = 0; i < NMK; i++) any |= ref[k][ns][i].set;
                assert_int_equal(fl_kstate_is_empty(s), !any);
            }
        } else {
            const fl_row *got = fl_kstate_map_get(s, key);
            assert_int_equal(got != NULL, r->set);
            if (got) assert_int_equal(fl_row_get_bigint(got, 0), r->v);
        }
        assert_int_equal(fl_keyed_backend_entries(b), present);
    }
    for (int k = 0; k < NKEYS; k++) {
        set_key(b, &keys[k]);
        for (int ns = 0; ns < NNS; ns++) {
            set_ns(s, ns);
            check_map(s, ref[k][ns]);
            for (int mk = 0; mk < NMK; mk++) fl_kstate_map_remove(s, map_key_row(kb, mk));
            assert_true(fl_kstate_is_empty(s));
        }
    }
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_row_builder_destroy(kb);
    fl_row_builder_destroy(vb);
    fl_schema_unref(vs);
    fl_schema_unref(ks);
    fl_keyed_backend_destroy(b);
}

/* ---- reducing and aggregating -------------------------------------------------------------------
 */

/* Reducing (sum BIGINT, longest STRING): the sum and the longest word seen. */
static int sum_longest(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    int *calls = arg;
    (*calls)++;
    uint32_t la, lb;
    const char *a = fl_row_get_string(acc, 1, &la);
    const char *w = fl_row_get_string(in, 1, &lb);
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0) + fl_row_get_bigint(in, 0));
    if (lb > la)
        fl_row_builder_set_string(out, 1, w, lb);
    else
        fl_row_builder_set_string(out, 1, a, la);
    return 0;
}

/* Aggregating average: acc (sum BIGINT, count BIGINT), result (avg DOUBLE). */
static int avg_create(void *arg, fl_row_builder *acc) {
    fl_row_builder_set_bigint(acc, 0, 0);
    fl_row_builder_set_bigint(acc, 1, 0);
    return 0;
}
static int avg_add(void *arg, const fl_row *in, const fl_row *acc, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0) + fl_row_get_bigint(in, 0));
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(acc, 1) + 1);
    return 0;
}
static int avg_result(void *arg, const fl_row *acc, fl_row_builder *out) {
    fl_row_builder_set_double(
        out, 0, (double)fl_row_get_bigint(acc, 0) / (double)fl_row_get_bigint(acc, 1));
    return 0;
}
static int avg_merge(void *arg, const fl_row *a, const fl_row *b, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(a, 0) + fl_row_get_bigint(b, 0));
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(a, 1) + fl_row_get_bigint(b, 1));
    return 0;
}

typedef struct ref_acc {
    bool set;
    int64_t sum, count;
    uint32_t longest;
} ref_acc;

static const fl_row *word_row(fl_row_builder *rb, int64_t v, uint32_t len) {
    char w[64];
    memset(w, 'w', len);
    fl_row_builder_reset(rb);
    fl_row_builder_set_bigint(rb, 0, v);
    fl_row_builder_set_string(rb, 1, w, len);
    return fl_row_builder_finish(rb);
}

static void test_reducing_aggregating_random(void **state) {
    (void)state;
    fl_keyed_backend *b = full_backend();
    fl_schema *in = fl_schema_of(2, "n", FL_BIGINT, "word", FL_STRING);
    fl_schema *acc = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_schema *res = fl_schema_of(1, "avg", FL_DOUBLE);
    int calls = 0;
    fl_state_desc rd = {.name = "reduce",
                        .kind = FL_STATE_REDUCING,
                        .value_schema = in,
                        .reduce = sum_longest,
                        .reduce_arg = &calls};
    fl_state_aggregate avg = {acc, avg_create, avg_add, avg_result, avg_merge, NULL};
    fl_state_desc ad = {.name = "avg",
                        .kind = FL_STATE_AGGREGATING,
                        .value_schema = in,
                        .result_schema = res,
                        .aggregate = &avg};
    fl_kstate *rs = declare(b, &rd);
    fl_kstate *as = declare(b, &ad);
    fl_row_builder *rb = fl_row_builder_create(in);
    static ref_acc ref[NKEYS][NNS];
    memset(ref, 0, sizeof ref);
    test_key keys[NKEYS];
    for (int k = 0; k < NKEYS; k++) keys[k] = make_key(k * 31 + 5);
    test_rng rng = {99};
    int expected_calls = 0;

    for (int op = 0; op < 40000; op++) {
        int k = (int)rng_below(&rng, NKEYS), ns = (int)rng_below(&rng, NNS);
        set_key(b, &keys[k]);
        set_ns(rs, ns);
        set_ns(as, ns);
        ref_acc *r = &ref[k][ns];
        uint32_t what = rng_below(&rng, 10);
        if (what < 6) {
            int64_t v = (int64_t)rng_below(&rng, 2000) - 1000;
            uint32_t len = rng_below(&rng, 50);
            const fl_row *row = word_row(rb, v, len);
            assert_int_equal(fl_kstate_add(rs, row), 0);
            assert_int_equal(fl_kstate_add(as, row), 0);
            expected_calls += r->set;
            if (!r->set) *r = (ref_acc){true, 0, 0, 0};
            r->sum += v;
            r->count++;
            if (len > r->longest) r->longest = len;
        } else if (what < 7) {
            fl_kstate_clear(rs);
            fl_kstate_clear(as);
            r->set = false;
        } else {
            const fl_row *got = fl_kstate_get(rs);
            assert_int_equal(got != NULL, r->set);
            const fl_row *avg_row = NULL;
            assert_int_equal(fl_kstate_get_checked(as, &avg_row), 0);
            assert_int_equal(avg_row != NULL, r->set);
            if (r->set) {
                uint32_t len;
                fl_row_get_string(got, 1, &len);
                assert_int_equal(fl_row_get_bigint(got, 0), r->sum);
                assert_int_equal(len, r->longest);
                assert_true(fl_row_get_double(avg_row, 0) == (double)r->sum / (double)r->count);
            }
        }
    }
    assert_int_equal(calls, expected_calls);
    for (int k = 0; k < NKEYS; k++) {
        set_key(b, &keys[k]);
        for (int ns = 0; ns < NNS; ns++) {
            set_ns(rs, ns);
            set_ns(as, ns);
            fl_kstate_clear(rs);
            fl_kstate_clear(as);
        }
    }
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_row_builder_destroy(rb);
    fl_schema_unref(in);
    fl_schema_unref(acc);
    fl_schema_unref(res);
    fl_keyed_backend_destroy(b);
}

/* ---- user function failures ---------------------------------------------------------------------
 */

typedef struct failing {
    int fail_reduce, fail_create, fail_add, fail_result, fail_merge;
    bool wrong_type;
} failing;

static int f_reduce(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    failing *f = arg;
    if (f->wrong_type) fl_row_builder_set_double(out, 0, 1.0); /* field 0 is BIGINT */
    if (f->fail_reduce) return f->fail_reduce;
    return sum_reduce(arg, acc, in, out);
}
static int f_create(void *arg, fl_row_builder *acc) {
    failing *f = arg;
    if (f->fail_create) return f->fail_create;
    return avg_create(arg, acc);
}
static int f_add(void *arg, const fl_row *in, const fl_row *acc, fl_row_builder *out) {
    failing *f = arg;
    if (f->fail_add) return f->fail_add;
    /* a positive return is not an error */
    return avg_add(arg, in, acc, out) + 1;
}
static int f_result(void *arg, const fl_row *acc, fl_row_builder *out) {
    failing *f = arg;
    if (f->fail_result) return f->fail_result;
    return avg_result(arg, acc, out);
}
static int f_merge(void *arg, const fl_row *a, const fl_row *b, fl_row_builder *out) {
    failing *f = arg;
    if (f->fail_merge) return f->fail_merge;
    return avg_merge(arg, a, b, out);
}

static void test_user_failures(void **state) {
    (void)state;
    fl_keyed_backend *b = full_backend();
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_schema *acc = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_schema *res = fl_schema_of(1, "avg", FL_DOUBLE);
    failing f = {0};
    fl_state_desc rd = {.name = "r",
                        .kind = FL_STATE_REDUCING,
                        .value_schema = one,
                        .reduce = f_reduce,
                        .reduce_arg = &f};
    fl_state_aggregate ag = {acc, f_create, f_add, f_result, f_merge, &f};
    fl_state_desc ad = {.name = "a",
                        .kind = FL_STATE_AGGREGATING,
                        .value_schema = one,
                        .result_schema = res,
                        .aggregate = &ag};
    fl_kstate *rs = declare(b, &rd);
    fl_kstate *as = declare(b, &ad);
    fl_row_builder *rb = fl_row_builder_create(one);
    test_key k = make_key(1);
    set_key(b, &k);

    /* The first value of a reducing state is stored without calling reduce. */
    f.fail_reduce = -42;
    assert_int_equal(fl_kstate_add(rs, bigint_row(rb, 10)), 0);
    assert_int_equal(fl_kstate_add(rs, bigint_row(rb, 5)), -42);
    assert_int_equal(fl_row_get_bigint(fl_kstate_get(rs), 0), 10); /* unchanged */
    f.fail_reduce = 0;
    f.wrong_type = true;
    assert_int_equal(fl_kstate_add(rs, bigint_row(rb, 5)), FL_EUSER);
    f.wrong_type = false;
    assert_int_equal(fl_kstate_add(rs, bigint_row(rb, 5)), 0);
    assert_int_equal(fl_row_get_bigint(fl_kstate_get(rs), 0), 15);

    f.fail_create = FL_EUSER;
    assert_int_equal(fl_kstate_add(as, bigint_row(rb, 4)), FL_EUSER);
    assert_true(fl_kstate_is_empty(as));
    f.fail_create = 0;
    f.fail_add = -7;
    assert_int_equal(fl_kstate_add(as, bigint_row(rb, 4)), -7);
    assert_true(fl_kstate_is_empty(as));
    f.fail_add = 0;
    assert_int_equal(fl_kstate_add(as, bigint_row(rb, 4)), 0);
    assert_int_equal(fl_kstate_add(as, bigint_row(rb, 8)), 0);
    f.fail_result = -9;
    const fl_row *out = (const fl_row *)1;
    assert_int_equal(fl_kstate_get_checked(as, &out), -9);
    assert_null(out);
    assert_null(fl_kstate_get(as));
    f.fail_result = 0;
    assert_int_equal(fl_kstate_get_checked(as, &out), 0);
    assert_true(fl_row_get_double(out, 0) == 6.0);

    /* merge failures leave target and sources alone */
    test_ns w1 = {0, 1}, w2 = {1, 2};
    fl_kstate_set_namespace(as, &w1, sizeof w1);
    assert_int_equal(fl_kstate_add(as, bigint_row(rb, 100)), 0);
    fl_kstate_set_namespace(as, &w2, sizeof w2);
    assert_int_equal(fl_kstate_add(as, bigint_row(rb, 200)), 0);
    f.fail_merge = -3;
    const void *srcs[] = {&w1, &w2};
    uint32_t lens[] = {sizeof w1, sizeof w2};
    assert_int_equal(fl_kstate_merge_namespaces(as, NULL, 0, srcs, lens, 2), -3);
    assert_int_equal(fl_keyed_backend_entries(b), 4);
    f.fail_merge = 0;
    assert_int_equal(fl_kstate_merge_namespaces(as, NULL, 0, srcs, lens, 2), 0);
    assert_int_equal(fl_keyed_backend_entries(b), 2);
    fl_kstate_set_namespace(as, NULL, 0);
    assert_true(fl_row_get_double(fl_kstate_get(as), 0) == (4.0 + 8 + 100 + 200) / 4);

    fl_row_builder_destroy(rb);
    fl_schema_unref(one);
    fl_schema_unref(acc);
    fl_schema_unref(res);
    fl_keyed_backend_destroy(b);
}

/* ---- merging namespaces ------------------------------------------------------------------------
 */

static void test_merge_namespaces(void **state) {
    (void)state;
    fl_keyed_backend *b = full_backend();
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_schema *acc = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_schema *res = fl_schema_of(1, "avg", FL_DOUBLE);
    fl_state_desc ld = {.name = "l", .kind = FL_STATE_LIST, .value_schema = one};
    fl_state_desc rd = {
        .name = "r", .kind = FL_STATE_REDUCING, .value_schema = one, .reduce = sum_reduce};
    fl_state_aggregate ag = {acc, avg_create, avg_add, avg_result, avg_merge, NULL};
    fl_state_desc ad = {.name = "a",
                        .kind = FL_STATE_AGGREGATING,
                        .value_schema = one,
                        .result_schema = res,
                        .aggregate = &ag};
    fl_state_desc vd = {.name = "v", .kind = FL_STATE_VALUE, .value_schema = one};
    fl_state_desc md = {
        .name = "m", .kind = FL_STATE_MAP, .value_schema = one, .map_key_schema = one};
    fl_kstate *ls = declare(b, &ld), *rs = declare(b, &rd), *as = declare(b, &ad);
    fl_kstate *vs = declare(b, &vd), *ms = declare(b, &md);
    fl_row_builder *rb = fl_row_builder_create(one);
    test_rng rng = {4242};
    enum { WINDOWS = 8, KEYS = 20 };
    test_ns win[WINDOWS];
    for (int i = 0; i < WINDOWS; i++) win[i] = (test_ns){i * 10, i * 10 + 10};
    static ref_list ref[KEYS][WINDOWS];
    memset(ref, 0, sizeof ref);
    test_key keys[KEYS];
    for (int k = 0; k < KEYS; k++) keys[k] = make_key(k);

    for (int round = 0; round < 300; round++) {
        int k = (int)rng_below(&rng, KEYS);
        set_key(b, &keys[k]);
        /* a few adds into random windows */
        for (int i = 0; i < 6; i++) {
            int w = (int)rng_below(&rng, WINDOWS);
            int64_t v = (int64_t)rng_below(&rng, 100);
            const fl_row *row = bigint_row(rb, v);
            fl_kstate_set_namespace(ls, &win[w], sizeof(test_ns));
            fl_kstate_set_namespace(rs, &win[w], sizeof(test_ns));
            fl_kstate_set_namespace(as, &win[w], sizeof(test_ns));
            assert_int_equal(fl_kstate_list_add(ls, row), 0);
            assert_int_equal(fl_kstate_add(rs, row), 0);
            assert_int_equal(fl_kstate_add(as, row), 0);
            ref_push(&ref[k][w], v);
        }
        /* merge random sources (possibly repeated, possibly the target, possibly empty) */
        int target = (int)rng_below(&rng, WINDOWS);
        size_t n = rng_below(&rng, 5);
        const void *srcs[5];
        uint32_t lens[5];
        int idx[5];
        for (size_t i = 0; i < n; i++) {
            idx[i] = (int)rng_below(&rng, WINDOWS);
            srcs[i] = &win[idx[i]];
            lens[i] = sizeof(test_ns);
        }
        /* the current namespace is left where it was */
        fl_kstate_set_namespace(ls, &win[0], sizeof(test_ns));
        assert_int_equal(
            fl_kstate_merge_namespaces(ls, &win[target], sizeof(test_ns), srcs, lens, n), 0);
        assert_int_equal(
            fl_kstate_merge_namespaces(rs, &win[target], sizeof(test_ns), srcs, lens, n), 0);
        assert_int_equal(
            fl_kstate_merge_namespaces(as, &win[target], sizeof(test_ns), srcs, lens, n), 0);
        ref_list merged = {0};
        for (size_t i = 0; i < ref[k][target].n; i++) ref_push(&merged, ref[k][target].v[i]);
        for (size_t i = 0; i < n; i++) {
            if (idx[i] == target) continue;
            for (size_t j = 0; j < ref[k][idx[i]].n; j++) ref_push(&merged, ref[k][idx[i]].v[j]);
            ref[k][idx[i]].n = 0;
        }
        free(ref[k][target].v);
        ref[k][target] = merged;

        /* compare every window of this key */
        for (int w = 0; w < WINDOWS; w++) {
            fl_kstate_set_namespace(ls, &win[w], sizeof(test_ns));
            fl_kstate_set_namespace(rs, &win[w], sizeof(test_ns));
            fl_kstate_set_namespace(as, &win[w], sizeof(test_ns));
            const ref_list *r = &ref[k][w];
            check_list(ls, r);
            int64_t sum = 0;
            for (size_t i = 0; i < r->n; i++) sum += r->v[i];
            const fl_row *got = fl_kstate_get(rs);
            const fl_row *avg = fl_kstate_get(as);
            assert_int_equal(got != NULL, r->n > 0);
            assert_int_equal(avg != NULL, r->n > 0);
            if (r->n) {
                assert_int_equal(fl_row_get_bigint(got, 0), sum);
                assert_true(fl_row_get_double(avg, 0) == (double)sum / (double)r->n);
            }
        }
        /* sometimes close a window for good */
        if (rng_below(&rng, 4) == 0) {
            int w = (int)rng_below(&rng, WINDOWS);
            fl_kstate_set_namespace(ls, &win[w], sizeof(test_ns));
            fl_kstate_set_namespace(rs, &win[w], sizeof(test_ns));
            fl_kstate_set_namespace(as, &win[w], sizeof(test_ns));
            fl_kstate_clear(ls);
            fl_kstate_clear(rs);
            fl_kstate_clear(as);
            ref[k][w].n = 0;
        }
    }
    size_t present = 0;
    for (int k = 0; k < KEYS; k++)
        for (int w = 0; w < WINDOWS; w++) present += ref[k][w].n > 0;
    assert_int_equal(fl_keyed_backend_entries(b), 3 * present);

    /* value and map states cannot be merged */
    const void *srcs[] = {&win[1]};
    uint32_t lens[] = {sizeof(test_ns)};
    assert_int_equal(fl_kstate_merge_namespaces(vs, &win[0], sizeof(test_ns), srcs, lens, 1),
                     FL_ESTATE);
    assert_int_equal(fl_kstate_merge_namespaces(ms, &win[0], sizeof(test_ns), srcs, lens, 1),
                     FL_ESTATE);

    for (int k = 0; k < KEYS; k++) {
        set_key(b, &keys[k]);
        for (int w = 0; w < WINDOWS; w++) {
            fl_kstate_set_namespace(ls, &win[w], sizeof(test_ns));
            fl_kstate_set_namespace(rs, &win[w], sizeof(test_ns));
            fl_kstate_set_namespace(as, &win[w], sizeof(test_ns));
            fl_kstate_clear(ls);
            fl_kstate_clear(rs);
            fl_kstate_clear(as);
            free(ref[k][w].v);
        }
    }
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_row_builder_destroy(rb);
    fl_schema_unref(one);
    fl_schema_unref(acc);
    fl_schema_unref(res);
    fl_keyed_backend_destroy(b);
}

/* ---- for_each_key -------------------------------------------------------------------------------
 */

typedef struct visit {
    fl_keyed_backend *b;
    fl_kstate *s, *other;
    bool *in_a;       /* reference: key i has an entry in namespace A */
    int64_t *value_a; /* its value */
    int visited[1000];
    int n;
    int stop_after;
} visit;

static int visit_key(void *arg, const void *key, uint32_t klen) {
    visit *v = arg;
    assert_int_equal(klen, 24);
    int64_t k = key_value(key);
    assert_true(k >= 0 && k < 1000);
    /* the backend's current key is the visited one, the state is in A */
    uint32_t len;
    const void *cur = fl_keyed_backend_key(v->b, &len);
    assert_int_equal(len, 24);
    assert_memory_equal(cur, key, 24);
    assert_true(v->in_a[k]);
    const fl_row *got = fl_kstate_value_get(v->s);
    assert_non_null(got);
    assert_int_equal(fl_row_get_bigint(got, 0), v->value_a[k]);
    /* the callback may change the state: clear odd keys, move to B and back */
    if (k % 2) {
        fl_kstate_clear(v->s);
        v->in_a[k] = false;
    }
    test_ns other_ns = {1, 2};
    fl_kstate_set_namespace(v->s, &other_ns, sizeof other_ns);
    (void)fl_kstate_value_get(v->s);
    v->visited[v->n++] = (int)k;
    return v->n == v->stop_after ? 77 : 0;
}

static void test_for_each_key(void **state) {
    (void)state;
    fl_keyed_backend *b = fl_keyed_backend_create(16, 95, 128, NULL, NULL);
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_state_desc vd = {.name = "v", .kind = FL_STATE_VALUE, .value_schema = one};
    fl_state_desc ld = {.name = "l", .kind = FL_STATE_LIST, .value_schema = one};
    fl_kstate *s = declare(b, &vd), *ls = declare(b, &ld);
    fl_row_builder *rb = fl_row_builder_create(one);
    static bool in_a[1000];
    static int64_t value_a[1000];
    memset(in_a, 0, sizeof in_a);
    test_ns A = {0, 100}, B = {100, 200};
    test_rng rng = {777};
    int expected = 0;
    for (int k = 0; k < 1000; k++) {
        test_key key = make_key(k);
        set_key(b, &key);
        if (fl_keyed_backend_key_group(b) < 0) continue; /* not ours */
        uint32_t r = rng_below(&rng, 3);
        if (r == 0) {
            fl_kstate_set_namespace(s, &A, sizeof A);
            value_a[k] = k * 3;
            assert_int_equal(fl_kstate_value_update(s, bigint_row(rb, value_a[k])), 0);
            in_a[k] = true;
            expected++;
        } else if (r == 1) {
            fl_kstate_set_namespace(s, &B, sizeof B);
            assert_int_equal(fl_kstate_value_update(s, bigint_row(rb, 1)), 0);
        }
        /* the other state's entries in A do not count */
        fl_kstate_set_namespace(ls, &A, sizeof A);
        assert_int_equal(fl_kstate_list_add(ls, bigint_row(rb, 1)), 0);
    }
    assert_true(expected > 50);
    static visit v;
    memset(&v, 0, sizeof v);
    v.b = b;
    v.s = s;
    v.in_a = in_a;
    v.value_a = value_a;
    bool before[1000];
    memcpy(before, in_a, sizeof before);
    assert_int_equal(fl_kstate_for_each_key(s, &A, sizeof A, visit_key, &v), 0);
    assert_int_equal(v.n, expected);
    bool seen[1000] = {0};
    for (int i = 0; i < v.n; i++) {
        assert_false(seen[v.visited[i]]);
        seen[v.visited[i]] = true;
    }
    for (int k = 0; k < 1000; k++) assert_int_equal(seen[k], before[k]);

    /* the odd keys were cleared by the callback; a second pass sees the rest
     * and stops at the first non-zero return */
    int remaining = 0;
    for (int k = 0; k < 1000; k++) remaining += in_a[k];
    memset(&v.visited, 0, sizeof v.visited);
    v.n = 0;
    v.stop_after = 3;
    assert_int_equal(fl_kstate_for_each_key(s, &A, sizeof A, visit_key, &v), 77);
    assert_int_equal(v.n, 3);
    assert_true(remaining > 3);
    /* no keys in an unused namespace */
    test_ns C = {5, 6};
    v.n = 0;
    v.stop_after = 0;
    assert_int_equal(fl_kstate_for_each_key(s, &C, sizeof C, visit_key, &v), 0);
    assert_int_equal(v.n, 0);

    fl_row_builder_destroy(rb);
    fl_schema_unref(one);
    fl_keyed_backend_destroy(b);
}

/* ---- key-group range
 * ------------------------------------------------------------------------------- */

static void test_key_group_range(void **state) {
    (void)state;
    assert_null(fl_keyed_backend_create(5, 4, 128, NULL, NULL));
    assert_null(fl_keyed_backend_create(0, 128, 128, NULL, NULL));
    assert_null(fl_keyed_backend_create(-1, 3, 128, NULL, NULL));
    assert_null(fl_keyed_backend_create(0, 0, 0, NULL, NULL));

    fl_keyed_backend *b = fl_keyed_backend_create(32, 63, 128, NULL, NULL);
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_state_desc vd = {.name = "v", .kind = FL_STATE_VALUE, .value_schema = one};
    fl_state_desc ld = {.name = "l", .kind = FL_STATE_LIST, .value_schema = one};
    fl_state_desc md = {
        .name = "m", .kind = FL_STATE_MAP, .value_schema = one, .map_key_schema = one};
    fl_state_desc rd = {
        .name = "r", .kind = FL_STATE_REDUCING, .value_schema = one, .reduce = sum_reduce};
    fl_kstate *vs = declare(b, &vd), *ls = declare(b, &ld), *ms = declare(b, &md),
              *rs = declare(b, &rd);
    fl_row_builder *rb = fl_row_builder_create(one);
    const fl_row *row = bigint_row(rb, 1);
    /* no key yet */
    assert_int_equal(fl_keyed_backend_key_group(b), -1);
    assert_int_equal(fl_kstate_value_update(vs, row), FL_ESTATE);

    int inside = 0, outside = 0;
    for (int k = 0; k < 2000; k++) {
        test_key key = make_key(k);
        set_key(b, &key);
        int g = fl_key_group_of_hash(key.hash, 128);
        if (g >= 32 && g <= 63) {
            inside++;
            assert_int_equal(fl_keyed_backend_key_group(b), g);
            assert_int_equal(fl_kstate_value_update(vs, row), 0);
            continue;
        }
        outside++;
        assert_int_equal(fl_keyed_backend_key_group(b), -1);
        uint32_t len;
        assert_non_null(fl_keyed_backend_key(b, &len)); /* still the key that was set */
        assert_int_equal(len, 24);
        assert_int_equal(fl_kstate_value_update(vs, row), FL_ESTATE);
        assert_null(fl_kstate_value_get(vs));
        assert_int_equal(fl_kstate_list_add(ls, row), FL_ESTATE);
        assert_int_equal(fl_kstate_list_update(ls, &row, 1), FL_ESTATE);
        assert_int_equal(fl_kstate_map_put(ms, row, row), FL_ESTATE);
        assert_int_equal(fl_kstate_map_remove(ms, row), FL_ESTATE);
        assert_false(fl_kstate_map_contains(ms, row));
        assert_int_equal(fl_kstate_add(rs, row), FL_ESTATE);
        const fl_row *out;
        assert_int_equal(fl_kstate_get_checked(rs, &out), FL_ESTATE);
        assert_true(fl_kstate_is_empty(vs));
        fl_kstate_clear(vs);
        const void *src = "x";
        uint32_t slen = 1;
        assert_int_equal(fl_kstate_merge_namespaces(rs, NULL, 0, &src, &slen, 1), FL_ESTATE);
        fl_timer_register(b, FL_EVENT_TIME, 10, NULL, 0);
        assert_int_equal(fl_timer_count(b, FL_EVENT_TIME), 0);
    }
    assert_true(inside > 300 && outside > 1000);
    assert_int_equal(fl_keyed_backend_entries(b), (size_t)inside);
    fl_row_builder_destroy(rb);
    fl_schema_unref(one);
    fl_keyed_backend_destroy(b);
}

/* ---- all kinds together: accounting
 * ---------------------------------------------------------------- */

static void test_bytes_return_to_zero(void **state) {
    (void)state;
    fl_keyed_backend *b = full_backend();
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_state_desc vd = {.name = "v", .kind = FL_STATE_VALUE, .value_schema = one};
    fl_state_desc ld = {.name = "l", .kind = FL_STATE_LIST, .value_schema = one};
    fl_state_desc md = {
        .name = "m", .kind = FL_STATE_MAP, .value_schema = one, .map_key_schema = one};
    fl_kstate *vs = declare(b, &vd), *ls = declare(b, &ld), *ms = declare(b, &md);
    fl_row_builder *rb = fl_row_builder_create(one);
    fl_row_builder *kb = fl_row_builder_create(one);
    enum { KEYS = 5000 };
    for (int k = 0; k < KEYS; k++) {
        test_key key = make_key(k);
        set_key(b, &key);
        assert_int_equal(fl_kstate_value_update(vs, bigint_row(rb, k)), 0);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(fl_kstate_list_add(ls, bigint_row(rb, i)), 0);
            assert_int_equal(fl_kstate_map_put(ms, bigint_row(kb, i), bigint_row(rb, k)), 0);
        }
        test_ns w = {k, k + 1};
        fl_timer_register(b, FL_EVENT_TIME, k, &w, sizeof w);
        fl_timer_register(b, FL_PROCESSING_TIME, k, NULL, 0);
    }
    assert_int_equal(fl_keyed_backend_entries(b), KEYS * 5);
    size_t full = fl_keyed_backend_bytes(b);
    /* entries, map entries, slot arrays, timers: at least ~100 bytes a key,
     * and not absurdly more */
    assert_true(full > (size_t)KEYS * 100);
    assert_true(full < (size_t)KEYS * 2000);
    for (int k = 0; k < KEYS; k++) {
        test_key key = make_key(k);
        set_key(b, &key);
        fl_kstate_clear(vs);
        fl_kstate_clear(ls);
        if (k % 2)
            fl_kstate_clear(ms);
        else
            for (int i = 0; i < 3; i++)
                assert_int_equal(fl_kstate_map_remove(ms, bigint_row(kb, i)), 1);
    }
    fl_timer t;
    while (fl_timer_pop(b, FL_EVENT_TIME, INT64_MAX, &t)) {
    }
    while (fl_timer_pop(b, FL_PROCESSING_TIME, INT64_MAX, &t)) {
    }
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    fl_row_builder_destroy(rb);
    fl_row_builder_destroy(kb);
    fl_schema_unref(one);
    fl_keyed_backend_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_declaration),
        cmocka_unit_test(test_value_random),
        cmocka_unit_test(test_value_shrink_self_update),
        cmocka_unit_test(test_list_random),
        cmocka_unit_test(test_map_random),
        cmocka_unit_test(test_reducing_aggregating_random),
        cmocka_unit_test(test_user_failures),
        cmocka_unit_test(test_merge_namespaces),
        cmocka_unit_test(test_for_each_key),
        cmocka_unit_test(test_key_group_range),
        cmocka_unit_test(test_bytes_return_to_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
