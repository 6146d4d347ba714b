/*
 * key.h - key projection for operators that take the keys of a whole batch
 * before touching state (op_window.c, op_aggregate.c; the local window step
 * hashes its key fields itself, needing no key row).
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

/* The keys of a batch's rows (keys of fields), projected and hashed in two
 * tight loops before any is used: the rows' hashing chains are independent
 * of each other and of the state lookups that follow, so the processor
 * overlaps them, where one row at a time it waits for each hash and then for
 * each lookup. Key i is the key row of len[i] bytes at fl__batch_key(k, i);
 * hash[i] its hash (without the row header, as fl__key_extract's). */
typedef struct fl_batch_keys {
    uint8_t *bytes;
    size_t bytes_cap;
    uint32_t *off, *len;
    uint64_t *hash;
    uint32_t cap;
} fl_batch_keys;

void fl__batch_keys_project(fl_batch_keys *k, const fl_key_extractor *kx, const fl_batch *in);
void fl__batch_keys_fini(fl_batch_keys *k);
static inline const uint8_t *fl__batch_key(const fl_batch_keys *k, uint32_t i) {
    return k->bytes + k->off[i];
}

/* Sets the backend of keyed operator op to the key of row i of the batch:
 * the key projected in keys, or, with keys NULL, row's key (of input 0 or
 * 1) computed here (fl__keyed_set_key). 0, or FL_ESTATE with err filled for
 * a key outside the subtask's key groups (a user error with a selector). */
int fl__keyed_set_key_at(fl_operator *op, int input, const fl_row *row, const fl_batch_keys *keys,
                         uint32_t i, fl_error *err);

#endif
