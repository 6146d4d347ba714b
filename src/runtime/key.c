/*
 * key.c - the key of a row: the row of its key fields, or what a key selector
 * builds. The same computation runs at the producer (to pick the consumer
 * subtask) and in the keyed operator (to find the key's state), so both agree
 * on the key group.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"

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

/* The key row of the fields in spec, laid out directly from the input row's
 * slots (the same bytes a builder would produce: slots are copied verbatim,
 * variable-length values are re-packed after the key's own slots). */
static const fl_row *project(fl_key_extractor *kx, const fl_row *row) {
    const fl_key_spec *spec = kx->spec;
    uint32_t n = (uint32_t)spec->n_fields;
    uint32_t fixed = fl__row_fixed_bytes(n), total = fixed;
    for (uint32_t i = 0; i < n; i++) {
        fl_type t = fl_schema_field_type(spec->key_schema, (int)i);
        if ((t == FL_STRING || t == FL_BYTES) && !fl_row_is_null(row, spec->fields[i])) {
            uint32_t len;
            memcpy(&len, fl__row_slot(row, (uint32_t)spec->fields[i]) + 4, 4);
            total += fl__align8(len);
        }
    }
    if (total > kx->cap) {
        free(kx->buf);
        kx->cap = total * 2;
        kx->buf = fl_xmalloc(kx->cap);
    }
    uint8_t *out = kx->buf;
    memset(out, 0, fixed);
    uint16_t n16 = (uint16_t)n;
    memcpy(out, &total, 4);
    memcpy(out + 6, &n16, 2);
    uint8_t *bitmap = out + FL_ROW_HEADER, *slots = bitmap + fl__row_bitmap_bytes(n);
    uint32_t var = fixed;
    for (uint32_t i = 0; i < n; i++) {
        int f = spec->fields[i];
        if (fl_row_is_null(row, f)) {
            bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
            continue;
        }
        const uint8_t *src = fl__row_slot(row, (uint32_t)f);
        fl_type t = fl_schema_field_type(spec->key_schema, (int)i);
        if (t == FL_STRING || t == FL_BYTES) {
            uint32_t off, len;
            memcpy(&off, src, 4);
            memcpy(&len, src + 4, 4);
            memcpy(slots + 8 * i, &var, 4);
            memcpy(slots + 8 * i + 4, &len, 4);
            memcpy(out + var, (const uint8_t *)row + off, len);
            memset(out + var + len, 0, fl__align8(len) - len);
            var += fl__align8(len);
        } else {
            memcpy(slots + 8 * i, src, 8);
        }
    }
    return (const fl_row *)out;
}

const fl_row *fl__key_extract(fl_key_extractor *kx, const fl_row *row, uint64_t *hash,
                              fl_operator *op, fl_error *err) {
    const fl_row *key;
    if (kx->spec->n_fields > 0) {
        key = project(kx, row);
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
