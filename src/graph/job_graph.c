/*
 * job_graph.c - StreamGraph -> JobGraph: operator chaining.
 *
 * Nodes joined by a forward edge of equal parallelism run in one task as
 * direct calls (Flink's operator chaining). The steps: check the nodes, put
 * them in a topological order (lowest ready id first, so the order is stable),
 * resolve every edge's partitioner, decide per node whether it chains to its
 * one input, then cut the graph into vertices (one per chain head) and the
 * job edges between them. Because every head comes after the heads of all its
 * producers in that order, numbering vertices by their heads keeps them
 * topological too.
 */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_int.h"
#include "mem.h"

int fl__node_max_parallelism(const fl_stream_graph *g, const fl_stream_node *n) {
    return n->max_parallelism > 0 ? n->max_parallelism : g->max_parallelism;
}

/* ---- checks ------------------------------------------------------------------------ */

static int check_nodes(const fl_stream_graph *g, fl_error *err) {
    if (g->n_nodes <= 0)
        return fl_error_set(err, FL_EINVAL,
                            "the job has no operators; add a source and a sink before executing");
    for (int i = 0; i < g->n_nodes; i++) {
        const fl_stream_node *n = g->nodes[i];
        if (n == NULL || n->id != i)
            return fl_error_set(err, FL_EINVAL, "stream node %d is missing or has the id %d", i,
                                n ? n->id : -1);
        const char *name = fl__node_display_name(n);
        if (n->op == NULL || n->op[0] == '\0')
            return fl_error_set(err, FL_EINVAL, "operator \"%s\" has no operator kind", name);
        if (n->parallelism < 1)
            return fl_error_set(err, FL_EINVAL,
                                "operator \"%s\" has parallelism %d; it must be at least 1", name,
                                n->parallelism);
        int max_p = fl__node_max_parallelism(g, n);
        if (max_p > FL_GRAPH_MAX_PARALLELISM_LIMIT)
            return fl_error_set(err, FL_EINVAL,
                                "operator \"%s\" has max parallelism %d; the limit is %d", name,
                                max_p, FL_GRAPH_MAX_PARALLELISM_LIMIT);
        if (max_p < n->parallelism)
            return fl_error_set(err, FL_EINVAL,
                                "operator \"%s\" has parallelism %d above its max parallelism %d; "
                                "lower the parallelism or raise pipeline.max-parallelism",
                                name, n->parallelism, max_p);
        if (n->n_inputs == 0 && strcmp(n->op, "source") != 0)
            return fl_error_set(err, FL_EINVAL,
                                "operator \"%s\" has no input; only a source can start a pipeline",
                                name);
        for (int k = 0; k < n->n_inputs; k++) {
            int src = n->inputs[k].source_id;
            if (src < 0 || src >= g->n_nodes)
                return fl_error_set(
                    err, FL_EINVAL,
                    "operator \"%s\" reads from stream node %d, which does not exist", name, src);
        }
    }
    return 0;
}

/* ---- topological order ------------------------------------------------------------ */

typedef struct id_heap {
    int *ids;
    int n;
} id_heap;

static void heap_push(id_heap *h, int id) {
    int i = h->n++;
    h->ids[i] = id;
    while (i > 0 && h->ids[(i - 1) / 2] > h->ids[i]) {
        int parent = (i - 1) / 2;
        int t = h->ids[parent];
        h->ids[parent] = h->ids[i];
        h->ids[i] = t;
        i = parent;
    }
}

static int heap_pop(id_heap *h) {
    int top = h->ids[0];
    h->ids[0] = h->ids[--h->n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->ids[l] < h->ids[m])
            m = l;
        if (r < h->n && h->ids[r] < h->ids[m])
            m = r;
        if (m == i)
            break;
        int t = h->ids[m];
        h->ids[m] = h->ids[i];
        h->ids[i] = t;
        i = m;
    }
    return top;
}

