/*
 * stream.c - the DataStream calls: sources, transformations, partitioning,
 * operator properties and sinks, each appending to the environment's
 * StreamGraph.
 *
 * Every call checks its input where the user can still see which call was
 * wrong (unknown field, mismatched schemas, unknown connector option) and
 * records the first error in the environment; later calls then do nothing
 * and execute() reports that error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "flinc/state.h"
#include "connectors.h"
#include "mem.h"
#include "options.h"
#include "row_int.h"

/* ---- handles ------------------------------------------------------------------------ */

fl_stream *fl__new_handle(fl_env *env) {
    fl_stream *s = fl_xcalloc(1, sizeof *s);
    s->env = env;
    s->node = -1;
    s->next_handle = env->handles;
    env->handles = s;
    return s;
}

fl_stream *fl__stream_of_node(fl_env *env, int node) {
    fl_stream *s = fl__new_handle(env);
    s->node = node;
    s->n_inputs = 1;
    s->inputs = fl_xcalloc(1, sizeof *s->inputs);
    s->inputs[0].node = node;
    s->inputs[0].partitioner = FL_PART_FORWARD;
    s->schema = env->graph->nodes[node]->schema;
    return s;
}

fl_stream *fl__poison(fl_env *env, const fl_schema *schema) {
    fl_stream *s = fl__new_handle(env);
    s->schema = schema;
    return s;
}

bool fl__failed(const fl_env *env) { return env->error.code != 0; }
#define failed fl__failed

fl_stream *fl__fail(fl_env *env, const fl_schema *schema, int code, const char *fmt, ...) {
    char msg[FL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fl__env_fail(env, NULL, code, "%s", msg);
    return fl__poison(env, schema);
}

static fl_input_ref copy_ref(const fl_input_ref *r) {
    fl_input_ref c = *r;
    c.key = r->key ? fl_key_spec_clone(r->key) : NULL;
    c.partition_fn = r->partition_fn ? fl_xstrdup(r->partition_fn) : NULL;
    c.side_output = r->side_output ? fl_xstrdup(r->side_output) : NULL;
    return c;
}

fl_stream_node *fl__add_node(fl_stream *s, const char *op, const char *name) {
    fl_stream_node *n = fl_stream_graph_add_node(s->env->graph, op, name);
    n->parallelism = 0; /* the environment's default, set at execute */
    n->max_parallelism = 0;
    for (int i = 0; i < s->n_inputs; i++) {
        const fl_input_ref *r = &s->inputs[i];
        fl_stream_edge *e =
            fl_stream_node_add_input(n, r->node, r->partitioner, r->explicit_partitioner);
        e->key = r->key ? fl_key_spec_clone(r->key) : NULL;
        e->partition_fn = r->partition_fn ? fl_xstrdup(r->partition_fn) : NULL;
        e->side_output = r->side_output ? fl_xstrdup(r->side_output) : NULL;
    }
    return n;
}

/* ---- sources ------------------------------------------------------------------------------ */

static const struct {
    const char *connector, *name;
} source_names[] = {
    {"collection", "Collection Source"}, {"sequence", "Sequence Source"},
    {"datagen", "DataGen Source"},       {"filesystem", "File Source"},
    {"socket", "Socket Stream"},
};

static fl_kv *parse_options(fl_env *env, const char *const *options, const char *connector) {
    fl_kv *kv = fl_kv_create();
    for (size_t i = 0; options && options[i]; i++) {
        const char *eq = strchr(options[i], '=');
        if (!eq || eq == options[i]) {
            fl__env_fail(env, NULL, FL_ECONFIG,
                         "option \"%s\" of connector \"%s\" is not of the form key=value",
                         options[i], connector);
            fl_kv_destroy(kv);
            return NULL;
        }
        char *key = fl_xstrndup(options[i], (size_t)(eq - options[i]));
        fl_kv_set(kv, key, eq + 1);
        free(key);
    }
    return kv;
}

static char *connector_list(bool sources) {
    /* Names of the built-in connectors, for "unknown connector" errors. */
    static const char *const src[] = {"collection", "sequence", "datagen", "filesystem", "socket"};
    static const char *const snk[] = {"print", "filesystem", "blackhole", "collect", "function"};
    const char *const *names = sources ? src : snk;
    size_t n = sources ? sizeof src / sizeof src[0] : sizeof snk / sizeof snk[0];
    char buf[256] = "";
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(buf, ", ");
        strcat(buf, names[i]);
    }
    return fl_xstrdup(buf);
}

/* The options of connector `name` checked against its table (defaults
 * applied); NULL with err filled on an unknown or malformed option. */
