/*
 * key.c - the key of a row: the row of its key fields, or what a key selector
 * builds. The same computation runs at the producer (to pick the consumer
 * subtask) and in the keyed operator (to find the key's state), so both agree
 * on the key group.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "key.h"
#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"
#include "schema_int.h"

int fl__key_extractor_init(fl_key_extractor *kx, const fl_key_spec *spec, void *selector,
                           fl_context *ctx) {
    memset(kx, 0, sizeof *kx);
    kx->spec = spec;
    kx->builder = fl_row_builder_create(spec->key_schema);
    kx->selector = (fl_key_selector_fn)selector;
    kx->ctx = ctx;
    return 0;
}

void fl__key_extractor_fini(fl_key_extractor *kx) {
    if (kx->builder) fl_row_builder_destroy(kx->builder);
    kx->builder = NULL;
    free(kx->buf);
    kx->buf = NULL;
    kx->cap = 0;
}

static void reserve(fl_key_extractor *kx, uint32_t total) {
    if (total <= kx->cap) return;
    free(kx->buf);
    kx->cap = total < 64 ? 128 : total * 2;
    kx->buf = fl_xmalloc(kx->cap);
}

/* Writes the header of a key row of n fields and total bytes at out. */
static inline void put_header(uint8_t *out, uint32_t total, uint32_t n) {
    uint64_t header = (uint64_t)total | (uint64_t)n << 48; /* kind +I */
    memcpy(out, &header, 8);
}

/* A variable-length value at out + var: len bytes of src, zero padded to 8
 * (in whole-word stores, which the hash of the key row then reads back). */
static inline void put_var(uint8_t *out, uint32_t var, const uint8_t *src, uint32_t len) {
    fl__copy_padded(out + var, src, len);
}

/* The length of row's key row (fields keys). */
uint32_t fl__key_size(const fl_key_extractor *kx, const fl_row *row) {
    const fl_key_spec *spec = kx->spec;
    uint32_t n = (uint32_t)spec->n_fields, total = fl__row_fixed_bytes(n);
    for (uint32_t i = 0; i < n; i++) {
        fl_type t = fl__schema_type(spec->key_schema, (int)i);
        uint32_t f = (uint32_t)spec->fields[i];
        if ((t == FL_STRING || t == FL_BYTES) && !fl__row_null(row, f))
            total += fl__align8((uint32_t)(fl__row_slot_u64(row, f) >> 32));
    }
    return total;
}

/* The key row of one field (the usual key_by("word")): header, one bitmap
 * word, one slot, and the value's bytes when it has variable length. */
static void write_one(const fl_key_extractor *kx, const fl_row *row, uint8_t *out, uint32_t total) {
    uint32_t f = (uint32_t)kx->spec->fields[0];
    fl_type t = fl__schema_type(kx->spec->key_schema, 0);
    const uint32_t fixed = FL_ROW_HEADER + 8u + 8u;
    uint64_t bitmap = 0, slot = 0;
    put_header(out, total, 1);
    if (fl__row_null(row, f)) {
        bitmap = 1;
    } else if (t == FL_STRING || t == FL_BYTES) {
        uint32_t len;
        const uint8_t *src = fl__row_var(row, f, &len);
        slot = (uint64_t)fixed | (uint64_t)len << 32;
        put_var(out, fixed, src, len);
    } else {
        slot = fl__row_slot_u64(row, f);
    }
    memcpy(out + 8, &bitmap, 8);
    memcpy(out + 16, &slot, 8);
}

/* The key row of the fields in spec, laid out directly from the input row's
 * slots (the same bytes a builder would produce: slots are copied verbatim,
 * variable-length values are re-packed after the key's own slots). */
void fl__key_write(const fl_key_extractor *kx, const fl_row *row, uint8_t *out, uint32_t total) {
    const fl_key_spec *spec = kx->spec;
    uint32_t n = (uint32_t)spec->n_fields;
    if (n == 1) {
        write_one(kx, row, out, total);
        return;
    }
    const fl_schema *ks = spec->key_schema;
    put_header(out, total, n);
    uint8_t *bitmap = out + FL_ROW_HEADER, *slots = bitmap + fl__row_bitmap_bytes(n);
    memset(bitmap, 0, fl__row_bitmap_bytes(n));
    uint32_t var = fl__row_fixed_bytes(n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t f = (uint32_t)spec->fields[i];
        fl_type t = fl__schema_type(ks, (int)i);
        uint64_t slot = 0;
        if (fl__row_null(row, f)) {
            bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
        } else if (t == FL_STRING || t == FL_BYTES) {
            uint32_t len;
            const uint8_t *src = fl__row_var(row, f, &len);
            slot = (uint64_t)var | (uint64_t)len << 32;
            put_var(out, var, src, len);
            var += fl__align8(len);
        } else {
            slot = fl__row_slot_u64(row, f);
        }
        memcpy(slots + 8 * i, &slot, 8);
    }
}

const fl_row *fl__key_extract(fl_key_extractor *kx, const fl_row *row, uint64_t *hash,
                              fl_operator *op, fl_error *err) {
    const fl_row *key;
    if (kx->spec->n_fields > 0) {
        uint32_t total = fl__key_size(kx, row);
        reserve(kx, total);
        fl__key_write(kx, row, kx->buf, total);
        key = (const fl_row *)kx->buf;
    } else {
        fl_row_builder *b = kx->builder;
        fl_row_builder_reset(b);
        int rc = kx->selector(kx->ctx, row, b);
        if (rc < 0 || kx->ctx->failure) {
            fl__user_failure(op, "key selector", rc, err);
            return NULL;
        }
        key = fl_row_builder_finish(b);
        if (!key) {
            fl_error_set(err, FL_EUSER, "%s: invalid key: %s", op->node->name,
                         fl_row_builder_error(b));
            return NULL;
        }
    }
    /* The row kind is not part of the key. */
    uint32_t len = fl__row_len(key);
    *hash = fl_hash_bytes((const uint8_t *)key + FL_ROW_HEADER, len - FL_ROW_HEADER);
    return key;
}

void fl__batch_keys_project(fl_batch_keys *k, const fl_key_extractor *kx, const fl_batch *in) {
    if (in->n > k->cap) {
        k->cap = in->n;
        k->off = fl_xrealloc(k->off, k->cap * sizeof *k->off);
        k->len = fl_xrealloc(k->len, k->cap * sizeof *k->len);
        k->hash = fl_xrealloc(k->hash, k->cap * sizeof *k->hash);
    }
    size_t used = 0;
    for (uint32_t i = 0; i < in->n; i++) {
        uint32_t len = fl__key_size(kx, in->rows[i]);
        if (used + len > k->bytes_cap) {
            k->bytes_cap = (used + len) * 2 + 4096;
            k->bytes = fl_xrealloc(k->bytes, k->bytes_cap);
        }
        fl__key_write(kx, in->rows[i], k->bytes + used, len);
        k->off[i] = (uint32_t)used;
        k->len[i] = len;
        used += len;
    }
    /* The row kind (header) is not part of the key. */
    for (uint32_t i = 0; i < in->n; i++)
        k->hash[i] = fl_hash_bytes(k->bytes + k->off[i] + FL_ROW_HEADER, k->len[i] - FL_ROW_HEADER);
}

void fl__batch_keys_fini(fl_batch_keys *k) {
    free(k->bytes);
    free(k->off);
    free(k->len);
    free(k->hash);
    memset(k, 0, sizeof *k);
}
