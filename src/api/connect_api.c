/*
 * connect_api.c - the two-input calls of flinc/window.h that are not windows:
 * connected streams (co-map, co-flat-map, co-process, keyed or not), the
 * broadcast state pattern and the interval join.
 *
 * Each call adds one two-input node: the first stream's edges are its input
 * 0, the second's its input 1 (fl_stream_edge.input). Edges keep the
 * partitioning of their handles (implicit FORWARD, which becomes REBALANCE
 * between different parallelisms; HASH by each side's key for keyed
 * streams), except the rules of the broadcast pattern, which are BROADCAST.
 * A keyed two-input node has the first side's key as its key and the
 * second's as key2; a key selector of the second side is named in option
 * "fn.key_selector2". Two-input nodes start a chain of their own.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "flinc/window.h"
#include "mem.h"
#include "schema_text.h"

struct fl_connected_streams {
    fl_env *env;
    fl_stream *first, *second;      /* borrowed handles; NULL after a failed call */
    const fl_key_spec *key1, *key2; /* keyed: borrowed from the keyed streams */
};

/* ---- building two-input nodes ------------------------------------------------------------- */

bool fl__same_key_types(const fl_key_spec *k1, const fl_key_spec *k2) {
    const fl_schema *a = k1->key_schema, *b = k2->key_schema;
    int n = fl_schema_num_fields(a);
    if (n != fl_schema_num_fields(b)) return false;
    for (int i = 0; i < n; i++)
        if (fl_schema_field_type(a, i) != fl_schema_field_type(b, i)) return false;
    return true;
}

/* Records the error for keyed inputs whose key types differ; 0 when equal. */
static int check_keys(fl_env *env, const char *what, const fl_key_spec *k1, const fl_key_spec *k2) {
    if (fl__same_key_types(k1, k2)) return 0;
    char a[512], b[512];
    fl_schema_format(k1->key_schema, a, sizeof a);
    fl_schema_format(k2->key_schema, b, sizeof b);
    fl__env_fail(env, NULL, FL_ESCHEMA,
                 "%s: the key of the first input %s and the key of the second input %s differ; "
                 "key both inputs by fields of the same types",
                 what, a, b);
    return -1;
}

fl_stream_node *fl__two_input_node(fl_stream *first, fl_stream *second, const char *op,
                                   const char *name, bool broadcast_second) {
    fl_stream_node *n = fl__add_node(first, op, name);
    for (int i = 0; i < second->n_inputs; i++) {
        const fl_input_ref *r = &second->inputs[i];
        fl_stream_edge *e;
        if (broadcast_second) {
            e = fl_stream_node_add_input(n, r->node, FL_PART_BROADCAST, true);
        } else {
            e = fl_stream_node_add_input(n, r->node, r->partitioner, r->explicit_partitioner);
            e->key = r->key ? fl_key_spec_clone(r->key) : NULL;
            e->partition_fn = r->partition_fn ? fl_xstrdup(r->partition_fn) : NULL;
        }
        e->side_output = r->side_output ? fl_xstrdup(r->side_output) : NULL;
        e->input = 1;
    }
    /* Never chained to a predecessor (it has two). */
    if (n->chaining == FL_CHAIN_ALWAYS) n->chaining = FL_CHAIN_HEAD;
    return n;
}

/* Sets the keys of a keyed two-input node. */
static void set_keys(fl_stream_node *n, const fl_key_spec *k1, const fl_key_spec *k2) {
    n->key = fl_key_spec_clone(k1);
    n->key2 = fl_key_spec_clone(k2);
    if (k2->selector) fl_kv_set(n->options, "fn.key_selector2", k2->selector);
}

/* Whether s can be read; records an error for a handle that cannot (a
 * sink's) unless an earlier error explains it. */
static bool usable(fl_env *env, const fl_stream *s, const char *what) {
    if (s->n_inputs > 0 && s->schema) return true;
    if (!fl__failed(env))
        fl__env_fail(env, NULL, FL_EINVAL,
                     "%s: an input stream is a sink's handle, which cannot be read; connect the "
                     "stream the sink was added to",
                     what);
    return false;
}

/* ---- connected streams ------------------------------------------------------------------------
 */

static fl_connected_streams *connected(fl_env *env, fl_stream *a, fl_stream *b,
                                       const fl_key_spec *k1, const fl_key_spec *k2) {
    fl_connected_streams *c = fl__env_keep(env, fl_xcalloc(1, sizeof *c));
    c->env = env;
    if (fl__failed(env) || !usable(env, a, "connect") || !usable(env, b, "connect")) return c;
    c->first = a;
    c->second = b;
    c->key1 = k1;
    c->key2 = k2;
    return c;
}

