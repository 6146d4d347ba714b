/*
 * hash.h - hashing and key groups.
 *
 * A key's hash is XXH64 of its serialized key row with seed 0, so it is the
 * same on every machine. A key belongs to key group hash mod max_parallelism
 * (after a final mix so that low bits are well spread) and key group g runs on
 * subtask g * parallelism / max_parallelism: Flink's rule, which lets state be
 * rescaled by contiguous key-group ranges.
 */
#ifndef FL_CORE_HASH_H
#define FL_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t fl_hash_bytes(const void *p, size_t len);
int fl_key_group_of_hash(uint64_t hash, int max_parallelism);
int fl_key_group_to_subtask(int key_group, int max_parallelism, int parallelism);
/* First and last (inclusive) key group owned by a subtask. */
void fl_key_group_range(int subtask, int max_parallelism, int parallelism, int *first,
                        int *last);

#endif
