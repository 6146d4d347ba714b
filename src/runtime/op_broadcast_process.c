/*
 * op_broadcast_process.c - the broadcast state pattern (Flink's
 * BroadcastProcessFunction on a BroadcastConnectedStream): input 0 carries
 * the elements, input 1 the rules, which reach every parallel instance (the
 * edge is BROADCAST). Each instance keeps the broadcast state, a map state
 * named by the node's options, in a state backend of its own: it is not
 * keyed state, every instance holds its own full copy, and because every
 * instance sees the same rules the copies agree. The broadcast function may
 * change it; the element function reads it, and a write from there fails the
 * job naming the state (Flink's ReadOnlyBroadcastState).
 *
 * Rows of the two inputs are handled in the order their buffers arrive:
 * nothing orders elements after rules (as in Flink). The watermark is the
 * minimum over both inputs, so a rules stream without watermarks holds event
 * time back.
 *
 * Checkpoints and savepoints take the backend as operator state (Flink's
 * broadcast state): every instance writes its copy (snapshot.c, role
 * "broadcast"), and on restore instance i reads the copy of old instance
 * i % old parallelism -- all copies are equal, so the operator may be
 * restored at any parallelism.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "keyed_state.h"
#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"
#include "schema_text.h"

typedef struct bc_state {
    fl_process_fn element, broadcast;
    fl_collector *out;
    fl_schema *key_schema, *value_schema;
    fl_keyed_backend *backend; /* the broadcast state of this instance */
    struct fl_user_state *handles;
    struct fl_user_state *state; /* what fl_context_broadcast_state returns */
} bc_state;

/* The schema in option `option` (connect_api.c writes it). */
static fl_schema *option_schema(const fl_operator *op, const char *option, fl_error *err) {
    const char *text = fl_kv_get(op->node->options, option);
    if (!text || !*text) {
        fl_error_set(err, FL_EINVAL, "\"%s\" has no option \"%s\"", op->node->name, option);
        return NULL;
    }
    char *where = fl_xasprintf("option \"%s\" of \"%s\"", option, op->node->name);
    fl_schema *s = fl__schema_decode(text, where, err);
    free(where);
    return s;
}

static int bc_open(fl_operator *op, fl_error *err) {
    bc_state *st = fl_xcalloc(1, sizeof *st);
    op->impl = st;
    st->element = (fl_process_fn)fl__op_fn(op, "element");
    st->broadcast = (fl_process_fn)fl__op_fn(op, "broadcast");
    const char *name = fl_kv_get(op->node->options, "state.name");
    if (!st->element || !st->broadcast || !name)
        return fl_error_set(err, FL_EINVAL,
                            "\"%s\" needs an element function, a broadcast function and a state "
                            "name",
                            op->node->name);
    st->key_schema = option_schema(op, "state.key-schema", err);
    st->value_schema = st->key_schema ? option_schema(op, "state.value-schema", err) : NULL;
    if (!st->value_schema) return err->code ? err->code : FL_EINVAL;
    st->out = fl__collector_create(op, op->node->schema);

    /* One key group and one fixed key (a row (instance INT) = 0): the
     * backend holds just this map, restored (if the job restores) before it
     * is declared, as keyed state is. */
    st->backend = fl_keyed_backend_create(0, 0, 1, fl__state_clock, op->task);
    op->broadcast_state = st->backend;
    int rc = fl__restore_broadcast(op, st->backend, err);
    if (rc < 0) return rc;
    fl_schema *ks_schema = fl_schema_of(1, "instance", FL_INT);
    fl_row_builder *kb = fl_row_builder_create(ks_schema);
    fl_row_builder_set_int(kb, 0, 0);
    const fl_row *key = fl_row_builder_finish(kb);
    uint32_t len = fl__row_len(key);
    fl_keyed_backend_set_key(st->backend, key, len,
                             fl_hash_bytes((const uint8_t *)key + 8, len - 8));
    fl_row_builder_destroy(kb);
    fl_schema_unref(ks_schema);
    fl_state_desc d = {.name = name,
                       .kind = FL_STATE_MAP,
                       .value_schema = st->value_schema,
                       .map_key_schema = st->key_schema};
    fl_kstate *ks = fl_keyed_backend_state(st->backend, &d, err);
    if (!ks) return err->code;
    st->state = fl__broadcast_state_create(op, ks, name, &st->handles);
    return 0;
}

fl_map_state *fl_context_broadcast_state(fl_context *ctx) {
    if (ctx->op->ops != &fl__op_broadcast_process || !ctx->op->impl) {
        fl_context_fail(ctx,
                        "\"%s\" has no broadcast state; only the functions of "
                        "fl_stream_connect_broadcast have one",
                        ctx->op->node->name);
        return NULL;
    }
    bc_state *st = ctx->op->impl;
    return (fl_map_state *)st->state;
}

static int bc_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    bc_state *st = op->impl;
    bool rules = input == 1;
    fl_process_fn fn = rules ? st->broadcast : st->element;
    fl__broadcast_state_set_writable(st->state, rules);
    int rc = fl__collector_run_batch(op, st->out, fn, in,
                                     rules ? "broadcast function" : "element function", err);
    if (rc == 0) fl__broadcast_state_set_writable(st->state, false);
    return rc;
}

static void bc_close(fl_operator *op) {
    bc_state *st = op->impl;
    if (!st) return;
    fl__user_states_free(&st->handles);
    op->broadcast_state = NULL;
    fl_keyed_backend_destroy(st->backend);
    fl_schema_unref(st->key_schema);
    fl_schema_unref(st->value_schema);
    fl__collector_destroy(st->out);
    free(st);
    op->impl = NULL;
}

const fl_operator_ops fl__op_broadcast_process = {
    .kind = "broadcast_process",
    .open = bc_open,
    .process = bc_process,
    .close = bc_close,
};