static fl_options *checked_options(const char *name, const fl_option_def *defs, const fl_kv *kv,
                                   fl_error *err) {
    char what[128];
    snprintf(what, sizeof what, "connector \"%s\"", name);
    return fl_options_create(defs, kv, what, err);
}

/* Records "unknown source/sink connector" with the list of built-in ones. */
static void unknown_connector(fl_env *env, bool sources, const char *connector) {
    char *list = connector_list(sources);
    fl__env_fail(env, NULL, FL_EINVAL, "unknown %s connector \"%s\"; available: %s",
                 sources ? "source" : "sink", connector ? connector : "(null)", list);
    free(list);
}

/* A kv of n (key, value) string pairs from ap; NULL values are skipped. */
static fl_kv *kv_of_pairs(int n, va_list ap) {
    fl_kv *kv = fl_kv_create();
    for (int i = 0; i < n; i++) {
        const char *k = va_arg(ap, const char *);
        const char *v = va_arg(ap, const char *);
        if (v) fl_kv_set(kv, k, v);
    }
    return kv;
}

static fl_stream *add_source_kv(fl_env *env, const char *connector, const fl_schema *declared,
                                fl_kv *kv) {
    const fl_source_connector *c = fl_source_connector_find(connector);
    if (!c) {
        unknown_connector(env, true, connector);
        fl_kv_destroy(kv);
        return fl__poison(env, declared);
    }
    fl_error err = {0};
    fl_options *o = checked_options(c->name, c->options, kv, &err);
    fl_schema *schema = o ? c->schema(o, declared, &err) : NULL;
    fl_options_destroy(o);
    if (!schema) {
        fl__env_fail(env, NULL, err.code ? err.code : FL_EINVAL, "%s", err.message);
        fl_kv_destroy(kv);
        return fl__poison(env, declared);
    }
    const char *name = c->name;
    for (size_t i = 0; i < sizeof source_names / sizeof source_names[0]; i++)
        if (!strcmp(source_names[i].connector, c->name)) name = source_names[i].name;
    char full[160];
    snprintf(full, sizeof full, "Source: %s", name);
    fl_stream_node *n = fl_stream_graph_add_node(env->graph, "source", full);
    n->connector = fl_xstrdup(c->name);
    fl_kv_destroy(n->options);
    n->options = kv;
    n->schema = schema;
    n->parallelism = c->parallel ? 0 : 1;
    return fl__stream_of_node(env, n->id);
}

fl_stream *fl_env_add_source(fl_env *env, const char *connector, const fl_schema *schema,
                             const char *const *options) {
    if (failed(env)) return fl__poison(env, schema);
    fl_kv *kv = parse_options(env, options, connector ? connector : "(null)");
    if (!kv) return fl__poison(env, schema);
    return add_source_kv(env, connector, schema, kv);
}

static fl_stream *source_with(fl_env *env, const char *connector, const fl_schema *schema, int n,
                              ...) {
    if (failed(env)) return fl__poison(env, schema);
    va_list ap;
    va_start(ap, n);
    fl_kv *kv = kv_of_pairs(n, ap);
    va_end(ap);
    return add_source_kv(env, connector, schema, kv);
}

fl_stream *fl_env_from_rows(fl_env *env, const fl_schema *schema, const fl_row *const *rows,
                            size_t n) {
    if (!schema) return fl__fail(env, NULL, FL_EINVAL, "from_rows needs a schema");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i] || fl_row_num_fields(rows[i]) != fl_schema_num_fields(schema))
            return fl__fail(env, schema, FL_ESCHEMA,
                        "row %zu of from_rows does not match the schema: it has %d fields, the "
                        "schema %d",
                        i, rows[i] ? fl_row_num_fields(rows[i]) : 0, fl_schema_num_fields(schema));
        total += fl_row_size(rows[i]);
    }
    uint8_t *bytes = fl_xmalloc(total ? total : 1);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(bytes + at, rows[i], fl_row_size(rows[i]));
        at += fl_row_size(rows[i]);
    }
    char *b64 = fl_base64_encode(bytes, total);
    free(bytes);
    fl_stream *s = source_with(env, "collection", schema, 1, "rows", b64);
    free(b64);
    return s;
}

fl_stream *fl_env_from_sequence(fl_env *env, int64_t from, int64_t to) {
    char f[32], t[32];
    snprintf(f, sizeof f, "%lld", (long long)from);
    snprintf(t, sizeof t, "%lld", (long long)to);
    return source_with(env, "sequence", NULL, 2, "from", f, "to", t);
}

