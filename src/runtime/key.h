/*
 * key.h - key projection for operators that take the keys of a whole batch
 * before touching state (op_window.c): the projection alone, so that the
 * caller can hash the batch's keys in one tight loop, where the processor
 * overlaps the hashes of consecutive keys. fl__key_extract (runtime_int.h)
 * is projection and hash in one call.
 */
#ifndef FL_RUNTIME_KEY_H
#define FL_RUNTIME_KEY_H

#include "runtime_int.h"

/* The key row of row for a key of fields (kx->spec->n_fields > 0), valid
 * until the next call on kx; its hash is fl_hash_bytes of the row without
 * its 8-byte header. */
const fl_row *fl__key_project(fl_key_extractor *kx, const fl_row *row);

#endif
