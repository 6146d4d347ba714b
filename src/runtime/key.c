/*
 * key.c - the key of a row: the row of its key fields, or what a key selector
 * builds. The same computation runs at the producer (to pick the consumer
 * subtask) and in the keyed operator (to find the key's state), so both agree
 * on the key group.
 */
#include "hash.h"
#include "row_int.h"
#include "runtime_int.h"

int fl__key_extractor_init(fl_key_extractor *kx, const fl_key_spec *spec, void *selector,
                           fl_context *ctx) {
    kx->spec = spec;
    kx->builder = fl_row_builder_create(spec->key_schema);
    kx->selector = (fl_key_selector_fn)selector;
    kx->ctx = ctx;
    return 0;
}

void fl__key_extractor_fini(fl_key_extractor *kx) {
    if (kx->builder) fl_row_builder_destroy(kx->builder);
    kx->builder = NULL;
}

const fl_row *fl__key_extract(fl_key_extractor *kx, const fl_row *row, uint64_t *hash,
                              fl_operator *op, fl_error *err) {
    fl_row_builder *b = kx->builder;
    fl_row_builder_reset(b);
    if (kx->spec->n_fields > 0) {
        for (int i = 0; i < kx->spec->n_fields; i++)
            fl_row_builder_copy_field(b, i, row, kx->spec->fields[i]);
    } else {
        int rc = kx->selector(kx->ctx, row, b);
        if (rc < 0 || kx->ctx->failure) {
            fl__user_failure(op, "key selector", rc, err);
            return NULL;
        }
    }
    const fl_row *key = fl_row_builder_finish(b);
    if (!key) {
        fl_error_set(err, FL_EUSER, "%s: invalid key: %s", op->node->name, fl_row_builder_error(b));
        return NULL;
    }
    /* The row kind is not part of the key. */
    uint32_t len = fl__row_len(key);
    *hash = fl_hash_bytes((const uint8_t *)key + FL_ROW_HEADER, len - FL_ROW_HEADER);
    return key;
}