fl_stream *fl_env_datagen(fl_env *env, const fl_schema *schema, uint64_t seed, int64_t rows,
                          int64_t rows_per_second) {
    char s[32], r[32], rps[32];
    snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
    snprintf(r, sizeof r, "%lld", (long long)rows);
    snprintf(rps, sizeof rps, "%lld", (long long)rows_per_second);
    return source_with(env, "datagen", schema, 3, "seed", s, "number-of-rows", rows > 0 ? r : NULL,
                       "rows-per-second", rps);
}

fl_stream *fl_env_read_text_file(fl_env *env, const char *path) {
    if (!path) return fl__fail(env, NULL, FL_EINVAL, "read_text_file needs a path");
    return source_with(env, "filesystem", NULL, 2, "path", path, "format", "text");
}

fl_stream *fl_env_socket_text_stream(fl_env *env, const char *host, int port,
                                     const char *delimiter) {
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    return source_with(env, "socket", NULL, 3, "hostname", host ? host : "localhost", "port", p,
                       "delimiter", delimiter);
}

/* ---- one-input transformations ------------------------------------------------------------------
 */

static fl_stream *add_fn_node(fl_stream *s, const char *op, const char *name, void *fn,
                              const char *role, const fl_schema *out) {
    fl_env *env = s->env;
    if (failed(env) || s->n_inputs == 0) return fl__poison(env, out ? out : s->schema);
    char *sym = fl__symbol_name(env, fn, role);
    if (!sym) return fl__poison(env, out ? out : s->schema);
    fl_stream_node *n = fl__add_node(s, op, name);
    n->fn = sym;
    n->schema = fl_schema_ref((fl_schema *)(out ? out : s->schema));
    return fl__stream_of_node(env, n->id);
}

fl_stream *fl_stream_map(fl_stream *s, fl_map_fn fn, const fl_schema *out) {
    return add_fn_node(s, "map", "Map", (void *)fn, "map function", out);
}

fl_stream *fl_stream_flat_map(fl_stream *s, fl_flat_map_fn fn, const fl_schema *out) {
    return add_fn_node(s, "flat_map", "Flat Map", (void *)fn, "flat_map function", out);
}

fl_stream *fl_stream_process(fl_stream *s, fl_process_fn fn, const fl_schema *out) {
    return add_fn_node(s, "process", "Process", (void *)fn, "process function", out);
}

fl_stream *fl_stream_side_output(fl_stream *s, const char *tag, const fl_schema *schema) {
    fl_env *env = s->env;
    if (failed(env)) return fl__poison(env, schema);
    if (!tag || !*tag || !schema)
        return fl__fail(env, schema, FL_EINVAL, "a side output needs a tag and a schema");
    if (s->node < 0)
        return fl__fail(env, schema, FL_EINVAL,
                    "side output \"%s\" must be taken from an operator, not a union or a "
                    "partitioning",
                    tag);
    fl_stream_node *n = env->graph->nodes[s->node];
    const fl_schema *known = fl_stream_node_side_output_schema(n, tag);
    if (known && !fl_schema_equals(known, schema)) {
        char a[512], b[512];
        fl_schema_format(known, a, sizeof a);
        fl_schema_format(schema, b, sizeof b);
        return fl__fail(env, schema, FL_ESCHEMA,
                    "side output \"%s\" of \"%s\" was declared as %s, not %s", tag, n->name, a,
                    b);
    }
    fl_stream_node_add_side_output(n, tag, schema);
    fl_stream *h = fl__stream_of_node(env, s->node);
    h->node = -1; /* not an operator of its own */
    h->schema = fl_stream_node_side_output_schema(n, tag);
    h->inputs[0].side_output = fl_xstrdup(tag);
    return h;
}

fl_stream *fl_stream_filter(fl_stream *s, fl_filter_fn fn) {
    return add_fn_node(s, "filter", "Filter", (void *)fn, "filter function", NULL);
}

