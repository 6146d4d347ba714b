/*
 * test_state_snapshot_fuzz.c - restoring damaged keyed state snapshots.
 *
 * A snapshot of a backend holding every kind of state and timers is
 * truncated at every length and has random bytes flipped: each restore must
 * be FL_EFORMAT and leave the backend as it was (no state, no byte). Then
 * the damage is "resealed" (every checksum recomputed, as a crafted input
 * would be), so that the parser itself meets nonsense lengths, counts,
 * kinds, schemas, rows and offsets: a restore may then succeed, or fail
 * with FL_EFORMAT or FL_ESTATE, but never crash or leak (ASan), and what it
 * restored must snapshot and restore again. Arbitrary bytes, with and
 * without a valid magic, are refused too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "snapshot_fixtures.h"

static sink make_blob(fixture *fx, int64_t *now) {
    world w = world_create(fx, 0, FX_MAXP - 1, now);
    test_rng rng = {0xf022};
    for (int i = 0; i < 4000; i++) step(fx, &w, 1, NULL, &rng, now);
    fl_keyed_snapshot *v = fl_keyed_backend_snapshot(w.b);
    sink s = snapshot_bytes(v);
    fl_keyed_snapshot_release(v);
    fl_keyed_backend_destroy(w.b);
    return s;
}

static void assert_untouched(fl_keyed_backend *b) {
    assert_int_equal(fl_keyed_backend_entries(b), 0);
    assert_int_equal(fl_keyed_backend_bytes(b), 0);
    assert_int_equal(b->n_states, 0);
    assert_int_equal(fl_timer_count(b, FL_EVENT_TIME) + fl_timer_count(b, FL_PROCESSING_TIME), 0);
}

static void test_truncated(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 100, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    sink blob = make_blob(&fx, &now);
    fl_keyed_backend *b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    /* The prefix sits at the end of an allocation of the whole length, so
     * that ASan sees any read past it. Every length near either end, a
     * sample of those between. */
    uint8_t *buf = malloc(blob.len);
    test_rng rng = {0x7a11};
    size_t tried = 0;
    for (size_t len = 0; len < blob.len; len++) {
        bool near = len < 512 || len > blob.len - 512;
        if (!near && rng_below(&rng, (uint32_t)(blob.len / 1000 + 1)) != 0) continue;
        uint8_t *copy = buf + blob.len - len;
        memcpy(copy, blob.p, len);
        fl_error err;
        fl_error_clear(&err);
        int rc = fl_keyed_backend_restore(b, copy, len, &err);
        if (rc != FL_EFORMAT) fail_msg("truncated to %zu of %zu bytes: %d", len, blob.len, rc);
        tried++;
    }
    free(buf);
    print_message("%zu truncations of %zu bytes\n", tried, blob.len);
    assert_untouched(b);
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_keyed_backend_restore(b, blob.p, blob.len, &err), 0);
    fl_keyed_backend_destroy(b);
    sink_free(&blob);
    fx_fini(&fx);
}

static void test_flipped(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 100, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    sink blob = make_blob(&fx, &now);
    fl_keyed_backend *b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    uint8_t *copy = malloc(blob.len);
    test_rng rng = {0xf11b};
    for (int i = 0; i < 3000; i++) {
        memcpy(copy, blob.p, blob.len);
        int flips = 1 + (int)rng_below(&rng, 4);
        for (int f = 0; f < flips; f++)
            copy[rng_below(&rng, (uint32_t)blob.len)] ^= (uint8_t)(1 + rng_below(&rng, 255));
        fl_error err;
        fl_error_clear(&err);
        int rc = fl_keyed_backend_restore(b, copy, blob.len, &err);
        if (rc != FL_EFORMAT) fail_msg("flip %d: restore returned %d (%s)", i, rc, err.message);
    }
    assert_untouched(b);
    free(copy);
    fl_keyed_backend_destroy(b);
    sink_free(&blob);
    fx_fini(&fx);
}

static uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Recomputes every checksum the layout still lets us find. */
static void reseal(uint8_t *p, size_t len) {
    if (len < 72) return;
    uint8_t *tr = p + len - 32;
    uint64_t blocks = rd64(tr), index = rd64(tr + 8);
    uint32_t first = rd32(p + 20), last = rd32(p + 24);
    if (blocks < 40 || blocks > index || index > len - 32 || first > last) return;
    uint64_t groups = (uint64_t)last - first + 1;
    if ((len - 32 - index) / 24 < groups) return;
    for (uint64_t g = 0; g < groups; g++) {
        uint8_t *item = p + index + g * 24;
        uint64_t off = rd64(item), n = rd64(item + 8);
        if (off <= len && n <= len - off) wr64(item + 16, XXH64(p + off, n, 0));
    }
    XXH64_state_t h;
    XXH64_reset(&h, 0);
    XXH64_update(&h, p, blocks);
    XXH64_update(&h, p + index, len - 16 - index);
    wr64(tr + 16, XXH64_digest(&h));
}

