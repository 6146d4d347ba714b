/*
 * hash.c - key hashing and the key-group arithmetic shared by the hash
 * exchange (which subtask gets a record) and the state backends (which key
 * groups a subtask owns, and so which state it restores after rescaling).
 *
 * Both directions use integer arithmetic only, and fl_key_group_range is the
 * exact inverse of fl_key_group_to_subtask (hash.h): key group g belongs to
 * subtask floor(g * p / maxP), and subtask s owns [ceil(s * maxP / p),
 * ceil((s + 1) * maxP / p) - 1], which is the set of g with that floor.
 *
 * XXH64 is compiled into this file (XXH_INLINE_ALL) rather than called in
 * the shared libxxhash: keys are a few tens of bytes, where the call into the
 * library and its out-of-line tail handling cost more than the hashing. The
 * values are XXH64's, seed 0, whatever the build.
 */
#include "hash.h"

#include <assert.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t fl_hash_bytes(const void *p, size_t len) { return XXH64(p, len, 0); }

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void fl_key_group_range(int subtask, int max_parallelism, int parallelism, int *first, int *last) {
    assert(max_parallelism > 0 && parallelism > 0);
    assert(subtask >= 0 && subtask < parallelism);
    *first = (int)ceil_div((int64_t)subtask * max_parallelism, parallelism);
    *last = (int)ceil_div((int64_t)(subtask + 1) * max_parallelism, parallelism) - 1;
}