fl_stream *fl_stream_assign_timestamps_and_watermarks(fl_stream *s,
                                                      const fl_watermark_strategy *ws) {
    fl_env *env = s->env;
    if (failed(env) || s->n_inputs == 0 || !s->schema) return fl__poison(env, s->schema);
    if (!ws || ws->max_out_of_orderness_ms < 0 || ws->idle_timeout_ms < 0)
        return fl__fail(env, s->schema, FL_EINVAL,
                    "a watermark strategy needs a non-negative out-of-orderness and idle timeout");
    int field = -1;
    char *sym = NULL;
    if (ws->timestamp_field) {
        field = fl_schema_index_of(s->schema, ws->timestamp_field);
        fl_type t = field >= 0 ? fl_schema_field_type(s->schema, field) : FL_BOOLEAN;
        if (field < 0 || (t != FL_TIMESTAMP && t != FL_BIGINT)) {
            char sbuf[512];
            fl_schema_format(s->schema, sbuf, sizeof sbuf);
            return fl__fail(env, s->schema, FL_ESCHEMA,
                        "timestamp field \"%s\" must be a TIMESTAMP or BIGINT field of %s",
                        ws->timestamp_field, sbuf);
        }
    } else if (!ws->timestamp_fn == !ws->timestamp_batch_fn) {
        return fl__fail(env, s->schema, FL_EINVAL,
                        "a watermark strategy needs one of a timestamp field, a timestamp "
                        "assigner and a batch timestamp assigner");
    } else if (ws->timestamp_fn) {
        sym = fl__symbol_name(env, (void *)ws->timestamp_fn, "timestamp assigner");
        if (!sym) return fl__poison(env, s->schema);
    }
    fl_stream_node *n = fl__add_node(s, "timestamps", "Timestamps/Watermarks");
    n->fn = sym;
    n->schema = fl_schema_ref((fl_schema *)s->schema);
    if (!ws->timestamp_field && ws->timestamp_batch_fn &&
        !fl__set_fn_option(env, n, "timestamp_batch", (void *)ws->timestamp_batch_fn,
                           "batch timestamp assigner"))
        return fl__poison(env, s->schema);
    char buf[32];
    if (field >= 0) {
        snprintf(buf, sizeof buf, "%d", field);
        fl_kv_set(n->options, "field", buf);
    }
    snprintf(buf, sizeof buf, "%lld", (long long)ws->max_out_of_orderness_ms);
    fl_kv_set(n->options, "out-of-orderness", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)ws->idle_timeout_ms);
    fl_kv_set(n->options, "idle-timeout", buf);
    return fl__stream_of_node(env, n->id);
}

fl_stream *fl_stream_union(fl_stream *s, fl_stream *other) {
    fl_env *env = s->env;
    if (failed(env)) return fl__poison(env, s->schema);
    if (other->env != env)
        return fl__fail(env, s->schema, FL_EINVAL, "union of streams from different environments");
    if (!s->schema || !other->schema || !fl_schema_equals(s->schema, other->schema)) {
        char a[512] = "(none)", b[512] = "(none)";
        if (s->schema) fl_schema_format(s->schema, a, sizeof a);
        if (other->schema) fl_schema_format(other->schema, b, sizeof b);
        return fl__fail(env, s->schema, FL_ESCHEMA,
                    "union needs streams of one schema, but %s differs from %s; map one of "
                    "them to the other's schema first",
                    a, b);
    }
    fl_stream *u = fl__new_handle(env);
    u->schema = s->schema;
    u->n_inputs = s->n_inputs + other->n_inputs;
    u->inputs = fl_xcalloc((size_t)u->n_inputs, sizeof *u->inputs);
    for (int i = 0; i < s->n_inputs; i++) u->inputs[i] = copy_ref(&s->inputs[i]);
    for (int i = 0; i < other->n_inputs; i++)
        u->inputs[s->n_inputs + i] = copy_ref(&other->inputs[i]);
    return u;
}

/* ---- keys and partitioning
 * ------------------------------------------------------------------------- */

fl_key_spec *fl__key_of_fields(fl_env *env, const fl_schema *s, const char *fields,
                                  const char *what) {
    if (!fields || !*fields) {
        fl__env_fail(env, NULL, FL_EINVAL, "%s needs at least one key field", what);
        return NULL;
    }
    fl_key_spec *k = fl_xcalloc(1, sizeof *k);
    fl_field kf[64];
    char *copy = fl_xstrdup(fields), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        char *e = tok + strlen(tok);
        while (e > tok && e[-1] == ' ') *--e = '\0';
        int idx = fl_schema_index_of(s, tok);
        if (idx < 0 || k->n_fields == 64) {
            char sbuf[512];
            fl_schema_format(s, sbuf, sizeof sbuf);
            fl__env_fail(env, NULL, FL_ESCHEMA, "%s: no field \"%s\" in %s", what, tok, sbuf);
            free(copy);
            fl_key_spec_destroy(k);
            return NULL;
        }
        k->fields = fl_xrealloc(k->fields, (size_t)(k->n_fields + 1) * sizeof *k->fields);
        k->fields[k->n_fields] = idx;
        kf[k->n_fields].name = fl_schema_field_name(s, idx);
        kf[k->n_fields].type = fl_schema_field_type(s, idx);
        k->n_fields++;
    }
    free(copy);
    if (k->n_fields == 0) {
        fl__env_fail(env, NULL, FL_EINVAL, "%s needs at least one key field", what);
        fl_key_spec_destroy(k);
        return NULL;
    }
    fl_error err = {0};
    k->key_schema = fl_schema_create(kf, k->n_fields, &err);
    if (!k->key_schema) {
        fl__env_fail(env, NULL, FL_ESCHEMA, "%s: %s", what, err.message);
        fl_key_spec_destroy(k);
        return NULL;
    }
    return k;
}

