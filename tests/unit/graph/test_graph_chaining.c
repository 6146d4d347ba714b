/*
 * test_graph_chaining.c - StreamGraph -> JobGraph: which operators chain into
 * one task (Flink's rules), the topological order of tasks and of the nodes
 * inside a task, the job edges with their resolved partitioners, and the
 * errors (explicit forward across parallelisms, cycles, a dangling operator).
 * Every expectation is worked out by hand from the graph the test builds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "graph.h"
#include "graph_fixtures.h"

static fl_job_graph *chain(fl_stream_graph *g) {
    fl_error err;
    fl_error_clear(&err);
    fl_job_graph *jg = fl_job_graph_create(g, &err);
    if (jg == NULL)
        fail_msg("unexpected error: %s", err.message);
    return jg;
}

/* Creating must fail with code and a message containing `expected`. */
static void expect_error(fl_stream_graph *g, int code, const char *expected) {
    fl_error err;
    fl_error_clear(&err);
    assert_null(fl_job_graph_create(g, &err));
    assert_int_equal(err.code, code);
    if (strstr(err.message, expected) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, expected);
}

static void expect_vertex(const fl_job_graph *jg, int v, const char *name, int parallelism,
                          int n_nodes, const int *nodes) {
    const fl_job_vertex *vx = &jg->vertices[v];
    assert_int_equal(vx->id, v);
    assert_string_equal(vx->name, name);
    assert_int_equal(vx->parallelism, parallelism);
    assert_int_equal(vx->n_nodes, n_nodes);
    for (int i = 0; i < n_nodes; i++) {
        assert_int_equal(vx->nodes[i], nodes[i]);
        assert_int_equal(jg->vertex_of_node[nodes[i]], v);
    }
}

static void expect_edge(const fl_job_graph *jg, int id, int source_vertex, int target_vertex,
                        int source_node, int target_node, int target_input, fl_partitioner p) {
    const fl_job_edge *e = &jg->edges[id];
    assert_int_equal(e->id, id);
    assert_int_equal(e->source_vertex, source_vertex);
    assert_int_equal(e->target_vertex, target_vertex);
    assert_int_equal(e->source_node, source_node);
    assert_int_equal(e->target_node, target_node);
    assert_int_equal(e->target_input, target_input);
    assert_string_equal(fl_partitioner_name(e->partitioner), fl_partitioner_name(p));
}

/* source -> map -> filter, all at parallelism p */
static fl_stream_graph *pipeline3(int p_source, int p_map, int p_filter) {
    fl_stream_graph *g = fl_stream_graph_create();
    fx_source(g, "Source: Sequence", p_source);
    fx_node(g, "map", "Map", p_map);
    fx_node(g, "filter", "Filter", p_filter);
    fx_forward(g, 1, 0);
    fx_forward(g, 2, 1);
    return g;
}

static void test_same_parallelism_chains_into_one_task(void **state) {
    (void)state;
    fl_job_graph *jg = chain(pipeline3(3, 3, 3));
    assert_int_equal(jg->n_vertices, 1);
    assert_int_equal(jg->n_edges, 0);
    expect_vertex(jg, 0, "Source: Sequence -> Map -> Filter", 3, 3, (int[]){0, 1, 2});
    assert_int_equal(jg->vertices[0].max_parallelism, 128);
    assert_int_equal(jg->vertices[0].n_inputs, 0);
    assert_int_equal(jg->vertices[0].n_outputs, 0);
    fl_job_graph_destroy(jg);
}

static void test_different_parallelism_breaks_the_chain(void **state) {
    (void)state;
    /* the implicit forward between 1 and 2 becomes a rebalance */
    fl_job_graph *jg = chain(pipeline3(1, 2, 2));
    assert_int_equal(jg->n_vertices, 2);
    expect_vertex(jg, 0, "Source: Sequence", 1, 1, (int[]){0});
    expect_vertex(jg, 1, "Map -> Filter", 2, 2, (int[]){1, 2});
    assert_int_equal(jg->n_edges, 1);
    expect_edge(jg, 0, 0, 1, 0, 1, 0, FL_PART_REBALANCE);
    assert_int_equal(jg->vertices[0].n_outputs, 1);
    assert_int_equal(jg->vertices[0].outputs[0], 0);
    assert_int_equal(jg->vertices[1].n_inputs, 1);
    assert_int_equal(jg->vertices[1].inputs[0], 0);
    fl_job_graph_destroy(jg);
}

