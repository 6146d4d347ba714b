/*
 * graph_json_read.c - reading a plan back from the JSON that
 * graph_json_write.c produces, on the JobManager and the TaskManagers.
 *
 * The text crossed a process boundary, so nothing in it is trusted: every
 * field is checked for presence, type and range, and the cross references
 * (edge -> node, vertex -> node, job edge -> vertex, subtask -> vertex) are
 * checked against each other before the plan is handed out, so that the
 * runtime can index with them freely. Every field the writer emits is
 * required, except those that may be null, which may also be left out.
 * A failure is FL_EFORMAT with a message naming the field by its path, e.g.
 * `malformed job graph: stream.nodes[2].parallelism: expected an integer,
 * found a string`.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graph.h"
#include "graph_int.h"
#include "mem.h"

#define PATH_LEN 256

/* ---- errors and paths ------------------------------------------------------------ */

static int fail(fl_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(fl_error *err, const char *path, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path[0] != '\0')
        return fl_error_set(err, FL_EFORMAT, "%s: %s", path, msg);
    return fl_error_set(err, FL_EFORMAT, "%s", msg);
}

/* A path too deep for PATH_LEN ends in "..." (the message stays readable). */
static void mark_truncated(char *buf, int written) {
    if (written >= PATH_LEN)
        memcpy(buf + PATH_LEN - 4, "...", 4);
}

static void path_key(char *buf, const char *parent, const char *key) {
    int n;
    if (parent[0] != '\0')
        n = snprintf(buf, PATH_LEN, "%s.%s", parent, key);
    else
        n = snprintf(buf, PATH_LEN, "%s", key);
    mark_truncated(buf, n);
}

static void path_index(char *buf, const char *parent, size_t i) {
    mark_truncated(buf, snprintf(buf, PATH_LEN, "%s[%zu]", parent, i));
}