/* Fills order[n_nodes] (Kahn's algorithm); FL_EINVAL naming a node on a cycle. */
static int topological_order(const fl_stream_graph *g, int *order, fl_error *err) {
    int n = g->n_nodes, n_edges = 0;
    for (int i = 0; i < n; i++)
        n_edges += g->nodes[i]->n_inputs;

    int *pending = fl_xcalloc((size_t)n, sizeof(int)); /* inputs not yet ordered */
    int *out_start = fl_xcalloc((size_t)n + 1, sizeof(int));
    int *out_target = fl_xmalloc((size_t)(n_edges > 0 ? n_edges : 1) * sizeof(int));
    int *fill = fl_xcalloc((size_t)n, sizeof(int));
    id_heap ready = {fl_xmalloc((size_t)n * sizeof(int)), 0};
    int rc = 0, n_ordered = 0;

    for (int i = 0; i < n; i++) {
        const fl_stream_node *node = g->nodes[i];
        pending[i] = node->n_inputs;
        for (int k = 0; k < node->n_inputs; k++)
            out_start[node->inputs[k].source_id + 1]++;
    }
    for (int i = 0; i < n; i++)
        out_start[i + 1] += out_start[i];
    for (int i = 0; i < n; i++) {
        const fl_stream_node *node = g->nodes[i];
        for (int k = 0; k < node->n_inputs; k++) {
            int src = node->inputs[k].source_id;
            out_target[out_start[src] + fill[src]++] = i;
        }
    }

    for (int i = 0; i < n; i++)
        if (pending[i] == 0)
            heap_push(&ready, i);
    while (ready.n > 0) {
        int id = heap_pop(&ready);
        order[n_ordered++] = id;
        for (int k = out_start[id]; k < out_start[id + 1]; k++)
            if (--pending[out_target[k]] == 0)
                heap_push(&ready, out_target[k]);
    }
    if (n_ordered < n) {
        int stuck = 0;
        while (pending[stuck] == 0)
            stuck++;
        rc = fl_error_set(err, FL_EINVAL,
                          "the job graph has a cycle through operator \"%s\"; a dataflow must "
                          "not feed an operator's output back into its own input",
                          fl__node_display_name(g->nodes[stuck]));
    }
    free(pending);
    free(out_start);
    free(out_target);
    free(fill);
    free(ready.ids);
    return rc;
}

/* ---- partitioning and chaining ---------------------------------------------------- */

/* The partitioner an edge runs with: a FORWARD the user did not ask for
 * becomes REBALANCE across different parallelisms (as in Flink); one the
 * user did ask for cannot connect them. */
static int resolve_partitioner(const fl_stream_graph *g, const fl_stream_node *target,
                               const fl_stream_edge *e, fl_partitioner *out, fl_error *err) {
    const fl_stream_node *source = g->nodes[e->source_id];
    *out = e->partitioner;
    if (e->partitioner != FL_PART_FORWARD || source->parallelism == target->parallelism)
        return 0;
    if (!e->partitioner_explicit) {
        *out = FL_PART_REBALANCE;
        return 0;
    }
    return fl_error_set(err, FL_EINVAL,
                        "forward partitioning between \"%s\" (parallelism %d) and \"%s\" "
                        "(parallelism %d) needs equal parallelism; use rebalance or rescale",
                        fl__node_display_name(source), source->parallelism,
                        fl__node_display_name(target), target->parallelism);
}

static bool chains_to_input(const fl_stream_graph *g, const fl_stream_node *n,
                            fl_partitioner resolved) {
    if (!g->chaining_enabled || n->n_inputs != 1)
        return false;
    const fl_stream_node *source = g->nodes[n->inputs[0].source_id];
    return resolved == FL_PART_FORWARD && source->parallelism == n->parallelism &&
           source->chaining != FL_CHAIN_NEVER && n->chaining == FL_CHAIN_ALWAYS;
}

/* ---- building ---------------------------------------------------------------------- */

static char *chain_name(const fl_stream_graph *g, const fl_job_vertex *v) {
    size_t len = 1;
    for (int i = 0; i < v->n_nodes; i++)
        len += strlen(fl__node_display_name(g->nodes[v->nodes[i]])) + 4;
    char *name = fl_xmalloc(len), *p = name;
    for (int i = 0; i < v->n_nodes; i++) {
        const char *part = fl__node_display_name(g->nodes[v->nodes[i]]);
        if (i > 0) {
            memcpy(p, " -> ", 4);
            p += 4;
        }
        size_t n = strlen(part);
        memcpy(p, part, n);
        p += n;
    }
    *p = '\0';
    return name;
}