/* A handle like s whose edges use partitioner p (and key k, taken). */
static fl_stream *repartition(fl_stream *s, fl_partitioner p, fl_key_spec *k, char *fn) {
    fl_env *env = s->env;
    fl_stream *r = fl__new_handle(env);
    r->schema = s->schema;
    r->n_inputs = s->n_inputs;
    r->inputs = fl_xcalloc((size_t)(s->n_inputs ? s->n_inputs : 1), sizeof *r->inputs);
    for (int i = 0; i < s->n_inputs; i++) {
        r->inputs[i].node = s->inputs[i].node;
        r->inputs[i].partitioner = p;
        r->inputs[i].explicit_partitioner = true;
        r->inputs[i].key = k ? fl_key_spec_clone(k) : NULL;
        r->inputs[i].partition_fn = fn ? fl_xstrdup(fn) : NULL;
        r->inputs[i].side_output =
            s->inputs[i].side_output ? fl_xstrdup(s->inputs[i].side_output) : NULL;
    }
    fl_key_spec_destroy(k);
    free(fn);
    return r;
}

static fl_keyed_stream *keyed_of(fl_env *env, fl_stream *s) {
    fl_keyed_stream *k = fl__env_keep(env, fl_xcalloc(1, sizeof *k));
    k->stream = s;
    k->key = s->n_inputs > 0 ? s->inputs[0].key : NULL;
    return k;
}

fl_keyed_stream *fl_stream_key_by(fl_stream *s, const char *fields) {
    fl_env *env = s->env;
    if (failed(env) || !s->schema) return keyed_of(env, fl__poison(env, s->schema));
    fl_key_spec *k = fl__key_of_fields(env, s->schema, fields, "key_by");
    if (!k) return keyed_of(env, fl__poison(env, s->schema));
    return keyed_of(env, repartition(s, FL_PART_HASH, k, NULL));
}

fl_keyed_stream *fl_stream_key_by_fn(fl_stream *s, fl_key_selector_fn fn,
                                     const fl_schema *key_schema) {
    fl_env *env = s->env;
    if (failed(env)) return keyed_of(env, fl__poison(env, s->schema));
    if (!key_schema) {
        fl__env_fail(env, NULL, FL_EINVAL, "key_by_fn needs the key's schema");
        return keyed_of(env, fl__poison(env, s->schema));
    }
    char *sym = fl__symbol_name(env, (void *)fn, "key selector");
    if (!sym) return keyed_of(env, fl__poison(env, s->schema));
    fl_key_spec *k = fl_xcalloc(1, sizeof *k);
    k->selector = sym;
    k->key_schema = fl_schema_ref((fl_schema *)key_schema);
    return keyed_of(env, repartition(s, FL_PART_HASH, k, NULL));
}

fl_stream *fl_keyed_stream_as_stream(fl_keyed_stream *k) { return k->stream; }

fl_stream *fl_stream_forward(fl_stream *s) {
    return failed(s->env) ? s : repartition(s, FL_PART_FORWARD, NULL, NULL);
}
fl_stream *fl_stream_rebalance(fl_stream *s) {
    return failed(s->env) ? s : repartition(s, FL_PART_REBALANCE, NULL, NULL);
}
fl_stream *fl_stream_rescale(fl_stream *s) {
    return failed(s->env) ? s : repartition(s, FL_PART_RESCALE, NULL, NULL);
}
fl_stream *fl_stream_shuffle(fl_stream *s) {
    return failed(s->env) ? s : repartition(s, FL_PART_SHUFFLE, NULL, NULL);
}
fl_stream *fl_stream_broadcast(fl_stream *s) {
    return failed(s->env) ? s : repartition(s, FL_PART_BROADCAST, NULL, NULL);
}
fl_stream *fl_stream_global(fl_stream *s) {
    return failed(s->env) ? s : repartition(s, FL_PART_GLOBAL, NULL, NULL);
}