static void damage(test_rng *rng, uint8_t *p, size_t len) {
    static const uint32_t odd[] = {0, 1, 2, 7, 8, 24, 255, 0x7fffffff, 0x80000000, 0xffffffff};
    int n = 1 + (int)rng_below(rng, 3);
    for (int i = 0; i < n; i++) {
        /* mostly in the descriptors and blocks, sometimes anywhere */
        size_t lo = rng_below(rng, 4) ? 40 : 0, hi = len - 32;
        size_t at = lo + rng_below(rng, (uint32_t)(hi - lo - 4));
        switch (rng_below(rng, 3)) {
        case 0:
            p[at] ^= (uint8_t)(1 + rng_below(rng, 255));
            break;
        case 1: {
            uint32_t v = odd[rng_below(rng, sizeof odd / sizeof odd[0])];
            memcpy(p + at, &v, 4);
            break;
        }
        default: {
            uint32_t v = rd32(p + at) + (rng_below(rng, 2) ? 1 : -1u);
            memcpy(p + at, &v, 4);
            break;
        }
        }
    }
}

static void test_resealed(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 40, FL_TTL_ON_CREATE_AND_WRITE);
    int64_t now = 0;
    sink blob = make_blob(&fx, &now);
    uint8_t *copy = malloc(blob.len);
    test_rng rng = {0x5ea1};
    int ok = 0, format = 0, conflict = 0;
    for (int i = 0; i < 2500; i++) {
        memcpy(copy, blob.p, blob.len);
        damage(&rng, copy, blob.len);
        reseal(copy, blob.len);
        fl_keyed_backend *b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
        fl_error err;
        fl_error_clear(&err);
        int rc = fl_keyed_backend_restore(b, copy, blob.len, &err);
        if (rc == 0 && i % 4 == 0) {
            /* what was restored is whole: it snapshots and restores again */
            fl_keyed_snapshot *v = fl_keyed_backend_snapshot(b);
            sink again = snapshot_bytes(v);
            fl_keyed_snapshot_release(v);
            fl_keyed_backend *c =
                fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
            fl_error_clear(&err);
            if (fl_keyed_backend_restore(c, again.p, again.len, &err) != 0)
                fail_msg("damage %d: a restored backend's snapshot does not restore: %s", i,
                         err.message);
            assert_int_equal(fl_keyed_backend_entries(c), fl_keyed_backend_entries(b));
            fl_keyed_backend_destroy(c);
            sink_free(&again);
        }
        if (rc == 0) {
            ok++;
        } else if (rc == FL_EFORMAT) {
            format++;
        } else if (rc == FL_ESTATE) {
            conflict++;
        } else {
            fail_msg("damage %d: restore returned %d (%s)", i, rc, err.message);
        }
        fl_keyed_backend_destroy(b);
    }
    print_message("resealed damage: %d restored, %d malformed, %d conflicting\n", ok, format,
                  conflict);
    assert_true(format > 0);
    free(copy);
    sink_free(&blob);
    fx_fini(&fx);
}

static void test_garbage(void **state) {
    (void)state;
    int64_t now = 0;
    fl_keyed_backend *b = fl_keyed_backend_create(0, FX_MAXP - 1, FX_MAXP, manual_now, &now);
    test_rng rng = {0x6a5b};
    for (int i = 0; i < 2000; i++) {
        size_t len = rng_below(&rng, 400);
        uint8_t *p = malloc(len ? len : 1);
        for (size_t j = 0; j < len; j++) p[j] = (uint8_t)rng_next(&rng);
        if (len >= 72 && (i & 1)) { /* a plausible start and end, garbage between */
            memcpy(p, "FLKSNAP", 8);
            uint32_t one = 1;
            memcpy(p + 8, &one, 4);
            memcpy(p + len - 8, "FLKSEND", 8);
            if (i & 2) reseal(p, len);
        }
        assert_int_equal(fl_keyed_backend_restore(b, p, len, NULL), FL_EFORMAT);
        free(p);
    }
    assert_int_equal(fl_keyed_backend_restore(b, NULL, 0, NULL), FL_EFORMAT);
    assert_untouched(b);
    fl_keyed_backend_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_flipped),
        cmocka_unit_test(test_resealed),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