static void test_explicit_partitioners_break_the_chain(void **state) {
    (void)state;
    fl_partitioner breaking[] = {FL_PART_REBALANCE, FL_PART_RESCALE, FL_PART_SHUFFLE,
                                 FL_PART_BROADCAST, FL_PART_GLOBAL,  FL_PART_HASH};
    for (size_t i = 0; i < sizeof(breaking) / sizeof(breaking[0]); i++) {
        fl_stream_graph *g = fl_stream_graph_create();
        fx_source(g, "Source", 2);
        fx_node(g, "map", "Map", 2);
        fx_edge(g, 1, 0, breaking[i], true);
        fl_job_graph *jg = chain(g);
        assert_int_equal(jg->n_vertices, 2);
        expect_edge(jg, 0, 0, 1, 0, 1, 0, breaking[i]);
        fl_job_graph_destroy(jg);
    }
    /* an explicit forward at equal parallelism chains like the implicit one */
    fl_stream_graph *g = fl_stream_graph_create();
    fx_source(g, "Source", 2);
    fx_node(g, "map", "Map", 2);
    fx_edge(g, 1, 0, FL_PART_FORWARD, true);
    fl_job_graph *jg = chain(g);
    assert_int_equal(jg->n_vertices, 1);
    fl_job_graph_destroy(jg);
}

static void test_hash_edge_in_wordcount(void **state) {
    (void)state;
    fl_job_graph *jg = chain(fx_wordcount());
    assert_int_equal(jg->n_vertices, 2);
    expect_vertex(jg, 0, "Source: Text File -> Flat Map", 2, 2, (int[]){0, 1});
    expect_vertex(jg, 1, "Sum -> Sink: Print", 4, 2, (int[]){2, 3});
    assert_int_equal(jg->n_edges, 1);
    expect_edge(jg, 0, 0, 1, 1, 2, 0, FL_PART_HASH);
    fl_job_graph_destroy(jg);
}

static void test_disable_chaining_runs_alone(void **state) {
    (void)state;
    fl_stream_graph *g = pipeline3(2, 2, 2);
    g->nodes[1]->chaining = FL_CHAIN_NEVER;
    fl_job_graph *jg = chain(g);
    assert_int_equal(jg->n_vertices, 3);
    expect_vertex(jg, 0, "Source: Sequence", 2, 1, (int[]){0});
    expect_vertex(jg, 1, "Map", 2, 1, (int[]){1});
    expect_vertex(jg, 2, "Filter", 2, 1, (int[]){2});
    assert_int_equal(jg->n_edges, 2);
    expect_edge(jg, 0, 0, 1, 0, 1, 0, FL_PART_FORWARD);
    expect_edge(jg, 1, 1, 2, 1, 2, 0, FL_PART_FORWARD);
    fl_job_graph_destroy(jg);

    /* NEVER on the producer side breaks its outgoing chain too */
    g = pipeline3(2, 2, 2);
    g->nodes[0]->chaining = FL_CHAIN_NEVER;
    jg = chain(g);
    assert_int_equal(jg->n_vertices, 2);
    expect_vertex(jg, 0, "Source: Sequence", 2, 1, (int[]){0});
    expect_vertex(jg, 1, "Map -> Filter", 2, 2, (int[]){1, 2});
    fl_job_graph_destroy(jg);
}

static void test_start_new_chain(void **state) {
    (void)state;
    fl_stream_graph *g = pipeline3(2, 2, 2);
    g->nodes[1]->chaining = FL_CHAIN_HEAD;
    fl_job_graph *jg = chain(g);
    assert_int_equal(jg->n_vertices, 2);
    expect_vertex(jg, 0, "Source: Sequence", 2, 1, (int[]){0});
    expect_vertex(jg, 1, "Map -> Filter", 2, 2, (int[]){1, 2});
    expect_edge(jg, 0, 0, 1, 0, 1, 0, FL_PART_FORWARD);
    fl_job_graph_destroy(jg);
}

