/*
 * bench_state_keys.h - what the keyed state benchmarks share: 24-byte BIGINT
 * key rows with their hashes, drawn from a fixed xorshift sequence so that
 * every run measures the same keys, the random order they are touched in, and
 * the programs' main. Header-only (static inline): each benchmark is one program.
 */
#ifndef FLINC_BENCH_STATE_KEYS_H
#define FLINC_BENCH_STATE_KEYS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "hash.h"
#include "keyed_state.h"

typedef struct key {
    uint8_t bytes[24];
    uint64_t hash;
} key;

/* The encoded row (n BIGINT) = v in out. */
static inline void bigint_row(uint8_t out[24], int64_t v) {
    memset(out, 0, 24);
    uint32_t len = 24;
    uint16_t n = 1;
    memcpy(out, &len, 4);
    memcpy(out + 6, &n, 2);
    memcpy(out + 16, &v, 8);
}

static uint64_t bench_rng = 88172645463325252ull;
static inline uint64_t next(void) {
    bench_rng ^= bench_rng << 13;
    bench_rng ^= bench_rng >> 7;
    bench_rng ^= bench_rng << 17;
    return bench_rng;
}

/* nkeys random keys with their hashes (the caller frees them). */
static inline key *make_keys(int nkeys) {
    key *keys = malloc((size_t)nkeys * sizeof *keys);
    for (int i = 0; i < nkeys; i++) {
        bigint_row(keys[i].bytes, (int64_t)next());
        keys[i].hash = fl_hash_bytes(keys[i].bytes + 8, 16);
    }
    return keys;
}

/* ops random indexes below nkeys (the caller frees them). */
static inline uint32_t *make_order(int ops, int nkeys) {
    uint32_t *order = malloc((size_t)ops * sizeof *order);
    for (int i = 0; i < ops; i++) order[i] = (uint32_t)(next() % (uint64_t)nkeys);
    return order;
}

/* The hot path: set_key, then get and update value state vs (one BIGINT),
 * for the ops keys keys[order[i]]; returns the sum of the new values. */
static inline int64_t touch_keys(fl_keyed_backend *b, fl_kstate *vs, const key *keys,
                                 const uint32_t *order, int ops) {
    uint8_t row[24];
    int64_t check = 0;
    for (int i = 0; i < ops; i++) {
        const key *k = &keys[order[i]];
        fl_keyed_backend_set_key(b, k->bytes, 24, k->hash);
        const fl_row *v = fl_kstate_value_get(vs);
        int64_t x = fl_row_get_bigint(v, 0) + 1;
        check += x;
        bigint_row(row, x);
        fl_kstate_value_update(vs, (const fl_row *)row);
    }
    return check;
}

/* Runs run(keys) for the one argument given, else for 10 000 keys (in
 * cache: the hot path's own cost) and then 1 000 000. */
static inline int bench_state_main(int argc, char **argv, void (*run)(int nkeys)) {
    if (argc > 1) {
        int64_t keys;
        if (argc > 2 || bench_parse_int64(argv[1], 1, 100000000, &keys) != 0) {
            fprintf(stderr, "usage: %s [keys]  (keys: a number from 1 to 100000000)\n", argv[0]);
            return 2;
        }
        run((int)keys);
        return 0;
    }
    run(10000);
    run(1000000);
    return 0;
}

#endif