fl_stream *fl_stream_partition_custom(fl_stream *s, fl_partition_fn fn, const char *key_fields) {
    fl_env *env = s->env;
    if (failed(env) || !s->schema) return fl__poison(env, s->schema);
    char *sym = fl__symbol_name(env, (void *)fn, "partition function");
    if (!sym) return fl__poison(env, s->schema);
    fl_key_spec *k = fl__key_of_fields(env, s->schema, key_fields, "partition_custom");
    if (!k) {
        free(sym);
        return fl__poison(env, s->schema);
    }
    return repartition(s, FL_PART_CUSTOM, k, sym);
}

/* ---- keyed aggregations
 * -------------------------------------------------------------------------------- */

fl_stream *fl__keyed_node(fl_keyed_stream *k, const char *op, const char *name) {
    fl_stream *s = k->stream;
    fl_stream_node *n = fl__add_node(s, op, name);
    n->key = fl_key_spec_clone(k->key);
    n->schema = fl_schema_ref((fl_schema *)s->schema);
    return fl__stream_of_node(s->env, n->id);
}

fl_stream *fl_keyed_process(fl_keyed_stream *k, fl_process_fn fn, fl_on_timer_fn on_timer,
                            const fl_schema *out) {
    fl_env *env = k->stream->env;
    if (failed(env) || !k->key) return fl__poison(env, out ? out : k->stream->schema);
    char *sym = fl__symbol_name(env, (void *)fn, "process function");
    char *timer = on_timer ? fl__symbol_name(env, (void *)on_timer, "on_timer function") : NULL;
    if (!sym || (on_timer && !timer)) {
        free(sym);
        free(timer);
        return fl__poison(env, out ? out : k->stream->schema);
    }
    fl_stream *r = fl__keyed_node(k, "keyed_process", "KeyedProcess");
    fl_stream_node *n = env->graph->nodes[r->node];
    n->fn = sym;
    if (out) {
        fl_schema_unref(n->schema);
        n->schema = fl_schema_ref((fl_schema *)out);
        r->schema = n->schema;
    }
    if (timer) fl_kv_set(n->options, "fn.on_timer", timer);
    free(timer);
    return r;
}

fl_stream *fl_keyed_reduce(fl_keyed_stream *k, fl_reduce_fn fn) {
    fl_env *env = k->stream->env;
    if (failed(env) || !k->key) return fl__poison(env, k->stream->schema);
    char *sym = fl__symbol_name(env, (void *)fn, "reduce function");
    if (!sym) return fl__poison(env, k->stream->schema);
    fl_stream *out = fl__keyed_node(k, "reduce", "Keyed Reduce");
    env->graph->nodes[out->node]->fn = sym;
    return out;
}

static fl_stream *aggregation(fl_keyed_stream *k, const char *agg, const char *field) {
    fl_stream *s = k->stream;
    fl_env *env = s->env;
    if (failed(env) || !k->key || !s->schema) return fl__poison(env, s->schema);
    int idx = field ? fl_schema_index_of(s->schema, field) : -1;
    if (idx < 0) {
        char sbuf[512];
        fl_schema_format(s->schema, sbuf, sizeof sbuf);
        return fl__fail(env, s->schema, FL_ESCHEMA, "%s: no field \"%s\" in %s", agg,
                    field ? field : "(null)", sbuf);
    }
    fl_type t = fl_schema_field_type(s->schema, idx);
    bool numeric = t == FL_INT || t == FL_BIGINT || t == FL_DOUBLE;
    bool ordered = numeric || t == FL_TIMESTAMP;
    if (strcmp(agg, "sum") == 0 ? !numeric : !ordered)
        return fl__fail(env, s->schema, FL_ESCHEMA, "%s needs a numeric field, but \"%s\" is %s", agg,
                    field, fl_type_name(t));
    fl_stream *out = fl__keyed_node(k, "aggregate", "Keyed Aggregation");
    fl_stream_node *n = env->graph->nodes[out->node];
    fl_kv_set(n->options, "aggregation", agg);
    char buf[16];
    snprintf(buf, sizeof buf, "%d", idx);
    fl_kv_set(n->options, "field", buf);
    return out;
}

fl_stream *fl_keyed_sum(fl_keyed_stream *k, const char *f) { return aggregation(k, "sum", f); }
fl_stream *fl_keyed_min(fl_keyed_stream *k, const char *f) { return aggregation(k, "min", f); }
fl_stream *fl_keyed_max(fl_keyed_stream *k, const char *f) { return aggregation(k, "max", f); }
fl_stream *fl_keyed_min_by(fl_keyed_stream *k, const char *f) {
    return aggregation(k, "min_by", f);
}
fl_stream *fl_keyed_max_by(fl_keyed_stream *k, const char *f) {
    return aggregation(k, "max_by", f);
}

/* ---- operator properties
 * --------------------------------------------------------------------------------- */