static void test_union_does_not_chain(void **state) {
    (void)state;
    /* two sources into one map (two inputs), then a sink that chains to it */
    fl_stream_graph *g = fl_stream_graph_create();
    fx_source(g, "Source: A", 2);
    fx_source(g, "Source: B", 2);
    fx_node(g, "map", "Union Map", 2);
    fx_node(g, "sink", "Sink", 2);
    fx_forward(g, 2, 0);
    fx_forward(g, 2, 1);
    fx_forward(g, 3, 2);
    fl_job_graph *jg = chain(g);
    assert_int_equal(jg->n_vertices, 3);
    expect_vertex(jg, 0, "Source: A", 2, 1, (int[]){0});
    expect_vertex(jg, 1, "Source: B", 2, 1, (int[]){1});
    expect_vertex(jg, 2, "Union Map -> Sink", 2, 2, (int[]){2, 3});
    assert_int_equal(jg->n_edges, 2);
    expect_edge(jg, 0, 0, 2, 0, 2, 0, FL_PART_FORWARD);
    expect_edge(jg, 1, 1, 2, 1, 2, 1, FL_PART_FORWARD);
    assert_int_equal(jg->vertices[2].n_inputs, 2);
    assert_int_equal(jg->vertices[2].inputs[0], 0);
    assert_int_equal(jg->vertices[2].inputs[1], 1);
    fl_job_graph_destroy(jg);
}

static void test_job_wide_chaining_off(void **state) {
    (void)state;
    fl_stream_graph *g = pipeline3(2, 2, 2);
    g->chaining_enabled = false;
    fl_job_graph *jg = chain(g);
    assert_int_equal(jg->n_vertices, 3);
    for (int v = 0; v < 3; v++)
        assert_int_equal(jg->vertices[v].n_nodes, 1);
    expect_edge(jg, 0, 0, 1, 0, 1, 0, FL_PART_FORWARD);
    expect_edge(jg, 1, 1, 2, 1, 2, 0, FL_PART_FORWARD);
    fl_job_graph_destroy(jg);
}

static void test_tree_chain(void **state) {
    (void)state;
    /* source feeds two forward consumers; each feeds a sink: one task of 5 */
    fl_stream_graph *g = fl_stream_graph_create();
    fx_source(g, "Source", 2);       /* 0 */
    fx_node(g, "map", "A", 2);       /* 1 */
    fx_node(g, "filter", "B", 2);    /* 2 */
    fx_node(g, "sink", "Sink A", 2); /* 3 */
    fx_node(g, "sink", "Sink B", 2); /* 4 */
    fx_forward(g, 1, 0);
    fx_forward(g, 2, 0);
    fx_forward(g, 3, 1);
    fx_forward(g, 4, 2);
    fl_job_graph *jg = chain(g);
    assert_int_equal(jg->n_vertices, 1);
    assert_int_equal(jg->n_edges, 0);
    expect_vertex(jg, 0, "Source -> A -> B -> Sink A -> Sink B", 2, 5, (int[]){0, 1, 2, 3, 4});
    fl_job_graph_destroy(jg);

    /* one branch with another parallelism leaves the chain, the other stays */
    g = fl_stream_graph_create();
    fx_source(g, "Source", 2);
    fx_node(g, "map", "A", 2);
    fx_node(g, "map", "B", 3);
    fx_forward(g, 1, 0);
    fx_forward(g, 2, 0);
    jg = chain(g);
    assert_int_equal(jg->n_vertices, 2);
    expect_vertex(jg, 0, "Source -> A", 2, 2, (int[]){0, 1});
    expect_vertex(jg, 1, "B", 3, 1, (int[]){2});
    expect_edge(jg, 0, 0, 1, 0, 2, 0, FL_PART_REBALANCE);
    fl_job_graph_destroy(jg);
}

static void test_topological_order(void **state) {
    (void)state;
    /* ids out of order: 0 sink <- 2 map <- 3 map <- 1 source; 4 source -> 3 */
    fl_stream_graph *g = fl_stream_graph_create();
    fx_node(g, "sink", "Sink", 2);         /* 0 */
    fx_source(g, "Source: X", 1);          /* 1 */
    fx_node(g, "map", "Late Map", 2);      /* 2 */
    fx_node(g, "map", "Two-Input Map", 2); /* 3 */
    fx_source(g, "Source: Y", 1);          /* 4 */
    fx_forward(g, 0, 2);
    fx_forward(g, 2, 3);
    fx_forward(g, 3, 1);
    fx_forward(g, 3, 4);
    fl_job_graph *jg = chain(g);
    /* order 1, 4, 3, 2, 0; 3 has two inputs so heads a task with 2 and 0 */
    assert_int_equal(jg->n_vertices, 3);
    expect_vertex(jg, 0, "Source: X", 1, 1, (int[]){1});
    expect_vertex(jg, 1, "Source: Y", 1, 1, (int[]){4});
    expect_vertex(jg, 2, "Two-Input Map -> Late Map -> Sink", 2, 3, (int[]){3, 2, 0});
    assert_int_equal(jg->n_edges, 2);
    expect_edge(jg, 0, 0, 2, 1, 3, 0, FL_PART_REBALANCE);
    expect_edge(jg, 1, 1, 2, 4, 3, 1, FL_PART_REBALANCE);
    for (int i = 0; i < jg->n_edges; i++)
        assert_true(jg->edges[i].source_vertex < jg->edges[i].target_vertex);
    fl_job_graph_destroy(jg);
}