fl_connected_streams *fl_stream_connect(fl_stream *a, fl_stream *b) {
    fl_env *env = a->env;
    if (b->env != env) {
        fl__env_fail(env, NULL, FL_EINVAL, "connect of streams from different environments");
        return connected(env, NULL, NULL, NULL, NULL);
    }
    return connected(env, a, b, NULL, NULL);
}

fl_connected_streams *fl_keyed_connect(fl_keyed_stream *a, fl_keyed_stream *b) {
    fl_env *env = a->stream->env;
    if (b->stream->env != env) {
        fl__env_fail(env, NULL, FL_EINVAL, "connect of streams from different environments");
        return connected(env, NULL, NULL, NULL, NULL);
    }
    if (fl__failed(env)) return connected(env, NULL, NULL, NULL, NULL);
    if (!a->key || !b->key) {
        fl__env_fail(env, NULL, FL_EINVAL, "keyed connect needs two keyed streams (key_by both)");
        return connected(env, NULL, NULL, NULL, NULL);
    }
    if (check_keys(env, "keyed connect", a->key, b->key) < 0)
        return connected(env, NULL, NULL, NULL, NULL);
    return connected(env, a->stream, b->stream, a->key, b->key);
}

typedef enum flavour { FLAVOUR_MAP, FLAVOUR_FLAT_MAP, FLAVOUR_PROCESS } flavour;

static fl_stream *connected_op(fl_connected_streams *c, flavour f, void *fn1, void *fn2,
                               fl_on_timer_fn on_timer, const fl_schema *out) {
    static const char *const flavours[] = {"map", "flat_map", "process"};
    static const char *const names[] = {"Co-Map", "Co-Flat Map", "Co-Process"};
    static const char *const roles[][2] = {
        {"first map function", "second map function"},
        {"first flat_map function", "second flat_map function"},
        {"first process function", "second process function"},
    };
    fl_env *env = c->env;
    if (fl__failed(env) || !c->first) return fl__poison(env, out);
    const char *what = names[f];
    if (!out) {
        if (!fl_schema_equals(c->first->schema, c->second->schema))
            return fl__fail(env, NULL, FL_EINVAL,
                            "%s of streams with different schemas needs an output schema", what);
        out = c->first->schema;
    }
    if (on_timer && !c->key1)
        return fl__fail(env, out, FL_EINVAL,
                        "%s: on_timer needs keyed connected streams (fl_keyed_connect); timers "
                        "run per key, so pass NULL here",
                        what);
    const char *name = f == FLAVOUR_PROCESS && c->key1 ? "Co-Keyed-Process" : what;
    fl_stream_node *n = fl__two_input_node(c->first, c->second, "co_process", name, false);
    n->schema = fl_schema_ref((fl_schema *)out);
    fl_kv_set(n->options, "flavour", flavours[f]);
    if (!fl__set_fn_option(env, n, "fn1", fn1, roles[f][0]) ||
        !fl__set_fn_option(env, n, "fn2", fn2, roles[f][1]) ||
        (on_timer && !fl__set_fn_option(env, n, "on_timer", (void *)on_timer, "on_timer function")))
        return fl__poison(env, out);
    if (c->key1) set_keys(n, c->key1, c->key2);
    return fl__stream_of_node(env, n->id);
}

fl_stream *fl_connected_map(fl_connected_streams *c, fl_map_fn fn1, fl_map_fn fn2,
                            const fl_schema *out_schema) {
    return connected_op(c, FLAVOUR_MAP, (void *)fn1, (void *)fn2, NULL, out_schema);
}

fl_stream *fl_connected_flat_map(fl_connected_streams *c, fl_flat_map_fn fn1, fl_flat_map_fn fn2,
                                 const fl_schema *out_schema) {
    return connected_op(c, FLAVOUR_FLAT_MAP, (void *)fn1, (void *)fn2, NULL, out_schema);
}

fl_stream *fl_connected_process(fl_connected_streams *c, fl_process_fn fn1, fl_process_fn fn2,
                                fl_on_timer_fn on_timer, const fl_schema *out_schema) {
    return connected_op(c, FLAVOUR_PROCESS, (void *)fn1, (void *)fn2, on_timer, out_schema);
}

/* ---- the broadcast state pattern ------------------------------------------------------------ */

