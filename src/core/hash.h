/*
 * hash.h - hashing and key groups.
 *
 * A key's hash is XXH64 of its serialized key row with seed 0, so it is the
 * same on every machine. A key belongs to key group hash mod max_parallelism
 * (after a final mix so that low bits are well spread) and key group g runs on
 * subtask g * parallelism / max_parallelism: Flink's rule, which lets state be
 * rescaled by contiguous key-group ranges.
 *
 * The key-group arithmetic runs once or twice per record (the hash exchange,
 * the keyed operator), so it is inline here; a power-of-two max parallelism
 * (the default 128) takes a mask and a shift instead of divisions, with the
 * same results.
 */
#ifndef FL_CORE_HASH_H
#define FL_CORE_HASH_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

uint64_t fl_hash_bytes(const void *p, size_t len);

/* Final avalanche step (murmur3's fmix64) so that the low bits, which the
 * modulo keeps, depend on every bit of the hash. */
static inline uint64_t fl__hash_mix64(uint64_t h) {
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

static inline int fl_key_group_of_hash(uint64_t hash, int max_parallelism) {
    assert(max_parallelism > 0);
    uint64_t m = (uint64_t)max_parallelism;
    if ((m & (m - 1)) == 0) return (int)(fl__hash_mix64(hash) & (m - 1));
    return (int)(fl__hash_mix64(hash) % m);
}

static inline int fl_key_group_to_subtask(int key_group, int max_parallelism, int parallelism) {
    assert(max_parallelism > 0 && parallelism > 0);
    assert(key_group >= 0 && key_group < max_parallelism);
    uint64_t m = (uint64_t)max_parallelism, scaled = (uint64_t)key_group * (uint64_t)parallelism;
    if ((m & (m - 1)) == 0) return (int)(scaled >> __builtin_ctzll(m));
    return (int)(scaled / m);
}

/* First and last (inclusive) key group owned by a subtask. */
void fl_key_group_range(int subtask, int max_parallelism, int parallelism, int *first, int *last);

#endif
