/*
 * key.h - key projection for operators that take the keys of a whole batch
 * before touching state (op_window.c): the projection alone, written where
 * the caller keeps the batch's keys, so that it can hash them in one tight
 * loop, where the processor overlaps the hashes of consecutive keys.
 * fl__key_extract (runtime_int.h) is projection and hash in one call.
 */
#ifndef FL_RUNTIME_KEY_H
#define FL_RUNTIME_KEY_H

#include "runtime_int.h"

/* For a key of fields (kx->spec->n_fields > 0): the length of row's key
 * row, and the key row itself written into total bytes at out. Its hash is
 * fl_hash_bytes of the key row without its 8-byte header. */
uint32_t fl__key_size(const fl_key_extractor *kx, const fl_row *row);
void fl__key_write(const fl_key_extractor *kx, const fl_row *row, uint8_t *out, uint32_t total);

#endif