static fl_stream_node *node_of(fl_stream *s, const char *what) {
    if (failed(s->env)) return NULL;
    if (s->node < 0) {
        fl__env_fail(s->env, NULL, FL_EINVAL,
                     "%s applies to an operator, but this stream is a union or a partitioning; "
                     "call it on the operator before",
                     what);
        return NULL;
    }
    return s->env->graph->nodes[s->node];
}

fl_stream *fl_stream_set_parallelism(fl_stream *s, int p) {
    fl_stream_node *n = node_of(s, "set_parallelism");
    if (!n) return s;
    if (p < 1)
        return fl__env_fail(s->env, s, FL_EINVAL,
                            "parallelism of \"%s\" must be at least 1, not %d", n->name, p);
    if (!strcmp(n->op, "source") && p > 1) {
        const fl_source_connector *c = fl_source_connector_find(n->connector);
        if (c && !c->parallel)
            return fl__env_fail(
                s->env, s, FL_EINVAL,
                "\"%s\" is a non-parallel source; its parallelism must be 1, not %d", n->name, p);
    }
    n->parallelism = p;
    return s;
}

fl_stream *fl_stream_set_max_parallelism(fl_stream *s, int p) {
    fl_stream_node *n = node_of(s, "set_max_parallelism");
    if (!n) return s;
    if (p < 1 || p > FL_MAX_PARALLELISM_LIMIT)
        return fl__env_fail(s->env, s, FL_EINVAL,
                            "max parallelism of \"%s\" must be in [1, %d], not %d", n->name,
                            FL_MAX_PARALLELISM_LIMIT, p);
    n->max_parallelism = p;
    return s;
}

fl_stream *fl_stream_name(fl_stream *s, const char *name) {
    fl_stream_node *n = node_of(s, "name");
    if (!n || !name) return s;
    free(n->name);
    n->name = fl_xstrdup(name);
    return s;
}

fl_stream *fl_stream_uid(fl_stream *s, const char *uid) {
    fl_stream_node *n = node_of(s, "uid");
    if (!n || !uid) return s;
    fl_stream_graph *g = s->env->graph;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i] != n && g->nodes[i]->uid && !strcmp(g->nodes[i]->uid, uid))
            return fl__env_fail(s->env, s, FL_EINVAL,
                                "uid \"%s\" is used by \"%s\" and \"%s\"; uids must be unique", uid,
                                g->nodes[i]->name, n->name);
    free(n->uid);
    n->uid = fl_xstrdup(uid);
    return s;
}

fl_stream *fl_stream_disable_chaining(fl_stream *s) {
    fl_stream_node *n = node_of(s, "disable_chaining");
    if (n) n->chaining = FL_CHAIN_NEVER;
    return s;
}

fl_stream *fl_stream_start_new_chain(fl_stream *s) {
    fl_stream_node *n = node_of(s, "start_new_chain");
    if (n && n->chaining != FL_CHAIN_NEVER) n->chaining = FL_CHAIN_HEAD;
    return s;
}

fl_stream *fl_stream_set_hooks(fl_stream *s, fl_open_fn open, fl_close_fn close) {
    fl_stream_node *n = node_of(s, "set_hooks");
    if (!n) return s;
    char *o = open ? fl__symbol_name(s->env, (void *)open, "open function") : NULL;
    char *c = close ? fl__symbol_name(s->env, (void *)close, "close function") : NULL;
    free(n->open_fn);
    free(n->close_fn);
    n->open_fn = o;
    n->close_fn = c;
    return s;
}

fl_stream *fl_stream_set_checkpoint_hooks(fl_stream *s, fl_snapshot_fn snapshot,
                                          fl_checkpoint_complete_fn complete) {
    fl_stream_node *n = node_of(s, "set_checkpoint_hooks");
    if (!n) return s;
    if (snapshot) fl__set_fn_option(s->env, n, "snapshot", (void *)snapshot, "snapshot function");
    if (complete)
        fl__set_fn_option(s->env, n, "checkpoint_complete", (void *)complete,
                          "checkpoint-complete function");
    return s;
}

fl_stream *fl_stream_set_arg(fl_stream *s, const void *arg, size_t len) {
    fl_stream_node *n = node_of(s, "set_arg");
    if (!n) return s;
    free(n->arg);
    n->arg = NULL;
    n->arg_len = 0;
    if (arg && len) {
        n->arg = fl_xmalloc(len);
        memcpy(n->arg, arg, len);
        n->arg_len = len;
    }
    return s;
}

const fl_schema *fl_stream_schema(const fl_stream *s) { return s->schema; }

/* ---- sinks
 * ------------------------------------------------------------------------------------------------
 */

