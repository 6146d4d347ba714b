/*
 * describe.c - the job graph as text for people: what `flinc info` prints
 * and what the JobManager logs on submission. One block per task (chained
 * operators, parallelism), then one line per outgoing edge with its
 * partitioning and key, e.g.
 *
 *   Job "WordCount": 3 tasks, max parallelism 128
 *   Task 1: Source: Text File -> Flat Map (parallelism 2)
 *     operators: Source: Text File [source, connector filesystem], Flat Map [flat_map, fn tokenize]
 *     -> Task 2 "Sum" via HASH (key: word)
 *
 * Tasks are numbered from 1 in topological order (task n is vertex n - 1).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_int.h"
#include "mem.h"

typedef struct text {
    char *buf;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        t->buf = fl_xrealloc(t->buf, cap);
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* "word" or "word, count": the key fields by name (key schema first, else
 * the input schema, else by index), or "selector fn". */
static void put_key(text *t, const fl_key_spec *k, const fl_schema *input) {
    if (k->n_fields <= 0) {
        put(t, "selector %s", k->selector ? k->selector : "(unnamed)");
        return;
    }
    bool by_key_schema = k->key_schema && fl_schema_num_fields(k->key_schema) == k->n_fields;
    for (int i = 0; i < k->n_fields; i++) {
        const char *name = NULL;
        if (by_key_schema)
            name = fl_schema_field_name(k->key_schema, i);
        else if (input && k->fields[i] >= 0 && k->fields[i] < fl_schema_num_fields(input))
            name = fl_schema_field_name(input, k->fields[i]);
        if (name)
            put(t, "%s%s", i > 0 ? ", " : "", name);
        else
            put(t, "%s#%d", i > 0 ? ", " : "", k->fields[i]);
    }
}

static const fl_schema *input_schema(const fl_stream_graph *g, const fl_stream_node *n) {
    return n->n_inputs > 0 ? g->nodes[n->inputs[0].source_id]->schema : NULL;
}

static void put_operator(text *t, const fl_stream_graph *g, const fl_stream_node *n) {
    put(t, "%s [%s", fl__node_display_name(n), n->op ? n->op : "?");
    if (n->uid)
        put(t, ", uid %s", n->uid);
    if (n->connector)
        put(t, ", connector %s", n->connector);
    if (n->fn)
        put(t, ", fn %s", n->fn);
    if (n->key) {
        put(t, ", key: ");
        put_key(t, n->key, input_schema(g, n));
    }
    if (n->chaining == FL_CHAIN_NEVER)
        put(t, ", chaining disabled");
    else if (n->chaining == FL_CHAIN_HEAD)
        put(t, ", starts a new chain");
    put(t, "]");
}

/* A chain where each node reads from the one before it: its output edges
 * all leave from the last node, so they need not say where from. */
static bool is_linear(const fl_stream_graph *s, const fl_job_vertex *vx) {
    for (int i = 1; i < vx->n_nodes; i++)
        if (s->nodes[vx->nodes[i]]->inputs[0].source_id != vx->nodes[i - 1])
            return false;
    return true;
}

static void put_edge(text *t, const fl_job_graph *g, const fl_job_edge *e) {
    const fl_stream_graph *s = g->stream;
    const fl_stream_node *target = s->nodes[e->target_node];
    const fl_stream_edge *se = &target->inputs[e->target_input];
    const fl_key_spec *key = se->key;
    if (key == NULL && (e->partitioner == FL_PART_HASH || e->partitioner == FL_PART_CUSTOM))
        key = target->key;
    put(t, "  -> Task %d \"%s\" via %s", e->target_vertex + 1, g->vertices[e->target_vertex].name,
        fl_partitioner_name(e->partitioner));
    bool custom = e->partitioner == FL_PART_CUSTOM && se->partition_fn != NULL;
    if (custom || key != NULL) {
        put(t, " (");
        if (custom)
            put(t, "fn %s%s", se->partition_fn, key ? ", " : "");
        if (key) {
            put(t, "key: ");
            put_key(t, key, fl_stream_edge_schema(s, se));
        }
        put(t, ")");
    }
    if (se->side_output != NULL)
        put(t, " [side output \"%s\"]", se->side_output);
    if (se->input == 1)
        put(t, " [second input]");
    const fl_job_vertex *from = &g->vertices[e->source_vertex];
    if (!is_linear(s, from) || e->source_node != from->nodes[from->n_nodes - 1])
        put(t, " from %s", fl__node_display_name(s->nodes[e->source_node]));
    put(t, "\n");
}

char *fl_job_graph_describe(const fl_job_graph *g) {
    text t = {0};
    const fl_stream_graph *s = g->stream;
    if (s->job_name)
        put(&t, "Job \"%s\"", s->job_name);
    else
        put(&t, "Job (unnamed)");
    put(&t, ": %d task%s, max parallelism %d", g->n_vertices, g->n_vertices == 1 ? "" : "s",
        s->max_parallelism);
    if (!s->chaining_enabled)
        put(&t, ", operator chaining disabled");
    put(&t, "\n");
    for (int v = 0; v < g->n_vertices; v++) {
        const fl_job_vertex *vx = &g->vertices[v];
        put(&t, "Task %d: %s (parallelism %d", v + 1, vx->name, vx->parallelism);
        if (vx->max_parallelism != s->max_parallelism)
            put(&t, ", max parallelism %d", vx->max_parallelism);
        put(&t, ")\n  operators: ");
        for (int i = 0; i < vx->n_nodes; i++) {
            if (i > 0)
                put(&t, ", ");
            put_operator(&t, s, s->nodes[vx->nodes[i]]);
        }
        put(&t, "\n");
        for (int i = 0; i < vx->n_outputs; i++)
            put_edge(&t, g, &g->edges[vx->outputs[i]]);
    }
    if (t.buf == NULL)
        return fl_xstrdup("");
    return t.buf;
}
