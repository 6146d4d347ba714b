/*
 * hash.c - key hashing and the key-group arithmetic shared by the hash
 * exchange (which subtask gets a record) and the state backends (which key
 * groups a subtask owns, and so which state it restores after rescaling).
 *
 * Both directions use integer arithmetic only, and fl_key_group_range is the
 * exact inverse of fl_key_group_to_subtask: key group g belongs to subtask
 * floor(g * p / maxP), and subtask s owns [ceil(s * maxP / p),
 * ceil((s + 1) * maxP / p) - 1], which is the set of g with that floor.
 */
#include "hash.h"

#include <assert.h>
#include <xxhash.h>

uint64_t fl_hash_bytes(const void *p, size_t len) { return XXH64(p, len, 0); }

/* Final avalanche step so that the low bits (which the modulo keeps) depend
 * on every bit of the hash. */
static uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

int fl_key_group_of_hash(uint64_t hash, int max_parallelism) {
    assert(max_parallelism > 0);
    uint64_t m = (uint64_t)max_parallelism;
    /* The same value as the modulo, without a division for powers of two
     * (the default 128 is one). */
    if ((m & (m - 1)) == 0) return (int)(mix64(hash) & (m - 1));
    return (int)(mix64(hash) % m);
}

int fl_key_group_to_subtask(int key_group, int max_parallelism, int parallelism) {
    assert(max_parallelism > 0 && parallelism > 0);
    assert(key_group >= 0 && key_group < max_parallelism);
    return (int)((int64_t)key_group * parallelism / max_parallelism);
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void fl_key_group_range(int subtask, int max_parallelism, int parallelism, int *first,
                        int *last) {
    assert(max_parallelism > 0 && parallelism > 0);
    assert(subtask >= 0 && subtask < parallelism);
    *first = (int)ceil_div((int64_t)subtask * max_parallelism, parallelism);
    *last = (int)ceil_div((int64_t)(subtask + 1) * max_parallelism, parallelism) - 1;
}