static const struct {
    const char *connector, *name;
} sink_names[] = {
    {"print", "Print to Std. Out"}, {"filesystem", "File Sink"}, {"blackhole", "Discard"},
    {"collect", "Collect"},         {"function", "Unnamed"},
};

static fl_stream *add_sink_kv(fl_stream *s, const char *connector, fl_kv *kv) {
    fl_env *env = s->env;
    const fl_sink_connector *c = fl_sink_connector_find(connector);
    if (!c) {
        unknown_connector(env, false, connector);
        fl_kv_destroy(kv);
        return fl__poison(env, NULL);
    }
    fl_error err = {0};
    fl_options *o = checked_options(c->name, c->options, kv, &err);
    int rc = o ? (c->validate ? c->validate(o, s->schema, &err) : 0) : err.code;
    fl_options_destroy(o);
    if (rc < 0) {
        fl__env_fail(env, NULL, err.code ? err.code : rc, "%s", err.message);
        fl_kv_destroy(kv);
        return fl__poison(env, NULL);
    }
    const char *name = c->name;
    for (size_t i = 0; i < sizeof sink_names / sizeof sink_names[0]; i++)
        if (!strcmp(sink_names[i].connector, c->name)) name = sink_names[i].name;
    char full[160];
    snprintf(full, sizeof full, "Sink: %s", name);
    fl_stream_node *n = fl__add_node(s, "sink", full);
    n->connector = fl_xstrdup(c->name);
    fl_kv_destroy(n->options);
    n->options = kv;
    fl_stream *h = fl__new_handle(env);
    h->node = n->id;
    h->schema = s->schema;
    return h;
}

fl_stream *fl_stream_add_sink(fl_stream *s, const char *connector, const char *const *options) {
    if (failed(s->env) || s->n_inputs == 0) return fl__poison(s->env, NULL);
    fl_kv *kv = parse_options(s->env, options, connector ? connector : "(null)");
    if (!kv) return fl__poison(s->env, NULL);
    return add_sink_kv(s, connector, kv);
}

static fl_stream *sink_with(fl_stream *s, const char *connector, int n, ...) {
    if (failed(s->env) || s->n_inputs == 0) return fl__poison(s->env, NULL);
    va_list ap;
    va_start(ap, n);
    fl_kv *kv = kv_of_pairs(n, ap);
    va_end(ap);
    return add_sink_kv(s, connector, kv);
}

fl_stream *fl_stream_print(fl_stream *s) { return sink_with(s, "print", 0); }

fl_stream *fl_stream_write_text(fl_stream *s, const char *dir) {
    return sink_with(s, "filesystem", 2, "path", dir, "format", "text");
}

fl_stream *fl_stream_write_csv(fl_stream *s, const char *dir) {
    return sink_with(s, "filesystem", 2, "path", dir, "format", "csv");
}

fl_stream *fl_stream_sink(fl_stream *s, fl_sink_fn fn) {
    if (failed(s->env)) return fl__poison(s->env, NULL);
    char *sym = fl__symbol_name(s->env, (void *)fn, "sink function");
    if (!sym) return fl__poison(s->env, NULL);
    fl_stream *h = sink_with(s, "function", 1, "fn", sym);
    if (h->node >= 0)
        s->env->graph->nodes[h->node]->fn = sym;
    else
        free(sym);
    return h;
}

static char *registry_id(fl_env *env, const char *kind) {
    return fl_xasprintf("%s-%p-%d", kind, (void *)env, env->graph->n_nodes);
}

fl_stream *fl_stream_discard(fl_stream *s) {
    if (failed(s->env)) return fl__poison(s->env, NULL);
    char *id = registry_id(s->env, "discard");
    fl_stream *h = sink_with(s, "blackhole", 1, "counter", id);
    h->registry_id = id;
    return h;
}

int64_t fl_stream_discarded(const fl_stream *s) {
    return s->registry_id ? fl_connector_counter_get(s->registry_id) : 0;
}

fl_collect *fl_stream_collect(fl_stream *s) {
    fl_env *env = s->env;
    fl_collect *c = fl_xcalloc(1, sizeof *c);
    c->env = env;
    c->id = registry_id(env, "collect");
    c->next = env->collects;
    env->collects = c;
    fl_collect_registry_open(c->id);
    if (!failed(env)) sink_with(s, "collect", 1, "id", c->id);
    return c;
}

size_t fl_collect_count(const fl_collect *c) { return fl_collect_registry_count(c->id); }
const fl_row *fl_collect_row(const fl_collect *c, size_t i) {
    return fl_collect_registry_row(c->id, i);
}
