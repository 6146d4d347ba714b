/*
 * graph_json_write.c - the three plans as JSON, for shipping a job from the
 * client to the JobManager and from there to the TaskManagers.
 *
 * Every object is built field by field in a fixed order and jansson keeps
 * insertion order, so the same plan always gives the same bytes and a plan
 * read back by graph_json_read.c prints identically. Optional values are
 * written as null rather than left out; maps (options, parameters,
 * configuration) keep their insertion order; schemas are arrays of
 * {"name", "type"}; argument bytes are base64. The reader documents which
 * fields are required.
 */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_int.h"
#include "mem.h"

/* jansson refuses strings that are not UTF-8; such bytes (from a user's
 * display name, say) become '?' so that the plan can still be shipped. */
static json_t *jstr(const char *s) {
    if (s == NULL)
        return json_null();
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    char *copy = fl_xstrdup(s);
    for (unsigned char *p = (unsigned char *)copy; *p; p++)
        if (*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *kv_to_json(const fl_kv *kv) {
    json_t *o = json_object();
    size_t n = kv ? fl_kv_count(kv) : 0;
    for (size_t i = 0; i < n; i++) {
        json_t *key = jstr(fl_kv_key(kv, i));
        json_object_set_new(o, json_string_value(key), jstr(fl_kv_value(kv, i)));
        json_decref(key);
    }
    return o;
}

static json_t *schema_to_json(const fl_schema *s) {
    if (s == NULL)
        return json_null();
    json_t *a = json_array();
    int n = fl_schema_num_fields(s);
    for (int i = 0; i < n; i++) {
        const char *type = fl_type_name(fl_schema_field_type(s, i));
        json_t *f = json_object();
        json_object_set_new(f, "name", jstr(fl_schema_field_name(s, i)));
        json_object_set_new(f, "type", jstr(type ? type : "UNKNOWN"));
        json_array_append_new(a, f);
    }
    return a;
}

static json_t *int_array(const int *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *key_to_json(const fl_key_spec *k) {
    if (k == NULL)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "fields", int_array(k->fields, k->n_fields > 0 ? k->n_fields : 0));
    json_object_set_new(o, "selector", jstr(k->selector));
    json_object_set_new(o, "key_schema", schema_to_json(k->key_schema));
    return o;
}

static json_t *edge_to_json(const fl_stream_edge *e) {
    json_t *o = json_object();
    json_object_set_new(o, "source_id", json_integer(e->source_id));
    json_object_set_new(o, "partitioner", json_string(fl_partitioner_name(e->partitioner)));
    json_object_set_new(o, "partitioner_explicit", json_boolean(e->partitioner_explicit));
    json_object_set_new(o, "key", key_to_json(e->key));
    json_object_set_new(o, "partition_fn", jstr(e->partition_fn));
    json_object_set_new(o, "side_output", jstr(e->side_output));
    json_object_set_new(o, "input", json_integer(e->input));
    return o;
}

static const char *chaining_name(fl_chaining c) {
    switch (c) {
    case FL_CHAIN_HEAD:
        return "HEAD";
    case FL_CHAIN_NEVER:
        return "NEVER";
    default:
        return "ALWAYS";
    }
}

static json_t *node_to_json(const fl_stream_node *n) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(n->id));
    json_object_set_new(o, "op", jstr(n->op));
    json_object_set_new(o, "name", jstr(n->name));
    json_object_set_new(o, "uid", jstr(n->uid));
    json_object_set_new(o, "parallelism", json_integer(n->parallelism));
    json_object_set_new(o, "max_parallelism", json_integer(n->max_parallelism));
    json_object_set_new(o, "chaining", json_string(chaining_name(n->chaining)));
    json_object_set_new(o, "schema", schema_to_json(n->schema));
    json_object_set_new(o, "fn", jstr(n->fn));
    json_object_set_new(o, "open_fn", jstr(n->open_fn));
    json_object_set_new(o, "close_fn", jstr(n->close_fn));
    if (n->arg != NULL) {
        char *b64 = fl_base64_encode(n->arg, n->arg_len);
        json_object_set_new(o, "arg", json_string(b64));
        free(b64);
    } else {
        json_object_set_new(o, "arg", json_null());
    }
    json_object_set_new(o, "connector", jstr(n->connector));
    json_object_set_new(o, "options", kv_to_json(n->options));
    json_object_set_new(o, "key", key_to_json(n->key));
    json_object_set_new(o, "key2", key_to_json(n->key2));
    json_t *sides = json_array();
    for (int i = 0; i < n->n_side_outputs; i++) {
        json_t *so = json_object();
        json_object_set_new(so, "tag", jstr(n->side_outputs[i].tag));
        json_object_set_new(so, "schema", schema_to_json(n->side_outputs[i].schema));
        json_array_append_new(sides, so);
    }
    json_object_set_new(o, "side_outputs", sides);
    json_t *inputs = json_array();
    for (int i = 0; i < n->n_inputs; i++)
        json_array_append_new(inputs, edge_to_json(&n->inputs[i]));
    json_object_set_new(o, "inputs", inputs);
    return o;
}

