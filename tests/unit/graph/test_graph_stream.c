/*
 * test_graph_stream.c - building a StreamGraph: defaults of a new graph and a
 * new node, input edges, the consumers of a node, and key specifications
 * (a clone is deep and independent of its original).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "graph.h"
#include "graph_fixtures.h"

static void test_new_graph_defaults(void **state) {
    (void)state;
    fl_stream_graph *g = fl_stream_graph_create();
    assert_non_null(g);
    assert_null(g->job_name);
    assert_int_equal(g->max_parallelism, 128);
    assert_int_equal(g->buffer_timeout_ms, 100);
    assert_true(g->chaining_enabled);
    assert_non_null(g->params);
    assert_non_null(g->config);
    assert_int_equal(g->n_nodes, 0);
    fl_stream_graph_destroy(g);
    fl_stream_graph_destroy(NULL);
}

static void test_add_node_and_inputs(void **state) {
    (void)state;
    fl_stream_graph *g = fl_stream_graph_create();
    fl_stream_node *a = fl_stream_graph_add_node(g, "source", "Source: Sequence");
    fl_stream_node *b = fl_stream_graph_add_node(g, "map", "Map");
    assert_int_equal(a->id, 0);
    assert_int_equal(b->id, 1);
    assert_int_equal(g->n_nodes, 2);
    assert_ptr_equal(g->nodes[1], b);
    assert_string_equal(b->op, "map");
    assert_string_equal(b->name, "Map");
    assert_int_equal(b->chaining, FL_CHAIN_ALWAYS);
    assert_non_null(b->options);
    assert_int_equal(fl_kv_count(b->options), 0);
    assert_null(b->schema);
    assert_null(b->fn);
    assert_null(b->uid);
    assert_int_equal(b->n_inputs, 0);

    fl_stream_edge *e = fl_stream_node_add_input(b, 0, FL_PART_RESCALE, true);
    assert_int_equal(e->source_id, 0);
    assert_int_equal(e->partitioner, FL_PART_RESCALE);
    assert_true(e->partitioner_explicit);
    assert_null(e->key);
    assert_null(e->partition_fn);
    e = fl_stream_node_add_input(b, 0, FL_PART_HASH, true);
    fl_schema *input = fl_schema_of(1, "x", FL_INT);
    e->key = fx_key(input, 0); /* the edge owns it from here */
    fl_schema_unref(input);
    assert_int_equal(b->n_inputs, 2);
    assert_int_equal(b->inputs[1].partitioner, FL_PART_HASH);
    fl_stream_graph_destroy(g);
}

static void test_consumers(void **state) {
    (void)state;
    /* 0 -> 1, 0 -> 2 (twice: a self-union), 1 -> 3, 2 -> 3 */
    fl_stream_graph *g = fl_stream_graph_create();
    fx_source(g, "S", 1);
    fx_node(g, "map", "A", 1);
    fx_node(g, "map", "B", 1);
    fx_node(g, "sink", "C", 1);
    fx_forward(g, 1, 0);
    fx_forward(g, 2, 0);
    fx_forward(g, 2, 0);
    fx_forward(g, 3, 1);
    fx_forward(g, 3, 2);
    int out[4] = {-1, -1, -1, -1};
    assert_int_equal(fl_stream_graph_consumers(g, 0, out, 4), 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_int_equal(fl_stream_graph_consumers(g, 1, out, 4), 1);
    assert_int_equal(out[0], 3);
    assert_int_equal(fl_stream_graph_consumers(g, 3, out, 4), 0);
    /* a short buffer gets the first ones; the total is still returned */
    out[0] = out[1] = -1;
    assert_int_equal(fl_stream_graph_consumers(g, 0, out, 1), 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], -1);
    fl_stream_graph_destroy(g);
}

static void test_key_spec_clone(void **state) {
    (void)state;
    fl_key_spec *k = fl_xcalloc(1, sizeof(*k));
    k->n_fields = 2;
    k->fields = fl_xmalloc(2 * sizeof(int));
    k->fields[0] = 3;
    k->fields[1] = 1;
    k->key_schema = fl_schema_of(2, "b", FL_STRING, "a", FL_INT);
    fl_key_spec *c = fl_key_spec_clone(k);
    assert_non_null(c);
    assert_int_equal(c->n_fields, 2);
    assert_ptr_not_equal(c->fields, k->fields);
    assert_int_equal(c->fields[0], 3);
    assert_int_equal(c->fields[1], 1);
    assert_null(c->selector);
    assert_true(fl_schema_equals(c->key_schema, k->key_schema));
    fl_key_spec_destroy(k); /* the clone outlives its original */
    assert_string_equal(fl_schema_field_name(c->key_schema, 0), "b");
    fl_key_spec_destroy(c);

    fl_key_spec *s = fl_xcalloc(1, sizeof(*s));
    s->selector = fl_xstrdup("word_key");
    s->key_schema = fl_schema_of(1, "word", FL_STRING);
    fl_key_spec *sc = fl_key_spec_clone(s);
    assert_int_equal(sc->n_fields, 0);
    assert_null(sc->fields);
    assert_string_equal(sc->selector, "word_key");
    assert_ptr_not_equal(sc->selector, s->selector);
    fl_key_spec_destroy(s);
    fl_key_spec_destroy(sc);

    assert_null(fl_key_spec_clone(NULL));
    fl_key_spec_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_graph_defaults),
        cmocka_unit_test(test_add_node_and_inputs),
        cmocka_unit_test(test_consumers),
        cmocka_unit_test(test_key_spec_clone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
