/*
 * stream_graph.c - the StreamGraph the DataStream API builds: one node per
 * transformation, each with its input edges, plus the key specifications
 * that keyed operators and hash edges carry. Building it is plain appending;
 * every check happens later, when fl_job_graph_create chains it.
 */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_int.h"
#include "mem.h"

/* ---- keys ------------------------------------------------------------------------ */

fl_key_spec *fl_key_spec_clone(const fl_key_spec *k) {
    if (k == NULL)
        return NULL;
    fl_key_spec *c = fl_xcalloc(1, sizeof(*c));
    if (k->n_fields > 0 && k->fields != NULL) {
        c->n_fields = k->n_fields;
        c->fields = fl_xmalloc((size_t)k->n_fields * sizeof(int));
        memcpy(c->fields, k->fields, (size_t)k->n_fields * sizeof(int));
    }
    c->selector = k->selector ? fl_xstrdup(k->selector) : NULL;
    c->key_schema = k->key_schema ? fl_schema_ref(k->key_schema) : NULL;
    return c;
}

void fl_key_spec_destroy(fl_key_spec *k) {
    if (k == NULL)
        return;
    free(k->fields);
    free(k->selector);
    fl_schema_unref(k->key_schema);
    free(k);
}

/* ---- StreamGraph -------------------------------------------------------------------- */

fl_stream_graph *fl_stream_graph_create(void) {
    fl_stream_graph *g = fl_xcalloc(1, sizeof(*g));
    g->max_parallelism = FL_GRAPH_DEFAULT_MAX_PARALLELISM;
    g->buffer_timeout_ms = FL_GRAPH_DEFAULT_BUFFER_TIMEOUT_MS;
    g->chaining_enabled = true;
    g->params = fl_kv_create();
    g->config = fl_kv_create();
    return g;
}

static void node_destroy(fl_stream_node *n) {
    if (n == NULL)
        return;
    free(n->op);
    free(n->name);
    free(n->uid);
    fl_schema_unref(n->schema);
    free(n->fn);
    free(n->open_fn);
    free(n->close_fn);
    free(n->arg);
    free(n->connector);
    fl_kv_destroy(n->options);
    fl_key_spec_destroy(n->key);
    fl_key_spec_destroy(n->key2);
    for (int i = 0; i < n->n_side_outputs; i++) {
        free(n->side_outputs[i].tag);
        fl_schema_unref(n->side_outputs[i].schema);
    }
    free(n->side_outputs);
    for (int i = 0; i < n->n_inputs; i++) {
        fl_key_spec_destroy(n->inputs[i].key);
        free(n->inputs[i].partition_fn);
        free(n->inputs[i].side_output);
    }
    free(n->inputs);
    free(n);
}

void fl_stream_graph_destroy(fl_stream_graph *g) {
    if (g == NULL)
        return;
    for (int i = 0; i < g->n_nodes; i++)
        node_destroy(g->nodes[i]);
    free(g->nodes);
    free(g->job_name);
    fl_kv_destroy(g->params);
    fl_kv_destroy(g->config);
    free(g);
}

fl_stream_node *fl_stream_graph_add_node(fl_stream_graph *g, const char *op, const char *name) {
    g->nodes = fl_xrealloc(g->nodes, (size_t)(g->n_nodes + 1) * sizeof(*g->nodes));
    fl_stream_node *n = fl_xcalloc(1, sizeof(*n));
    n->id = g->n_nodes;
    n->op = op ? fl_xstrdup(op) : NULL;
    n->name = name ? fl_xstrdup(name) : NULL;
    n->chaining = FL_CHAIN_ALWAYS;
    n->options = fl_kv_create();
    g->nodes[g->n_nodes++] = n;
    return n;
}

fl_stream_edge *fl_stream_node_add_input(fl_stream_node *n, int source_id, fl_partitioner p,
                                         bool explicit_p) {
    n->inputs = fl_xrealloc(n->inputs, (size_t)(n->n_inputs + 1) * sizeof(*n->inputs));
    fl_stream_edge *e = &n->inputs[n->n_inputs++];
    memset(e, 0, sizeof(*e));
    e->source_id = source_id;
    e->partitioner = p;
    e->partitioner_explicit = explicit_p;
    return e;
}

int fl_stream_node_add_side_output(fl_stream_node *n, const char *tag, const fl_schema *schema) {
    for (int i = 0; i < n->n_side_outputs; i++)
        if (strcmp(n->side_outputs[i].tag, tag) == 0)
            return i;
    n->side_outputs =
        fl_xrealloc(n->side_outputs, (size_t)(n->n_side_outputs + 1) * sizeof(*n->side_outputs));
    fl_side_output *so = &n->side_outputs[n->n_side_outputs];
    so->tag = fl_xstrdup(tag);
    so->schema = fl_schema_ref((fl_schema *)schema);
    return n->n_side_outputs++;
}

const fl_schema *fl_stream_node_side_output_schema(const fl_stream_node *n, const char *tag) {
    for (int i = 0; i < n->n_side_outputs; i++)
        if (strcmp(n->side_outputs[i].tag, tag) == 0)
            return n->side_outputs[i].schema;
    return NULL;
}

char *fl_stream_node_state_uid(const fl_stream_node *n) {
    return n->uid ? fl_xstrdup(n->uid) : fl_xasprintf("node-%d", n->id);
}

const fl_schema *fl_stream_edge_schema(const fl_stream_graph *g, const fl_stream_edge *e) {
    const fl_stream_node *src = g->nodes[e->source_id];
    return e->side_output ? fl_stream_node_side_output_schema(src, e->side_output) : src->schema;
}

static bool reads_from(const fl_stream_node *n, int id) {
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i].source_id == id)
            return true;
    return false;
}

int fl_stream_graph_consumers(const fl_stream_graph *g, int id, int *out, int max) {
    int found = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!reads_from(g->nodes[i], id))
            continue;
        if (found < max)
            out[found] = i;
        found++;
    }
    return found;
}

const char *fl__node_display_name(const fl_stream_node *n) {
    if (n->name != NULL)
        return n->name;
    if (n->op != NULL)
        return n->op;
    return "(unnamed)";
}
