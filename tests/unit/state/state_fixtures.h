/*
 * state_fixtures.h - helpers shared by the keyed state tests: key rows and
 * their hashes as the runtime computes them, a manual clock, one-field rows,
 * and a small deterministic random generator (so failures replay).
 */
#ifndef FL_TEST_STATE_FIXTURES_H
#define FL_TEST_STATE_FIXTURES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flinc/row.h"
#include "hash.h"
#include "keyed_state.h"
#include "row_int.h"

/* xorshift64*: deterministic across runs and machines. */
typedef struct test_rng {
    uint64_t s;
} test_rng;

static inline uint64_t rng_next(test_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * UINT64_C(2685821657736338717);
}
static inline uint32_t rng_below(test_rng *r, uint32_t n) { return (uint32_t)(rng_next(r) % n); }

/* The key row of one BIGINT key field, built in place (24 bytes). */
typedef struct test_key {
    uint8_t bytes[24];
    uint64_t hash;
} test_key;

static inline test_key make_key(int64_t k) {
    test_key t;
    memset(t.bytes, 0, sizeof t.bytes);
    uint32_t len = 24;
    uint16_t n = 1;
    memcpy(t.bytes, &len, 4);
    memcpy(t.bytes + 6, &n, 2);
    memcpy(t.bytes + 16, &k, 8);
    t.hash = fl_hash_bytes(t.bytes + FL_ROW_HEADER, len - FL_ROW_HEADER);
    return t;
}

static inline void set_key(fl_keyed_backend *b, const test_key *k) {
    fl_keyed_backend_set_key(b, k->bytes, sizeof k->bytes, k->hash);
}

static inline int64_t key_value(const void *key) {
    int64_t v;
    memcpy(&v, (const uint8_t *)key + 16, 8);
    return v;
}

/* Manual clock for TTL. */
static inline int64_t manual_now(void *arg) { return *(const int64_t *)arg; }

/* A window namespace (start, end) as 16 bytes. */
typedef struct test_ns {
    int64_t start, end;
} test_ns;

#endif