fl_stream *fl_stream_connect_broadcast(fl_stream *s, fl_stream *rules, const char *state_name,
                                       const fl_schema *key_schema, const fl_schema *value_schema,
                                       fl_process_fn fn_element, fl_process_fn fn_broadcast,
                                       const fl_schema *out_schema) {
    fl_env *env = s->env;
    const fl_schema *out = out_schema ? out_schema : s->schema;
    if (fl__failed(env)) return fl__poison(env, out);
    if (rules->env != env)
        return fl__fail(env, out, FL_EINVAL, "connect of streams from different environments");
    if (!usable(env, s, "connect_broadcast") || !usable(env, rules, "connect_broadcast"))
        return fl__poison(env, out);
    if (!state_name || !*state_name || !key_schema || !value_schema)
        return fl__fail(env, out, FL_EINVAL,
                        "the broadcast state needs a name, a key schema and a value schema");
    fl_stream_node *n =
        fl__two_input_node(s, rules, "broadcast_process", "Co-Process-Broadcast", true);
    n->schema = fl_schema_ref((fl_schema *)out);
    fl_kv_set(n->options, "state.name", state_name);
    char *keys = fl__schema_encode(key_schema), *values = fl__schema_encode(value_schema);
    fl_kv_set(n->options, "state.key-schema", keys);
    fl_kv_set(n->options, "state.value-schema", values);
    free(keys);
    free(values);
    if (!fl__set_fn_option(env, n, "element", (void *)fn_element, "element function") ||
        !fl__set_fn_option(env, n, "broadcast", (void *)fn_broadcast, "broadcast function"))
        return fl__poison(env, out);
    return fl__stream_of_node(env, n->id);
}

/* ---- the interval join ---------------------------------------------------------------------- */

/* Bounds beyond this could overflow timestamp arithmetic. */
#define BOUND_LIMIT (INT64_MAX / 4)

fl_stream *fl_keyed_interval_join(fl_keyed_stream *left, fl_keyed_stream *right,
                                  fl_interval interval, fl_join_fn fn,
                                  const fl_schema *out_schema) {
    fl_env *env = left->stream->env;
    if (fl__failed(env)) return fl__poison(env, out_schema);
    if (right->stream->env != env)
        return fl__fail(env, out_schema, FL_EINVAL,
                        "interval join of streams from different environments");
    if (!left->key || !right->key)
        return fl__fail(env, out_schema, FL_EINVAL,
                        "interval join needs two keyed streams (key_by both inputs)");
    if (!usable(env, left->stream, "interval join") || !usable(env, right->stream, "interval join"))
        return fl__poison(env, out_schema);
    if (!out_schema) return fl__fail(env, NULL, FL_EINVAL, "interval join needs an output schema");
    if (check_keys(env, "interval join", left->key, right->key) < 0)
        return fl__poison(env, out_schema);
    if (interval.lower_ms < -BOUND_LIMIT || interval.lower_ms > BOUND_LIMIT ||
        interval.upper_ms < -BOUND_LIMIT || interval.upper_ms > BOUND_LIMIT)
        return fl__fail(env, out_schema, FL_EINVAL,
                        "interval join: bounds must be within +-%" PRId64 " ms", BOUND_LIMIT);
    /* Exclusive bounds become inclusive ones a millisecond inside, as in
     * Flink's IntervalJoined.between(...).lowerBoundExclusive(). */
    int64_t lower = interval.lower_ms + (interval.lower_exclusive ? 1 : 0);
    int64_t upper = interval.upper_ms - (interval.upper_exclusive ? 1 : 0);
    if (lower > upper)
        return fl__fail(env, out_schema, FL_EINVAL,
                        "interval join: the interval %c%" PRId64 ", %" PRId64 "%c is empty; the "
                        "lower bound must not be above the upper bound",
                        interval.lower_exclusive ? '(' : '[', interval.lower_ms, interval.upper_ms,
                        interval.upper_exclusive ? ')' : ']');
    fl_stream_node *n =
        fl__two_input_node(left->stream, right->stream, "interval_join", "Interval Join", false);
    n->schema = fl_schema_ref((fl_schema *)out_schema);
    set_keys(n, left->key, right->key);
    char *sym = fl__symbol_name(env, (void *)fn, "join function");
    if (!sym) return fl__poison(env, out_schema);
    n->fn = sym;
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, lower);
    fl_kv_set(n->options, "lower", buf);
    snprintf(buf, sizeof buf, "%" PRId64, upper);
    fl_kv_set(n->options, "upper", buf);
    return fl__stream_of_node(env, n->id);
}