fl_job_graph *fl_job_graph_create(fl_stream_graph *stream, fl_error *err) {
    if (stream == NULL) {
        fl_error_set(err, FL_EINVAL, "no stream graph to build a job graph from");
        return NULL;
    }
    fl_job_graph *jg = fl_xcalloc(1, sizeof(*jg));
    jg->stream = stream;
    int n = stream->n_nodes;
    int *order = NULL, *edge_base = NULL, *vertex_fill = NULL;
    fl_partitioner *resolved = NULL;
    bool *chained = NULL;
    bool ok = false;

    if (check_nodes(stream, err) != 0)
        goto done;
    order = fl_xmalloc((size_t)n * sizeof(int));
    if (topological_order(stream, order, err) != 0)
        goto done;

    /* resolved[edge_base[node] + k] is the partitioner of the node's input k */
    edge_base = fl_xcalloc((size_t)n + 1, sizeof(int));
    for (int i = 0; i < n; i++)
        edge_base[i + 1] = edge_base[i] + stream->nodes[i]->n_inputs;
    resolved = fl_xmalloc((size_t)(edge_base[n] > 0 ? edge_base[n] : 1) * sizeof(*resolved));
    chained = fl_xcalloc((size_t)n, sizeof(bool));
    for (int t = 0; t < n; t++) {
        const fl_stream_node *node = stream->nodes[order[t]];
        for (int k = 0; k < node->n_inputs; k++)
            if (resolve_partitioner(stream, node, &node->inputs[k],
                                    &resolved[edge_base[node->id] + k], err) != 0)
                goto done;
        if (node->n_inputs == 1)
            chained[node->id] = chains_to_input(stream, node, resolved[edge_base[node->id]]);
    }

    /* one vertex per chain head, numbered in topological order */
    jg->vertex_of_node = fl_xmalloc((size_t)n * sizeof(int));
    for (int t = 0; t < n; t++) {
        const fl_stream_node *node = stream->nodes[order[t]];
        if (chained[node->id])
            jg->vertex_of_node[node->id] = jg->vertex_of_node[node->inputs[0].source_id];
        else
            jg->vertex_of_node[node->id] = jg->n_vertices++;
    }
    jg->vertices = fl_xcalloc((size_t)jg->n_vertices, sizeof(*jg->vertices));
    for (int i = 0; i < n; i++)
        jg->vertices[jg->vertex_of_node[i]].n_nodes++;
    for (int v = 0; v < jg->n_vertices; v++) {
        jg->vertices[v].id = v;
        jg->vertices[v].nodes = fl_xmalloc((size_t)jg->vertices[v].n_nodes * sizeof(int));
    }
    vertex_fill = fl_xcalloc((size_t)jg->n_vertices, sizeof(int));
    for (int t = 0; t < n; t++) {
        int v = jg->vertex_of_node[order[t]];
        jg->vertices[v].nodes[vertex_fill[v]++] = order[t];
    }
    for (int v = 0; v < jg->n_vertices; v++) {
        fl_job_vertex *vx = &jg->vertices[v];
        const fl_stream_node *head = stream->nodes[vx->nodes[0]];
        vx->parallelism = head->parallelism;
        vx->max_parallelism = fl__node_max_parallelism(stream, head);
        vx->name = chain_name(stream, vx);
    }

    /* every edge that is not chained becomes a job edge, ordered by target */
    int n_job_edges = 0;
    for (int i = 0; i < n; i++)
        if (!chained[i])
            n_job_edges += stream->nodes[i]->n_inputs;
    jg->edges = fl_xcalloc((size_t)(n_job_edges > 0 ? n_job_edges : 1), sizeof(*jg->edges));
    for (int v = 0; v < jg->n_vertices; v++) {
        fl_job_vertex *vx = &jg->vertices[v];
        for (int i = 0; i < vx->n_nodes; i++) {
            const fl_stream_node *node = stream->nodes[vx->nodes[i]];
            if (chained[node->id])
                continue;
            for (int k = 0; k < node->n_inputs; k++) {
                fl_job_edge *e = &jg->edges[jg->n_edges];
                e->id = jg->n_edges++;
                e->source_node = node->inputs[k].source_id;
                e->target_node = node->id;
                e->source_vertex = jg->vertex_of_node[e->source_node];
                e->target_vertex = v;
                e->target_input = k;
                e->partitioner = resolved[edge_base[node->id] + k];
            }
        }
    }
    for (int i = 0; i < jg->n_edges; i++) {
        jg->vertices[jg->edges[i].source_vertex].n_outputs++;
        jg->vertices[jg->edges[i].target_vertex].n_inputs++;
    }
    for (int v = 0; v < jg->n_vertices; v++) {
        fl_job_vertex *vx = &jg->vertices[v];
        vx->inputs = fl_xmalloc((size_t)(vx->n_inputs > 0 ? vx->n_inputs : 1) * sizeof(int));
        vx->outputs = fl_xmalloc((size_t)(vx->n_outputs > 0 ? vx->n_outputs : 1) * sizeof(int));
        vx->n_inputs = vx->n_outputs = 0;
    }
    for (int i = 0; i < jg->n_edges; i++) {
        fl_job_vertex *src = &jg->vertices[jg->edges[i].source_vertex];
        fl_job_vertex *dst = &jg->vertices[jg->edges[i].target_vertex];
        src->outputs[src->n_outputs++] = i;
        dst->inputs[dst->n_inputs++] = i;
    }

    ok = true;

done:
    free(order);
    free(edge_base);
    free(resolved);
    free(chained);
    free(vertex_fill);
    if (!ok) {
        fl_job_graph_destroy(jg);
        jg = NULL;
    }
    return jg;
}

void fl_job_graph_destroy(fl_job_graph *g) {
    if (g == NULL)
        return;
    for (int v = 0; v < g->n_vertices; v++) {
        free(g->vertices[v].name);
        free(g->vertices[v].nodes);
        free(g->vertices[v].inputs);
        free(g->vertices[v].outputs);
    }
    free(g->vertices);
    free(g->edges);
    free(g->vertex_of_node);
    fl_stream_graph_destroy(g->stream);
    free(g);
}