json_t *fl__stream_graph_to_jobj(const fl_stream_graph *g) {
    json_t *o = json_object();
    json_object_set_new(o, "job_name", jstr(g->job_name));
    json_object_set_new(o, "max_parallelism", json_integer(g->max_parallelism));
    json_object_set_new(o, "buffer_timeout_ms", json_integer(g->buffer_timeout_ms));
    json_object_set_new(o, "chaining_enabled", json_boolean(g->chaining_enabled));
    json_object_set_new(o, "params", kv_to_json(g->params));
    json_object_set_new(o, "config", kv_to_json(g->config));
    json_t *nodes = json_array();
    for (int i = 0; i < g->n_nodes; i++)
        json_array_append_new(nodes, node_to_json(g->nodes[i]));
    json_object_set_new(o, "nodes", nodes);
    return o;
}

static json_t *vertex_to_json(const fl_job_vertex *v) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(v->id));
    json_object_set_new(o, "name", jstr(v->name));
    json_object_set_new(o, "parallelism", json_integer(v->parallelism));
    json_object_set_new(o, "max_parallelism", json_integer(v->max_parallelism));
    json_object_set_new(o, "nodes", int_array(v->nodes, v->n_nodes));
    json_object_set_new(o, "inputs", int_array(v->inputs, v->n_inputs));
    json_object_set_new(o, "outputs", int_array(v->outputs, v->n_outputs));
    return o;
}

static json_t *job_edge_to_json(const fl_job_edge *e) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(e->id));
    json_object_set_new(o, "source_vertex", json_integer(e->source_vertex));
    json_object_set_new(o, "target_vertex", json_integer(e->target_vertex));
    json_object_set_new(o, "source_node", json_integer(e->source_node));
    json_object_set_new(o, "target_node", json_integer(e->target_node));
    json_object_set_new(o, "target_input", json_integer(e->target_input));
    json_object_set_new(o, "partitioner", json_string(fl_partitioner_name(e->partitioner)));
    return o;
}

json_t *fl__job_graph_to_jobj(const fl_job_graph *g) {
    json_t *o = json_object();
    json_object_set_new(o, "stream", fl__stream_graph_to_jobj(g->stream));
    json_t *vertices = json_array();
    for (int v = 0; v < g->n_vertices; v++)
        json_array_append_new(vertices, vertex_to_json(&g->vertices[v]));
    json_object_set_new(o, "vertices", vertices);
    json_t *edges = json_array();
    for (int i = 0; i < g->n_edges; i++)
        json_array_append_new(edges, job_edge_to_json(&g->edges[i]));
    json_object_set_new(o, "edges", edges);
    return o;
}

char *fl__json_dump(json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (text == NULL)
        abort(); /* only when jansson is out of memory */
    return text;
}

char *fl_stream_graph_to_json(const fl_stream_graph *g) {
    return fl__json_dump(fl__stream_graph_to_jobj(g));
}

char *fl_job_graph_to_json(const fl_job_graph *g) {
    return fl__json_dump(fl__job_graph_to_jobj(g));
}

char *fl_execution_graph_to_json(const fl_execution_graph *g) {
    json_t *o = json_object();
    json_object_set_new(o, "job", fl__job_graph_to_jobj(g->job));
    json_object_set_new(o, "attempt", json_integer(g->attempt));
    json_object_set_new(o, "n_slots", json_integer(g->n_slots));
    json_t *subtasks = json_array();
    for (int i = 0; i < g->n_subtasks; i++) {
        const fl_execution_vertex *ev = &g->subtasks[i];
        json_t *s = json_object();
        json_object_set_new(s, "vertex", json_integer(ev->vertex));
        json_object_set_new(s, "subtask", json_integer(ev->subtask));
        json_object_set_new(s, "slot", json_integer(ev->slot));
        json_array_append_new(subtasks, s);
    }
    json_object_set_new(o, "subtasks", subtasks);
    return fl__json_dump(o);
}
