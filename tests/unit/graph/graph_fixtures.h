/*
 * graph_fixtures.h - small builders shared by the graph unit tests: a node
 * with a name and a parallelism, an input edge, a hash key by field names,
 * and the WordCount plan most tests start from. Everything here uses only
 * the public functions of src/graph/graph.h.
 */
#ifndef FL_TEST_GRAPH_FIXTURES_H
#define FL_TEST_GRAPH_FIXTURES_H

#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "mem.h"

static inline fl_stream_node *fx_node(fl_stream_graph *g, const char *op, const char *name,
                                      int parallelism) {
    fl_stream_node *n = fl_stream_graph_add_node(g, op, name);
    n->parallelism = parallelism;
    return n;
}

static inline fl_stream_node *fx_source(fl_stream_graph *g, const char *name, int parallelism) {
    fl_stream_node *n = fx_node(g, "source", name, parallelism);
    n->schema = fl_schema_of(1, "line", FL_STRING);
    return n;
}

/* An input of target from source; implicit FORWARD unless told otherwise. */
static inline fl_stream_edge *fx_edge(fl_stream_graph *g, int target, int source, fl_partitioner p,
                                      bool explicit_p) {
    return fl_stream_node_add_input(g->nodes[target], source, p, explicit_p);
}

static inline fl_stream_edge *fx_forward(fl_stream_graph *g, int target, int source) {
    return fx_edge(g, target, source, FL_PART_FORWARD, false);
}

/* Key on field `field` (an index into schema) named as in schema. */
static inline fl_key_spec *fx_key(const fl_schema *schema, int field) {
    fl_key_spec *k = fl_xcalloc(1, sizeof(*k));
    k->n_fields = 1;
    k->fields = fl_xmalloc(sizeof(int));
    k->fields[0] = field;
    k->key_schema =
        fl_schema_of(1, fl_schema_field_name(schema, field), fl_schema_field_type(schema, field));
    return k;
}

/*
 * WordCount:
 *   0 Source: Text File (2) -> 1 Flat Map (2) =HASH(word)=> 2 Sum (4) -> 3 Sink: Print (4)
 * which chains into two tasks, [0, 1] and [2, 3]: the hash edge breaks the
 * chain, the forward edges between equal parallelisms do not.
 */
static inline fl_stream_graph *fx_wordcount(void) {
    fl_stream_graph *g = fl_stream_graph_create();
    g->job_name = fl_xstrdup("WordCount");
    fl_stream_node *src = fx_source(g, "Source: Text File", 2);
    src->connector = fl_xstrdup("filesystem");
    fl_kv_set(src->options, "path", "/tmp/in.txt");
    fl_stream_node *fm = fx_node(g, "flat_map", "Flat Map", 2);
    fm->fn = fl_xstrdup("tokenize");
    fm->schema = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
    fx_forward(g, 1, 0);
    fl_stream_node *sum = fx_node(g, "reduce", "Sum", 4);
    sum->fn = fl_xstrdup("sum");
    sum->schema = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
    sum->key = fx_key(fm->schema, 0);
    fl_stream_edge *e = fx_edge(g, 2, 1, FL_PART_HASH, true);
    e->key = fx_key(fm->schema, 0);
    fl_stream_node *sink = fx_node(g, "sink", "Sink: Print", 4);
    sink->connector = fl_xstrdup("print");
    fx_forward(g, 3, 2);
    return g;
}

#endif