static const char *kind_of(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* ---- fields ------------------------------------------------------------------------ */

/* Member key of obj (borrowed); a missing one is an error when required. */
static int member(json_t *obj, const char *path, const char *key, bool required, json_t **out,
                  fl_error *err) {
    *out = json_object_get(obj, key);
    if (*out == NULL && required)
        return fail(err, path, "missing field \"%s\"", key);
    return 0;
}

static int read_ll(json_t *obj, const char *path, const char *key, long long min, long long max,
                   long long *out, fl_error *err) {
    json_t *v;
    char p[PATH_LEN];
    if (member(obj, path, key, true, &v, err) != 0)
        return FL_EFORMAT;
    path_key(p, path, key);
    if (!json_is_integer(v))
        return fail(err, p, "expected an integer, found %s", kind_of(v));
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return fail(err, p, "%lld is out of range [%lld, %lld]", x, min, max);
    *out = x;
    return 0;
}

static int read_int(json_t *obj, const char *path, const char *key, int min, int max, int *out,
                    fl_error *err) {
    long long x;
    if (read_ll(obj, path, key, min, max, &x, err) != 0)
        return FL_EFORMAT;
    *out = (int)x;
    return 0;
}

static int read_bool(json_t *obj, const char *path, const char *key, bool *out, fl_error *err) {
    json_t *v;
    char p[PATH_LEN];
    if (member(obj, path, key, true, &v, err) != 0)
        return FL_EFORMAT;
    path_key(p, path, key);
    if (!json_is_boolean(v))
        return fail(err, p, "expected a boolean, found %s", kind_of(v));
    *out = json_is_true(v);
    return 0;
}

static int check_string(json_t *v, const char *p, fl_error *err) {
    if (!json_is_string(v))
        return fail(err, p, "expected a string, found %s", kind_of(v));
    if (strlen(json_string_value(v)) != json_string_length(v))
        return fail(err, p, "the string contains a NUL character");
    return 0;
}

/* A string (borrowed); nullable ones may be null or missing (*out = NULL). */
static int read_str(json_t *obj, const char *path, const char *key, bool nullable, const char **out,
                    fl_error *err) {
    json_t *v;
    char p[PATH_LEN];
    *out = NULL;
    if (member(obj, path, key, !nullable, &v, err) != 0)
        return FL_EFORMAT;
    if (v == NULL || (nullable && json_is_null(v)))
        return 0;
    path_key(p, path, key);
    if (check_string(v, p, err) != 0)
        return FL_EFORMAT;
    *out = json_string_value(v);
    return 0;
}

static char *dup_or_null(const char *s) {
    return s ? fl_xstrdup(s) : NULL;
}

/* A nullable string copied into *out (new or NULL). */
static int read_opt_copy(json_t *obj, const char *path, const char *key, char **out,
                         fl_error *err) {
    const char *s;
    if (read_str(obj, path, key, true, &s, err) != 0)
        return FL_EFORMAT;
    *out = dup_or_null(s);
    return 0;
}

static int read_typed(json_t *obj, const char *path, const char *key, bool nullable, json_type type,
                      const char *what, json_t **out, fl_error *err) {
    char p[PATH_LEN];
    if (member(obj, path, key, !nullable, out, err) != 0)
        return FL_EFORMAT;
    if (*out == NULL || (nullable && json_is_null(*out))) {
        *out = NULL;
        return 0;
    }
    path_key(p, path, key);
    if (json_typeof(*out) != type)
        return fail(err, p, "expected %s, found %s", what, kind_of(*out));
    return 0;
}

static int read_array(json_t *obj, const char *path, const char *key, bool nullable, json_t **out,
                      fl_error *err) {
    return read_typed(obj, path, key, nullable, JSON_ARRAY, "an array", out, err);
}

static int read_object(json_t *obj, const char *path, const char *key, bool nullable, json_t **out,
                       fl_error *err) {
    return read_typed(obj, path, key, nullable, JSON_OBJECT, "an object", out, err);
}

/* An array of integers in [min, max] (new array in *out, count in *n). */
static int read_int_array(json_t *obj, const char *path, const char *key, int min, int max,
                          int **out, int *n, fl_error *err) {
    json_t *a, *v;
    size_t i;
    char p[PATH_LEN], pi[PATH_LEN];
    *out = NULL;
    *n = 0;
    if (read_array(obj, path, key, false, &a, err) != 0)
        return FL_EFORMAT;
    path_key(p, path, key);
    if (json_array_size(a) > (size_t)INT_MAX / sizeof(int))
        return fail(err, p, "too many elements");
    int *values = fl_xmalloc((json_array_size(a) > 0 ? json_array_size(a) : 1) * sizeof(int));
    json_array_foreach(a, i, v) {
        path_index(pi, p, i);
        if (!json_is_integer(v)) {
            free(values);
            return fail(err, pi, "expected an integer, found %s", kind_of(v));
        }
        long long x = json_integer_value(v);
        if (x < min || x > max) {
            free(values);
            return fail(err, pi, "%lld is out of range [%d, %d]", x, min, max);
        }
        values[i] = (int)x;
    }
    *out = values;
    *n = (int)json_array_size(a);
    return 0;
}

/* ---- values ------------------------------------------------------------------------ */

/* An object of strings, set into kv in its order. */
static int read_kv(json_t *obj, const char *path, const char *key, fl_kv *kv, fl_error *err) {
    json_t *o, *v;
    const char *k;
    char p[PATH_LEN], pk[PATH_LEN];
    if (read_object(obj, path, key, false, &o, err) != 0)
        return FL_EFORMAT;
    path_key(p, path, key);
    json_object_foreach(o, k, v) {
        path_key(pk, p, k);
        if (check_string(v, pk, err) != 0)
            return FL_EFORMAT;
        fl_kv_set(kv, k, json_string_value(v));
    }
    return 0;
}

/* [{"name": .., "type": ..}, ...] -> a new schema, or NULL for null. */
static int read_schema(json_t *obj, const char *path, const char *key, bool nullable,
                       fl_schema **out, fl_error *err) {
    json_t *a, *f;
    size_t i;
    char p[PATH_LEN], pi[PATH_LEN];
    *out = NULL;
    if (read_array(obj, path, key, nullable, &a, err) != 0)
        return FL_EFORMAT;
    if (a == NULL)
        return 0;
    path_key(p, path, key);
    size_t n = json_array_size(a);
    if (n > FL_ROW_MAX_FIELDS)
        return fail(err, p, "%zu fields are more than the limit of %d", n, FL_ROW_MAX_FIELDS);
    fl_field *fields = fl_xcalloc(n > 0 ? n : 1, sizeof(*fields));
    int rc = 0;
    json_array_foreach(a, i, f) {
        const char *name, *type_name;
        path_index(pi, p, i);
        if (!json_is_object(f)) {
            rc = fail(err, pi, "expected an object, found %s", kind_of(f));
            goto done;
        }
        if (read_str(f, pi, "name", false, &name, err) != 0 ||
            read_str(f, pi, "type", false, &type_name, err) != 0) {
            rc = FL_EFORMAT;
            goto done;
        }
        fields[i].name = name;
        if (fl_type_parse(type_name, &fields[i].type) != 0) {
            char pt[PATH_LEN];
            path_key(pt, pi, "type");
            rc = fail(err, pt, "unknown type \"%s\"", type_name);
            goto done;
        }
    }
    fl_error serr;
    fl_error_clear(&serr);
    *out = fl_schema_create(fields, (int)n, &serr);
    if (*out == NULL)
        rc = fail(err, p, "%s", serr.message[0] ? serr.message : "invalid schema");
done:
    free(fields);
    return rc;
}

static int read_key(json_t *obj, const char *path, const char *key, fl_key_spec **out,
                    fl_error *err) {
    json_t *o;
    const char *selector;
    char p[PATH_LEN];
    *out = NULL;
    if (read_object(obj, path, key, true, &o, err) != 0)
        return FL_EFORMAT;
    if (o == NULL)
        return 0;
    path_key(p, path, key);
    fl_key_spec *k = fl_xcalloc(1, sizeof(*k));
    if (read_int_array(o, p, "fields", 0, FL_ROW_MAX_FIELDS - 1, &k->fields, &k->n_fields, err) !=
            0 ||
        read_str(o, p, "selector", true, &selector, err) != 0)
        goto fail_key;
    k->selector = dup_or_null(selector);
    if (k->n_fields == 0 && k->selector == NULL) {
        fail(err, p, "a key needs fields or a selector");
        goto fail_key;
    }
    if (read_schema(o, p, "key_schema", false, &k->key_schema, err) != 0)
        goto fail_key;
    if (k->n_fields > 0 && fl_schema_num_fields(k->key_schema) != k->n_fields) {
        fail(err, p, "key_schema has %d fields but the key has %d",
             fl_schema_num_fields(k->key_schema), k->n_fields);
        goto fail_key;
    }
    *out = k;
    return 0;
fail_key:
    fl_key_spec_destroy(k);
    return FL_EFORMAT;
}

static int read_partitioner(json_t *obj, const char *path, const char *key, fl_partitioner *out,
                            fl_error *err) {
    const char *name;
    char p[PATH_LEN];
    if (read_str(obj, path, key, false, &name, err) != 0)
        return FL_EFORMAT;
    if (fl_partitioner_parse(name, out) != 0) {
        path_key(p, path, key);
        return fail(err, p,
                    "unknown partitioner \"%s\"; expected FORWARD, REBALANCE, RESCALE, SHUFFLE, "
                    "BROADCAST, GLOBAL, HASH or CUSTOM",
                    name);
    }
    return 0;
}

static int read_chaining(json_t *obj, const char *path, const char *key, fl_chaining *out,
                         fl_error *err) {
    const char *name;
    char p[PATH_LEN];
    if (read_str(obj, path, key, false, &name, err) != 0)
        return FL_EFORMAT;
    if (strcasecmp(name, "ALWAYS") == 0)
        *out = FL_CHAIN_ALWAYS;
    else if (strcasecmp(name, "HEAD") == 0)
        *out = FL_CHAIN_HEAD;
    else if (strcasecmp(name, "NEVER") == 0)
        *out = FL_CHAIN_NEVER;
    else {
        path_key(p, path, key);
        return fail(err, p, "unknown chaining \"%s\"; expected ALWAYS, HEAD or NEVER", name);
    }
    return 0;
}

/* ---- StreamGraph -------------------------------------------------------------------- */

static int read_stream_edge(fl_stream_node *n, json_t *j, const char *path, fl_error *err) {
    int source_id;
    fl_partitioner part;
    bool explicit_p;
    if (!json_is_object(j))
        return fail(err, path, "expected an object, found %s", kind_of(j));
    if (read_int(j, path, "source_id", 0, INT_MAX, &source_id, err) != 0 ||
        read_partitioner(j, path, "partitioner", &part, err) != 0 ||
        read_bool(j, path, "partitioner_explicit", &explicit_p, err) != 0)
        return FL_EFORMAT;
    fl_stream_edge *e = fl_stream_node_add_input(n, source_id, part, explicit_p);
    if (read_key(j, path, "key", &e->key, err) != 0 ||
        read_opt_copy(j, path, "partition_fn", &e->partition_fn, err) != 0 ||
        read_opt_copy(j, path, "side_output", &e->side_output, err) != 0 ||
        read_int(j, path, "input", 0, 1, &e->input, err) != 0)
        return FL_EFORMAT;
    return 0;
}

static int read_arg(json_t *obj, const char *path, fl_stream_node *n, fl_error *err) {
    const char *b64;
    char p[PATH_LEN];
    if (read_str(obj, path, "arg", true, &b64, err) != 0)
        return FL_EFORMAT;
    if (b64 == NULL)
        return 0;
    if (b64[0] == '\0') {
        n->arg = fl_xcalloc(1, 1); /* present but empty */
        n->arg_len = 0;
        return 0;
    }
    n->arg = fl_base64_decode(b64, &n->arg_len);
    if (n->arg == NULL) {
        n->arg_len = 0;
        path_key(p, path, "arg");
        return fail(err, p, "not valid base64");
    }
    return 0;
}

static int read_side_outputs(json_t *j, const char *path, fl_stream_node *n, fl_error *err) {
    json_t *arr, *e;
    size_t i;
    char p[PATH_LEN], pi[PATH_LEN];
    if (read_array(j, path, "side_outputs", false, &arr, err) != 0)
        return FL_EFORMAT;
    path_key(p, path, "side_outputs");
    json_array_foreach(arr, i, e) {
        const char *tag;
        fl_schema *schema = NULL;
        path_index(pi, p, i);
        if (!json_is_object(e))
            return fail(err, pi, "expected an object, found %s", kind_of(e));
        if (read_str(e, pi, "tag", false, &tag, err) != 0 ||
            read_schema(e, pi, "schema", false, &schema, err) != 0)
            return FL_EFORMAT;
        if (fl_stream_node_side_output_schema(n, tag) != NULL) {
            fl_schema_unref(schema);
            return fail(err, pi, "side output \"%s\" declared twice", tag);
        }
        fl_stream_node_add_side_output(n, tag, schema);
        fl_schema_unref(schema);
    }
    return 0;
}

static int read_stream_node(fl_stream_graph *g, json_t *j, const char *path, fl_error *err) {
    int id;
    const char *op, *name;
    json_t *inputs, *e;
    size_t i;
    char p[PATH_LEN], pi[PATH_LEN];
    if (!json_is_object(j))
        return fail(err, path, "expected an object, found %s", kind_of(j));
    if (read_int(j, path, "id", 0, INT_MAX, &id, err) != 0)
        return FL_EFORMAT;
    if (id != g->n_nodes) {
        path_key(p, path, "id");
        return fail(err, p, "expected %d (nodes are numbered by position), found %d", g->n_nodes,
                    id);
    }
    if (read_str(j, path, "op", false, &op, err) != 0 ||
        read_str(j, path, "name", true, &name, err) != 0)
        return FL_EFORMAT;
    if (op[0] == '\0') {
        path_key(p, path, "op");
        return fail(err, p, "empty operator kind");
    }
    fl_stream_node *n = fl_stream_graph_add_node(g, op, name);
    if (read_opt_copy(j, path, "uid", &n->uid, err) != 0 ||
        read_int(j, path, "parallelism", 1, FL_GRAPH_MAX_PARALLELISM_LIMIT, &n->parallelism, err) !=
            0 ||
        read_int(j, path, "max_parallelism", 0, FL_GRAPH_MAX_PARALLELISM_LIMIT, &n->max_parallelism,
                 err) != 0 ||
        read_chaining(j, path, "chaining", &n->chaining, err) != 0 ||
        read_schema(j, path, "schema", true, &n->schema, err) != 0 ||
        read_opt_copy(j, path, "fn", &n->fn, err) != 0 ||
        read_opt_copy(j, path, "open_fn", &n->open_fn, err) != 0 ||
        read_opt_copy(j, path, "close_fn", &n->close_fn, err) != 0 ||
        read_arg(j, path, n, err) != 0 ||
        read_opt_copy(j, path, "connector", &n->connector, err) != 0 ||
        read_kv(j, path, "options", n->options, err) != 0 ||
        read_key(j, path, "key", &n->key, err) != 0 ||
        read_key(j, path, "key2", &n->key2, err) != 0 ||
        read_side_outputs(j, path, n, err) != 0 ||
        read_array(j, path, "inputs", false, &inputs, err) != 0)
        return FL_EFORMAT;
    path_key(p, path, "inputs");
    json_array_foreach(inputs, i, e) {
        path_index(pi, p, i);
        if (read_stream_edge(n, e, pi, err) != 0)
            return FL_EFORMAT;
    }
    return 0;
}

/* A key's fields index the schema of the stream it is applied to. */
static int check_key_fields(const fl_key_spec *k, const fl_schema *input, const char *path,
                            fl_error *err) {
    if (k == NULL || input == NULL)
        return 0;
    int n = fl_schema_num_fields(input);
    for (int i = 0; i < k->n_fields; i++)
        if (k->fields[i] >= n)
            return fail(err, path, "key field %d is beyond the %d fields of the input",
                        k->fields[i], n);
    return 0;
}

static int check_stream_refs(const fl_stream_graph *g, const char *path, fl_error *err) {
    char p[PATH_LEN], pn[PATH_LEN], pe[PATH_LEN];
    path_key(p, path, "nodes");
    for (int i = 0; i < g->n_nodes; i++) {
        const fl_stream_node *n = g->nodes[i];
        path_index(pn, p, (size_t)i);
        for (int k = 0; k < n->n_inputs; k++) {
            const fl_stream_edge *e = &n->inputs[k];
            char pin[PATH_LEN];
            path_key(pin, pn, "inputs");
            path_index(pe, pin, (size_t)k);
            if (e->source_id >= g->n_nodes)
                return fail(err, pe, "source_id %d is not a node (the graph has %d)", e->source_id,
                            g->n_nodes);
            if (e->side_output != NULL &&
                fl_stream_node_side_output_schema(g->nodes[e->source_id], e->side_output) == NULL)
                return fail(err, pe, "node %d has no side output \"%s\"", e->source_id,
                            e->side_output);
            char pk[PATH_LEN];
            path_key(pk, pe, "key");
            if (check_key_fields(e->key, fl_stream_edge_schema(g, e), pk, err) != 0)
                return FL_EFORMAT;
        }
        /* A keyed operator's key applies to the rows of its input 0 (key2: 1). */
        for (int k = 0; k < n->n_inputs; k++) {
            const fl_key_spec *key = n->inputs[k].input == 0 ? n->key : n->key2;
            char pk[PATH_LEN];
            path_key(pk, pn, n->inputs[k].input == 0 ? "key" : "key2");
            if (check_key_fields(key, fl_stream_edge_schema(g, &n->inputs[k]), pk, err) != 0)
                return FL_EFORMAT;
        }
    }
    return 0;
}

fl_stream_graph *fl__stream_graph_from_jobj(json_t *j, const char *path, fl_error *err) {
    json_t *nodes, *node;
    size_t i;
    const char *job_name;
    long long timeout;
    char p[PATH_LEN], pi[PATH_LEN];
    if (!json_is_object(j)) {
        fail(err, path, "expected an object, found %s", kind_of(j));
        return NULL;
    }
    fl_stream_graph *g = fl_stream_graph_create();
    if (read_str(j, path, "job_name", true, &job_name, err) != 0)
        goto fail_graph;
    g->job_name = dup_or_null(job_name);
    if (read_int(j, path, "max_parallelism", 1, FL_GRAPH_MAX_PARALLELISM_LIMIT, &g->max_parallelism,
                 err) != 0 ||
        read_ll(j, path, "buffer_timeout_ms", -1, LLONG_MAX, &timeout, err) != 0 ||
        read_bool(j, path, "chaining_enabled", &g->chaining_enabled, err) != 0 ||
        read_kv(j, path, "params", g->params, err) != 0 ||
        read_kv(j, path, "config", g->config, err) != 0 ||
        read_array(j, path, "nodes", false, &nodes, err) != 0)
        goto fail_graph;
    g->buffer_timeout_ms = timeout;
    path_key(p, path, "nodes");
    json_array_foreach(nodes, i, node) {
        path_index(pi, p, i);
        if (read_stream_node(g, node, pi, err) != 0)
            goto fail_graph;
    }
    if (check_stream_refs(g, path, err) != 0)
        goto fail_graph;
    return g;
fail_graph:
    fl_stream_graph_destroy(g);
    return NULL;
}

/* ---- JobGraph ----------------------------------------------------------------------- */

static int read_vertex(fl_job_graph *g, int v, json_t *j, const char *path, fl_error *err) {
    fl_job_vertex *vx = &g->vertices[v];
    const fl_stream_graph *s = g->stream;
    const char *name;
    char p[PATH_LEN], pn[PATH_LEN];
    if (!json_is_object(j))
        return fail(err, path, "expected an object, found %s", kind_of(j));
    if (read_int(j, path, "id", 0, INT_MAX, &vx->id, err) != 0)
        return FL_EFORMAT;
    if (vx->id != v) {
        path_key(p, path, "id");
        return fail(err, p, "expected %d (vertices are numbered by position), found %d", v, vx->id);
    }
    if (read_str(j, path, "name", false, &name, err) != 0)
        return FL_EFORMAT;
    vx->name = fl_xstrdup(name);
    if (read_int(j, path, "parallelism", 1, FL_GRAPH_MAX_PARALLELISM_LIMIT, &vx->parallelism,
                 err) != 0 ||
        read_int(j, path, "max_parallelism", vx->parallelism, FL_GRAPH_MAX_PARALLELISM_LIMIT,
                 &vx->max_parallelism, err) != 0 ||
        read_int_array(j, path, "nodes", 0, INT_MAX, &vx->nodes, &vx->n_nodes, err) != 0 ||
        read_int_array(j, path, "inputs", 0, INT_MAX, &vx->inputs, &vx->n_inputs, err) != 0 ||
        read_int_array(j, path, "outputs", 0, INT_MAX, &vx->outputs, &vx->n_outputs, err) != 0)
        return FL_EFORMAT;
    path_key(p, path, "nodes");
    if (vx->n_nodes == 0)
        return fail(err, p, "a vertex needs at least one node");
    for (int i = 0; i < vx->n_nodes; i++) {
        int id = vx->nodes[i];
        path_index(pn, p, (size_t)i);
        if (id >= s->n_nodes)
            return fail(err, pn, "node %d does not exist (the stream graph has %d)", id,
                        s->n_nodes);
        if (g->vertex_of_node[id] >= 0)
            return fail(err, pn, "node %d is already in vertex %d", id, g->vertex_of_node[id]);
        if (s->nodes[id]->parallelism != vx->parallelism)
            return fail(err, pn, "node %d has parallelism %d but its vertex %d", id,
                        s->nodes[id]->parallelism, vx->parallelism);
        g->vertex_of_node[id] = v;
    }
    return 0;
}

static int read_job_edge(fl_job_graph *g, int i, json_t *j, const char *path, fl_error *err) {
    fl_job_edge *e = &g->edges[i];
    int max_vertex = g->n_vertices - 1, max_node = g->stream->n_nodes - 1;
    char p[PATH_LEN];
    if (!json_is_object(j))
        return fail(err, path, "expected an object, found %s", kind_of(j));
    if (read_int(j, path, "id", 0, INT_MAX, &e->id, err) != 0)
        return FL_EFORMAT;
    if (e->id != i) {
        path_key(p, path, "id");
        return fail(err, p, "expected %d (edges are numbered by position), found %d", i, e->id);
    }
    if (read_int(j, path, "source_vertex", 0, max_vertex, &e->source_vertex, err) != 0 ||
        read_int(j, path, "target_vertex", 0, max_vertex, &e->target_vertex, err) != 0 ||
        read_int(j, path, "source_node", 0, max_node, &e->source_node, err) != 0 ||
        read_int(j, path, "target_node", 0, max_node, &e->target_node, err) != 0 ||
        read_int(j, path, "target_input", 0, INT_MAX, &e->target_input, err) != 0 ||
        read_partitioner(j, path, "partitioner", &e->partitioner, err) != 0)
        return FL_EFORMAT;
    return 0;
}

/* Position of node id inside its vertex's node list, or -1. */
static int position_in_vertex(const fl_job_vertex *vx, int id) {
    for (int i = 0; i < vx->n_nodes; i++)
        if (vx->nodes[i] == id)
            return i;
    return -1;
}

/* The cross references of a job graph: which the runtime indexes with, and
 * the chaining invariants it builds operator chains from. */
static int check_job_refs(const fl_job_graph *g, const char *path, fl_error *err) {
    const fl_stream_graph *s = g->stream;
    char p[PATH_LEN], pe[PATH_LEN], pv[PATH_LEN], pl[PATH_LEN], px[PATH_LEN];
    int rc = 0;
    int *edge_base = fl_xcalloc((size_t)s->n_nodes + 1, sizeof(int));
    for (int i = 0; i < s->n_nodes; i++)
        edge_base[i + 1] = edge_base[i] + s->nodes[i]->n_inputs;
    int *covered = fl_xcalloc((size_t)edge_base[s->n_nodes] + 1, sizeof(int));
    int *in_seen = fl_xcalloc((size_t)g->n_edges + 1, sizeof(int));
    int *out_seen = fl_xcalloc((size_t)g->n_edges + 1, sizeof(int));

    for (int i = 0; i < s->n_nodes; i++) {
        if (g->vertex_of_node[i] < 0) {
            path_key(p, path, "vertices");
            rc = fail(err, p, "stream node %d is in no vertex", i);
            goto done;
        }
    }

    path_key(p, path, "edges");
    for (int i = 0; i < g->n_edges; i++) {
        const fl_job_edge *e = &g->edges[i];
        const fl_stream_node *target = s->nodes[e->target_node];
        path_index(pe, p, (size_t)i);
        if (g->vertex_of_node[e->source_node] != e->source_vertex ||
            g->vertex_of_node[e->target_node] != e->target_vertex) {
            rc = fail(err, pe, "its nodes %d and %d are not in its vertices %d and %d",
                      e->source_node, e->target_node, e->source_vertex, e->target_vertex);
            goto done;
        }
        if (g->vertices[e->target_vertex].nodes[0] != e->target_node) {
            rc = fail(err, pe, "target node %d is not the head of vertex %d", e->target_node,
                      e->target_vertex);
            goto done;
        }
        if (e->target_input >= target->n_inputs ||
            target->inputs[e->target_input].source_id != e->source_node) {
            rc = fail(err, pe, "input %d of node %d does not come from node %d", e->target_input,
                      e->target_node, e->source_node);
            goto done;
        }
        if (e->partitioner == FL_PART_FORWARD && g->vertices[e->source_vertex].parallelism !=
                                                     g->vertices[e->target_vertex].parallelism) {
            rc = fail(err, pe, "a FORWARD edge between vertices of parallelism %d and %d",
                      g->vertices[e->source_vertex].parallelism,
                      g->vertices[e->target_vertex].parallelism);
            goto done;
        }
        if (e->source_vertex >= e->target_vertex) {
            rc = fail(err, pe,
                      "goes from vertex %d to vertex %d; vertices must be in topological order",
                      e->source_vertex, e->target_vertex);
            goto done;
        }
        if (covered[edge_base[e->target_node] + e->target_input]++ > 0) {
            rc = fail(err, pe, "input %d of node %d has a second job edge", e->target_input,
                      e->target_node);
            goto done;
        }
    }

    path_key(p, path, "vertices");
    for (int v = 0; v < g->n_vertices; v++) {
        const fl_job_vertex *vx = &g->vertices[v];
        path_index(pv, p, (size_t)v);
        path_key(pl, pv, "inputs");
        for (int i = 0; i < vx->n_inputs; i++) {
            int e = vx->inputs[i];
            path_index(px, pl, (size_t)i);
            if (e >= g->n_edges || g->edges[e].target_vertex != v || in_seen[e]++ > 0) {
                rc = fail(err, px, "%d is not an edge into this vertex, or is listed twice", e);
                goto done;
            }
        }
        path_key(pl, pv, "outputs");
        for (int i = 0; i < vx->n_outputs; i++) {
            int e = vx->outputs[i];
            path_index(px, pl, (size_t)i);
            if (e >= g->n_edges || g->edges[e].source_vertex != v || out_seen[e]++ > 0) {
                rc = fail(err, px, "%d is not an edge out of this vertex, or is listed twice", e);
                goto done;
            }
        }
        /* the head reads only from other vertices; every other node has one
         * input, from an earlier node of its own chain */
        path_key(pl, pv, "nodes");
        for (int i = 0; i < vx->n_nodes; i++) {
            const fl_stream_node *n = s->nodes[vx->nodes[i]];
            path_index(px, pl, (size_t)i);
            for (int k = 0; k < n->n_inputs; k++) {
                int src = n->inputs[k].source_id;
                bool inside = g->vertex_of_node[src] == v;
                if (i == 0 && inside) {
                    rc = fail(err, px, "the head node %d reads from node %d of its own vertex",
                              n->id, src);
                    goto done;
                }
                if (i > 0 && (n->n_inputs != 1 || !inside || position_in_vertex(vx, src) >= i)) {
                    rc = fail(err, px,
                              "node %d is chained but does not have exactly one input from an "
                              "earlier node of its vertex",
                              n->id);
                    goto done;
                }
                if (!inside && covered[edge_base[n->id] + k] != 1) {
                    rc = fail(err, px, "input %d of node %d has no job edge", k, n->id);
                    goto done;
                }
            }
            if (i > 0 && n->n_inputs == 0) {
                rc = fail(err, px, "node %d is chained but has no input", n->id);
                goto done;
            }
        }
    }
    for (int i = 0; i < g->n_edges; i++) {
        if (in_seen[i] != 1 || out_seen[i] != 1) {
            path_key(p, path, "edges");
            path_index(pe, p, (size_t)i);
            rc = fail(err, pe,
                      "is not listed in the inputs of its target and the outputs of its "
                      "source");
            goto done;
        }
    }
done:
    free(edge_base);
    free(covered);
    free(in_seen);
    free(out_seen);
    return rc;
}

fl_job_graph *fl__job_graph_from_jobj(json_t *j, const char *path, fl_error *err) {
    json_t *sj, *vertices, *edges, *item;
    size_t i;
    char p[PATH_LEN], pi[PATH_LEN];
    if (!json_is_object(j)) {
        fail(err, path, "expected an object, found %s", kind_of(j));
        return NULL;
    }
    if (read_object(j, path, "stream", false, &sj, err) != 0)
        return NULL;
    path_key(p, path, "stream");
    fl_stream_graph *stream = fl__stream_graph_from_jobj(sj, p, err);
    if (stream == NULL)
        return NULL;
    fl_job_graph *g = fl_xcalloc(1, sizeof(*g));
    g->stream = stream;
    g->vertex_of_node =
        fl_xmalloc((size_t)(stream->n_nodes > 0 ? stream->n_nodes : 1) * sizeof(int));
    for (int n = 0; n < stream->n_nodes; n++)
        g->vertex_of_node[n] = -1;

    if (read_array(j, path, "vertices", false, &vertices, err) != 0 ||
        read_array(j, path, "edges", false, &edges, err) != 0)
        goto fail_graph;
    path_key(p, path, "vertices");
    if (json_array_size(vertices) > (size_t)stream->n_nodes) {
        fail(err, p, "%zu vertices for %d stream nodes", json_array_size(vertices),
             stream->n_nodes);
        goto fail_graph;
    }
    g->vertices = fl_xcalloc(json_array_size(vertices) + 1, sizeof(*g->vertices));
    g->n_vertices = (int)json_array_size(vertices);
    json_array_foreach(vertices, i, item) {
        path_index(pi, p, i);
        if (read_vertex(g, (int)i, item, pi, err) != 0)
            goto fail_graph;
    }
    path_key(p, path, "edges");
    if (json_array_size(edges) > (size_t)INT_MAX / sizeof(fl_job_edge)) {
        fail(err, p, "too many edges");
        goto fail_graph;
    }
    g->edges = fl_xcalloc(json_array_size(edges) + 1, sizeof(*g->edges));
    g->n_edges = (int)json_array_size(edges);
    json_array_foreach(edges, i, item) {
        path_index(pi, p, i);
        if (read_job_edge(g, (int)i, item, pi, err) != 0)
            goto fail_graph;
    }
    if (check_job_refs(g, path, err) != 0)
        goto fail_graph;
    return g;
fail_graph:
    fl_job_graph_destroy(g);
    return NULL;
}

/* ---- entry points ---------------------------------------------------------------------- */

json_t *fl__json_load(const char *text, const char *what, fl_error *err) {
    json_error_t jerr;
    if (text == NULL) {
        fl_error_set(err, FL_EFORMAT, "no %s text to read", what);
        return NULL;
    }
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        fl_error_set(err, FL_EFORMAT, "malformed %s: invalid JSON at line %d, column %d: %s", what,
                     jerr.line, jerr.column, jerr.text);
    return j;
}

/* Runs the reader with a private error so that the message gets one prefix
 * naming the plan, then hands the result (or the error) out. */
fl_stream_graph *fl_stream_graph_from_json(const char *json, fl_error *err) {
    fl_error e;
    fl_error_clear(&e);
    json_t *j = fl__json_load(json, "stream graph", err);
    if (j == NULL)
        return NULL;
    fl_stream_graph *g = fl__stream_graph_from_jobj(j, "", &e);
    json_decref(j);
    if (g == NULL)
        fl_error_set(err, FL_EFORMAT, "malformed stream graph: %s", e.message);
    return g;
}

fl_job_graph *fl_job_graph_from_json(const char *json, fl_error *err) {
    fl_error e;
    fl_error_clear(&e);
    json_t *j = fl__json_load(json, "job graph", err);
    if (j == NULL)
        return NULL;
    fl_job_graph *g = fl__job_graph_from_jobj(j, "", &e);
    json_decref(j);
    if (g == NULL)
        fl_error_set(err, FL_EFORMAT, "malformed job graph: %s", e.message);
    return g;
}

static int read_subtasks(fl_execution_graph *eg, json_t *j, fl_error *err) {
    const fl_job_graph *job = eg->job;
    json_t *a, *item;
    size_t i;
    char pi[PATH_LEN];
    long long total = 0;
    for (int v = 0; v < job->n_vertices; v++)
        total += job->vertices[v].parallelism;
    if (read_array(j, "", "subtasks", false, &a, err) != 0)
        return FL_EFORMAT;
    if ((long long)json_array_size(a) != total)
        return fail(err, "subtasks", "%zu subtasks, but the vertices' parallelisms add up to %lld",
                    json_array_size(a), total);
    eg->n_subtasks = (int)total;
    eg->subtasks = fl_xcalloc((size_t)total + 1, sizeof(*eg->subtasks));
    eg->first_subtask = fl_xcalloc((size_t)job->n_vertices + 1, sizeof(int));
    int v = 0, sub = 0;
    json_array_foreach(a, i, item) {
        fl_execution_vertex *ev = &eg->subtasks[i];
        path_index(pi, "subtasks", i);
        while (sub == job->vertices[v].parallelism) {
            v++;
            sub = 0;
        }
        if (sub == 0)
            eg->first_subtask[v] = (int)i;
        if (!json_is_object(item))
            return fail(err, pi, "expected an object, found %s", kind_of(item));
        if (read_int(item, pi, "vertex", 0, INT_MAX, &ev->vertex, err) != 0 ||
            read_int(item, pi, "subtask", 0, INT_MAX, &ev->subtask, err) != 0 ||
            read_int(item, pi, "slot", 0, INT_MAX, &ev->slot, err) != 0)
            return FL_EFORMAT;
        if (ev->vertex != v || ev->subtask != sub)
            return fail(err, pi,
                        "expected subtask %d of vertex %d, found subtask %d of vertex %d "
                        "(subtasks are ordered by vertex, then index)",
                        sub, v, ev->subtask, ev->vertex);
        if (ev->slot >= eg->n_slots)
            return fail(err, pi, "slot %d is beyond the job's %d slots", ev->slot, eg->n_slots);
        sub++;
    }
    return 0;
}

fl_execution_graph *fl_execution_graph_from_json(const char *json, fl_error *err) {
    fl_error e;
    json_t *jj;
    fl_error_clear(&e);
    json_t *j = fl__json_load(json, "execution graph", err);
    if (j == NULL)
        return NULL;
    fl_execution_graph *eg = NULL;
    if (!json_is_object(j)) {
        fail(&e, "", "expected an object, found %s", kind_of(j));
        goto done;
    }
    if (read_object(j, "", "job", false, &jj, &e) != 0)
        goto done;
    fl_job_graph *job = fl__job_graph_from_jobj(jj, "job", &e);
    if (job == NULL)
        goto done;
    eg = fl_xcalloc(1, sizeof(*eg));
    eg->job = job;
    if (read_int(j, "", "attempt", 0, INT_MAX, &eg->attempt, &e) != 0 ||
        read_int(j, "", "n_slots", 0, INT_MAX, &eg->n_slots, &e) != 0 ||
        read_subtasks(eg, j, &e) != 0) {
        fl_execution_graph_destroy(eg);
        eg = NULL;
    }
done:
    json_decref(j);
    if (eg == NULL)
        fl_error_set(err, FL_EFORMAT, "malformed execution graph: %s", e.message);
    return eg;
}