static void test_max_parallelism(void **state) {
    (void)state;
    fl_stream_graph *g = pipeline3(2, 4, 4);
    g->max_parallelism = 64;
    g->nodes[1]->max_parallelism = 256;
    fl_job_graph *jg = chain(g);
    assert_int_equal(jg->vertices[0].max_parallelism, 64);
    assert_int_equal(jg->vertices[1].max_parallelism, 256);
    fl_job_graph_destroy(jg);

    g = pipeline3(2, 4, 4);
    g->nodes[1]->max_parallelism = 3;
    expect_error(g, FL_EINVAL,
                 "operator \"Map\" has parallelism 4 above its max parallelism 3; lower the "
                 "parallelism or raise pipeline.max-parallelism");
}

static void test_explicit_forward_mismatch(void **state) {
    (void)state;
    fl_stream_graph *g = fl_stream_graph_create();
    fx_source(g, "Source", 2);
    fx_node(g, "map", "Map", 2);
    fx_node(g, "sink", "Sink", 4);
    fx_forward(g, 1, 0);
    fx_edge(g, 2, 1, FL_PART_FORWARD, true);
    fl_error err;
    fl_error_clear(&err);
    assert_null(fl_job_graph_create(g, &err));
    assert_int_equal(err.code, FL_EINVAL);
    assert_string_equal(err.message,
                        "forward partitioning between \"Map\" (parallelism 2) and \"Sink\" "
                        "(parallelism 4) needs equal parallelism; use rebalance or rescale");
}

static void test_structural_errors(void **state) {
    (void)state;
    /* a cycle: A reads from the source and from B, B reads from A */
    fl_stream_graph *g = fl_stream_graph_create();
    fx_source(g, "Source", 1);
    fx_node(g, "map", "A", 1);
    fx_node(g, "map", "B", 1);
    fx_forward(g, 1, 0);
    fx_forward(g, 1, 2);
    fx_forward(g, 2, 1);
    expect_error(g, FL_EINVAL, "the job graph has a cycle through operator \"A\"");

    /* a node reading from itself */
    g = fl_stream_graph_create();
    fx_source(g, "Source", 1);
    fx_node(g, "map", "Loop", 1);
    fx_forward(g, 1, 0);
    fx_forward(g, 1, 1);
    expect_error(g, FL_EINVAL, "cycle through operator \"Loop\"");

    /* an operator that is not a source and has no input */
    g = fl_stream_graph_create();
    fx_source(g, "Source", 1);
    fx_node(g, "map", "Orphan", 1);
    expect_error(g, FL_EINVAL,
                 "operator \"Orphan\" has no input; only a source can start a pipeline");

    /* an input from a node that does not exist */
    g = fl_stream_graph_create();
    fx_source(g, "Source", 1);
    fx_node(g, "map", "Map", 1);
    fx_forward(g, 1, 7);
    expect_error(g, FL_EINVAL, "operator \"Map\" reads from stream node 7, which does not exist");

    /* parallelism never set */
    g = fl_stream_graph_create();
    fl_stream_graph_add_node(g, "source", "Source");
    expect_error(g, FL_EINVAL, "operator \"Source\" has parallelism 0; it must be at least 1");

    /* nothing at all */
    expect_error(fl_stream_graph_create(), FL_EINVAL, "the job has no operators");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_parallelism_chains_into_one_task),
        cmocka_unit_test(test_different_parallelism_breaks_the_chain),
        cmocka_unit_test(test_explicit_partitioners_break_the_chain),
        cmocka_unit_test(test_hash_edge_in_wordcount),
        cmocka_unit_test(test_disable_chaining_runs_alone),
        cmocka_unit_test(test_start_new_chain),
        cmocka_unit_test(test_union_does_not_chain),
        cmocka_unit_test(test_job_wide_chaining_off),
        cmocka_unit_test(test_tree_chain),
        cmocka_unit_test(test_topological_order),
        cmocka_unit_test(test_max_parallelism),
        cmocka_unit_test(test_explicit_forward_mismatch),
        cmocka_unit_test(test_structural_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
