/*
 * test_graph_json.c - the three plans as JSON: a small plan against JSON text
 * written by hand, round trips of a plan that uses every field to identical
 * text, and rejection of malformed input with FL_EFORMAT and a message naming
 * the field: hand-picked corruptions, then every member and element of a
 * valid plan deleted or replaced by a value of each JSON type, and every
 * truncation of the text (none may crash, leak, or be accepted silently
 * wrong).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "graph.h"
#include "graph_fixtures.h"

/* ---- a small plan, by hand ---------------------------------------------------------- */

static fl_stream_graph *tiny(void) {
    fl_stream_graph *g = fl_stream_graph_create();
    g->job_name = fl_xstrdup("Tiny");
    fl_kv_set(g->params, "n", "3");
    fl_kv_set(g->config, "parallelism.default", "1");
    fl_stream_node *src = fx_node(g, "source", "Source: Sequence", 1);
    src->uid = fl_xstrdup("src");
    src->schema = fl_schema_of(1, "x", FL_BIGINT);
    static const unsigned char arg[] = {0x01, 0xff, 0x00};
    src->arg = fl_xmalloc(sizeof(arg));
    memcpy(src->arg, arg, sizeof(arg));
    src->arg_len = sizeof(arg);
    src->connector = fl_xstrdup("sequence");
    fl_kv_set(src->options, "to", "3"); /* insertion order, not sorted */
    fl_kv_set(src->options, "from", "1");
    fl_stream_node *sink = fx_node(g, "sink", "Sink: Print", 1);
    sink->chaining = FL_CHAIN_NEVER;
    sink->connector = fl_xstrdup("print");
    fx_forward(g, 1, 0);
    return g;
}

#define TINY_STREAM                                                                                \
    "{\"job_name\":\"Tiny\",\"max_parallelism\":128,\"buffer_timeout_ms\":100,"                    \
    "\"chaining_enabled\":true,\"params\":{\"n\":\"3\"},"                                          \
    "\"config\":{\"parallelism.default\":\"1\"},\"nodes\":["                                       \
    "{\"id\":0,\"op\":\"source\",\"name\":\"Source: Sequence\",\"uid\":\"src\","                   \
    "\"parallelism\":1,\"max_parallelism\":0,\"chaining\":\"ALWAYS\","                             \
    "\"schema\":[{\"name\":\"x\",\"type\":\"BIGINT\"}],\"fn\":null,\"open_fn\":null,"              \
    "\"close_fn\":null,\"arg\":\"Af8A\",\"connector\":\"sequence\","                               \
    "\"options\":{\"to\":\"3\",\"from\":\"1\"},\"key\":null,\"key2\":null,\"side_outputs\":[],\"inputs\":[]},"                       \
    "{\"id\":1,\"op\":\"sink\",\"name\":\"Sink: Print\",\"uid\":null,\"parallelism\":1,"           \
    "\"max_parallelism\":0,\"chaining\":\"NEVER\",\"schema\":null,\"fn\":null,"                    \
    "\"open_fn\":null,\"close_fn\":null,\"arg\":null,\"connector\":\"print\","                     \
    "\"options\":{},\"key\":null,\"key2\":null,\"side_outputs\":[],\"inputs\":[{\"source_id\":0,\"partitioner\":\"FORWARD\","        \
    "\"partitioner_explicit\":false,\"key\":null,\"partition_fn\":null,\"side_output\":null,\"input\":0}]}]}"

#define TINY_JOB                                                                                   \
    "{\"stream\":" TINY_STREAM ",\"vertices\":["                                                   \
    "{\"id\":0,\"name\":\"Source: Sequence\",\"parallelism\":1,\"max_parallelism\":128,"           \
    "\"nodes\":[0],\"inputs\":[],\"outputs\":[0]},"                                                \
    "{\"id\":1,\"name\":\"Sink: Print\",\"parallelism\":1,\"max_parallelism\":128,"                \
    "\"nodes\":[1],\"inputs\":[0],\"outputs\":[]}],"                                               \
    "\"edges\":[{\"id\":0,\"source_vertex\":0,\"target_vertex\":1,\"source_node\":0,"              \
    "\"target_node\":1,\"target_input\":0,\"partitioner\":\"FORWARD\"}]}"

#define TINY_EXECUTION                                                                             \
    "{\"job\":" TINY_JOB ",\"attempt\":0,\"n_slots\":1,\"subtasks\":["                             \
    "{\"vertex\":0,\"subtask\":0,\"slot\":0},{\"vertex\":1,\"subtask\":0,\"slot\":0}]}"

static fl_job_graph *job_of(fl_stream_graph *g) {
    fl_error err;
    fl_error_clear(&err);
    fl_job_graph *jg = fl_job_graph_create(g, &err);
    if (jg == NULL)
        fail_msg("%s", err.message);
    return jg;
}

static fl_execution_graph *execution_of(fl_stream_graph *g) {
    fl_error err;
    fl_error_clear(&err);
    fl_execution_graph *eg = fl_execution_graph_create(job_of(g), 64, &err);
    if (eg == NULL)
        fail_msg("%s", err.message);
    return eg;
}

static void test_tiny_plan_by_hand(void **state) {
    (void)state;
    fl_stream_graph *g = tiny();
    char *text = fl_stream_graph_to_json(g);
    assert_string_equal(text, TINY_STREAM);
    free(text);
    fl_stream_graph_destroy(g);

    fl_job_graph *jg = job_of(tiny());
    text = fl_job_graph_to_json(jg);
    assert_string_equal(text, TINY_JOB);
    free(text);
    fl_job_graph_destroy(jg);

    fl_execution_graph *eg = execution_of(tiny());
    text = fl_execution_graph_to_json(eg);
    assert_string_equal(text, TINY_EXECUTION);
    free(text);
    fl_execution_graph_destroy(eg);
}

static void test_tiny_plan_reads_back(void **state) {
    (void)state;
    fl_error err;
    fl_error_clear(&err);
    fl_stream_graph *g = fl_stream_graph_from_json(TINY_STREAM, &err);
    assert_non_null(g);
    assert_string_equal(g->job_name, "Tiny");
    assert_int_equal(g->n_nodes, 2);
    fl_stream_node *src = g->nodes[0];
    assert_string_equal(src->uid, "src");
    assert_int_equal(src->arg_len, 3);
    assert_memory_equal(src->arg, "\x01\xff\x00", 3);
    assert_int_equal(fl_schema_num_fields(src->schema), 1);
    assert_string_equal(fl_schema_field_name(src->schema, 0), "x");
    assert_int_equal(fl_schema_field_type(src->schema, 0), FL_BIGINT);
    assert_string_equal(fl_kv_key(src->options, 0), "to");
    assert_string_equal(fl_kv_get(src->options, "from"), "1");
    assert_int_equal(g->nodes[1]->chaining, FL_CHAIN_NEVER);
    assert_int_equal(g->nodes[1]->n_inputs, 1);
    assert_false(g->nodes[1]->inputs[0].partitioner_explicit);
    fl_stream_graph_destroy(g);

    fl_execution_graph *eg = fl_execution_graph_from_json(TINY_EXECUTION, &err);
    assert_non_null(eg);
    assert_int_equal(eg->job->n_vertices, 2);
    assert_int_equal(eg->job->vertex_of_node[1], 1);
    assert_int_equal(eg->first_subtask[1], 1);
    assert_int_equal(eg->n_slots, 1);
    fl_execution_graph_destroy(eg);
}

/* ---- round trips ---------------------------------------------------------------------- */

/* WordCount plus every optional field: a selector-keyed branch with a custom
 * partitioner, a union, hooks, an empty argument, non-ASCII text, chaining
 * flags, a changed attempt. */
static fl_stream_graph *rich(void) {
    fl_stream_graph *g = fx_wordcount();
    g->buffer_timeout_ms = -1;
    g->max_parallelism = 256;
    fl_kv_set(g->params, "input", "/data/h\xc3\xa4mlet.txt");
    fl_kv_set(g->config, "taskmanager.numberOfTaskSlots", "4");
    fl_kv_set(g->config, "execution.buffer-timeout", "0");
    g->nodes[1]->open_fn = fl_xstrdup("tokenize_open");
    g->nodes[1]->close_fn = fl_xstrdup("tokenize_close");
    g->nodes[1]->arg = fl_xmalloc(1);
    g->nodes[1]->arg_len = 0;
    g->nodes[2]->uid = fl_xstrdup("sum-uid");
    g->nodes[2]->max_parallelism = 512;

    fl_stream_node *custom = fx_node(g, "map", "Custom \"Quoted\" \xe2\x86\x92 Map", 3); /* 4 */
    custom->chaining = FL_CHAIN_HEAD;
    custom->schema = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
    custom->fn = fl_xstrdup("annotate");
    fl_stream_edge *e = fx_edge(g, 4, 2, FL_PART_CUSTOM, true);
    e->partition_fn = fl_xstrdup("by_first_letter");
    e->key = fl_xcalloc(1, sizeof(*e->key));
    e->key->selector = fl_xstrdup("word_selector");
    e->key->key_schema = fl_schema_of(1, "w", FL_STRING);

    fl_stream_node *u = fx_node(g, "filter", "Union Filter", 3); /* 5: a union */
    u->schema = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
    fx_edge(g, 5, 4, FL_PART_FORWARD, true);
    fx_edge(g, 5, 2, FL_PART_RESCALE, true);
    fl_stream_node *s = fx_node(g, "sink", "Sink: Collect", 1); /* 6 */
    s->chaining = FL_CHAIN_NEVER;
    s->connector = fl_xstrdup("collect");
    fl_kv_set(s->options, "id", "7");
    fx_edge(g, 6, 5, FL_PART_GLOBAL, true);
    return g;
}

static void test_stream_graph_round_trip(void **state) {
    (void)state;
    fl_stream_graph *g = rich();
    char *first = fl_stream_graph_to_json(g);
    fl_stream_graph_destroy(g);
    fl_error err;
    fl_error_clear(&err);
    fl_stream_graph *back = fl_stream_graph_from_json(first, &err);
    if (back == NULL)
        fail_msg("%s", err.message);
    char *second = fl_stream_graph_to_json(back);
    assert_string_equal(first, second);
    /* and the fields are really there, not just echoed */
    assert_int_equal(back->buffer_timeout_ms, -1);
    assert_int_equal(back->n_nodes, 7);
    assert_string_equal(back->nodes[4]->name, "Custom \"Quoted\" \xe2\x86\x92 Map");
    assert_int_equal(back->nodes[4]->chaining, FL_CHAIN_HEAD);
    assert_string_equal(back->nodes[4]->inputs[0].partition_fn, "by_first_letter");
    assert_string_equal(back->nodes[4]->inputs[0].key->selector, "word_selector");
    assert_int_equal(back->nodes[4]->inputs[0].key->n_fields, 0);
    assert_int_equal(back->nodes[2]->inputs[0].key->n_fields, 1);
    assert_int_equal(back->nodes[2]->inputs[0].key->fields[0], 0);
    assert_string_equal(fl_schema_field_name(back->nodes[2]->key->key_schema, 0), "word");
    assert_non_null(back->nodes[1]->arg);
    assert_int_equal(back->nodes[1]->arg_len, 0);
    assert_string_equal(back->nodes[1]->close_fn, "tokenize_close");
    assert_string_equal(fl_kv_get(back->params, "input"), "/data/h\xc3\xa4mlet.txt");
    fl_stream_graph_destroy(back);
    free(first);
    free(second);
}

static void test_job_and_execution_round_trip(void **state) {
    (void)state;
    fl_error err;
    fl_error_clear(&err);
    fl_job_graph *jg = job_of(rich());
    char *first = fl_job_graph_to_json(jg);
    fl_job_graph *back = fl_job_graph_from_json(first, &err);
    if (back == NULL)
        fail_msg("%s", err.message);
    char *second = fl_job_graph_to_json(back);
    assert_string_equal(first, second);
    assert_int_equal(back->n_vertices, jg->n_vertices);
    for (int i = 0; i < jg->stream->n_nodes; i++)
        assert_int_equal(back->vertex_of_node[i], jg->vertex_of_node[i]);
    free(first);
    free(second);
    fl_job_graph_destroy(back);
    fl_job_graph_destroy(jg);

    fl_execution_graph *eg = execution_of(rich());
    eg->attempt = 3;
    first = fl_execution_graph_to_json(eg);
    fl_execution_graph *eback = fl_execution_graph_from_json(first, &err);
    if (eback == NULL)
        fail_msg("%s", err.message);
    second = fl_execution_graph_to_json(eback);
    assert_string_equal(first, second);
    assert_int_equal(eback->attempt, 3);
    assert_int_equal(eback->n_subtasks, eg->n_subtasks);
    for (int v = 0; v < eg->job->n_vertices; v++)
        assert_int_equal(eback->first_subtask[v], eg->first_subtask[v]);
    free(first);
    free(second);
    fl_execution_graph_destroy(eback);
    fl_execution_graph_destroy(eg);
}

/* ---- hand-picked corruptions ------------------------------------------------------------- */

typedef enum which { STREAM, JOB, EXECUTION } which;

/* Reads text as the given plan; expects FL_EFORMAT and `expected` in the message. */
static void expect_rejected(which w, const char *text, const char *expected) {
    fl_error err;
    fl_error_clear(&err);
    void *g = NULL;
    switch (w) {
    case STREAM:
        g = fl_stream_graph_from_json(text, &err);
        break;
    case JOB:
        g = fl_job_graph_from_json(text, &err);
        break;
    case EXECUTION:
        g = fl_execution_graph_from_json(text, &err);
        break;
    }
    if (g != NULL)
        fail_msg("accepted: %s", text);
    assert_int_equal(err.code, FL_EFORMAT);
    if (strstr(err.message, expected) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, expected);
}

/* base with the first occurrence of from replaced by to (new string). */
static char *replaced(const char *base, const char *from, const char *to) {
    const char *at = strstr(base, from);
    if (at == NULL)
        fail_msg("\"%s\" is not in the base text", from);
    size_t head = (size_t)(at - base);
    char *out = fl_xmalloc(strlen(base) - strlen(from) + strlen(to) + 1);
    memcpy(out, base, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

static void expect_rejected_edit(which w, const char *base, const char *from, const char *to,
                                 const char *expected) {
    char *text = replaced(base, from, to);
    expect_rejected(w, text, expected);
    free(text);
}

static void test_malformed_stream_graph(void **state) {
    (void)state;
    const char *B = TINY_STREAM;
    expect_rejected(STREAM, "", "malformed stream graph: invalid JSON at line 1");
    expect_rejected(STREAM, "{\"nodes\":[", "invalid JSON");
    expect_rejected(STREAM, NULL, "no stream graph text");
    expect_rejected(STREAM, "[]", "malformed stream graph: expected an object, found an array");
    expect_rejected(STREAM, "{\"a\":1,\"a\":2}", "invalid JSON");
    expect_rejected_edit(STREAM, B, "\"max_parallelism\":128,", "",
                         "malformed stream graph: missing field \"max_parallelism\"");
    expect_rejected_edit(STREAM, B, "\"max_parallelism\":128", "\"max_parallelism\":0",
                         "max_parallelism: 0 is out of range [1, 32768]");
    expect_rejected_edit(STREAM, B, "\"chaining_enabled\":true", "\"chaining_enabled\":1",
                         "chaining_enabled: expected a boolean, found an integer");
    expect_rejected_edit(STREAM, B, "\"parallelism\":1", "\"parallelism\":\"1\"",
                         "nodes[0].parallelism: expected an integer, found a string");
    expect_rejected_edit(STREAM, B, "\"parallelism\":1", "\"parallelism\":-3",
                         "nodes[0].parallelism: -3 is out of range");
    expect_rejected_edit(STREAM, B, "\"type\":\"BIGINT\"", "\"type\":\"BIGNUM\"",
                         "nodes[0].schema[0].type: unknown type \"BIGNUM\"");
    expect_rejected_edit(STREAM, B, "[{\"name\":\"x\",\"type\":\"BIGINT\"}]",
                         "[{\"name\":\"x\",\"type\":\"BIGINT\"},{\"name\":\"x\",\"type\":\"INT\"}]",
                         "nodes[0].schema: ");
    expect_rejected_edit(STREAM, B, "\"schema\":[{\"name\":\"x\",", "\"schema\":[{",
                         "nodes[0].schema[0]: missing field \"name\"");
    expect_rejected_edit(STREAM, B, "\"source_id\":0", "\"source_id\":9",
                         "nodes[1].inputs[0]: source_id 9 is not a node (the graph has 2)");
    expect_rejected_edit(STREAM, B, "\"arg\":\"Af8A\"", "\"arg\":\"A!8A\"",
                         "nodes[0].arg: not valid base64");
    expect_rejected_edit(STREAM, B, "\"partitioner\":\"FORWARD\"", "\"partitioner\":\"SIDEWAYS\"",
                         "nodes[1].inputs[0].partitioner: unknown partitioner \"SIDEWAYS\"");
    expect_rejected_edit(STREAM, B, "\"chaining\":\"NEVER\"", "\"chaining\":\"SOMETIMES\"",
                         "nodes[1].chaining: unknown chaining \"SOMETIMES\"");
    expect_rejected_edit(STREAM, B, "\"id\":1", "\"id\":5",
                         "nodes[1].id: expected 1 (nodes are numbered by position), found 5");
    expect_rejected_edit(STREAM, B, "\"options\":{}", "\"options\":[]",
                         "nodes[1].options: expected an object, found an array");
    expect_rejected_edit(STREAM, B, "\"from\":\"1\"", "\"from\":1",
                         "nodes[0].options.from: expected a string, found an integer");
    expect_rejected_edit(STREAM, B, "\"op\":\"sink\"", "\"op\":\"\"",
                         "nodes[1].op: empty operator kind");
    expect_rejected_edit(STREAM, B, "\"name\":\"Sink: Print\"", "\"name\":\"Sink\\u0000\"",
                         "invalid JSON"); /* jansson refuses \u0000 */
    expect_rejected_edit(
        STREAM, B, "\"key\":null,\"key2\":null,\"side_outputs\":[],\"inputs\":[]",
        "\"key\":{\"fields\":[],\"selector\":null,\"key_schema\":[]},\"key2\":null,"
        "\"side_outputs\":[],\"inputs\":[]",
        "nodes[0].key: a key needs fields or a selector");
    expect_rejected_edit(STREAM, B, "\"partitioner_explicit\":false,\"key\":null",
                         "\"partitioner_explicit\":false,\"key\":{\"fields\":[3],"
                         "\"key_schema\":[{\"name\":\"k\",\"type\":\"INT\"}]}",
                         "nodes[1].inputs[0].key: key field 3 is beyond the 1 fields of the input");
    expect_rejected_edit(STREAM, B, "\"partitioner_explicit\":false,\"key\":null",
                         "\"partitioner_explicit\":false,\"key\":{\"fields\":[0],"
                         "\"key_schema\":[]}",
                         "key_schema has 0 fields but the key has 1");
    expect_rejected_edit(STREAM, B, "\"max_parallelism\":128", "\"max_parallelism\":1e3",
                         "expected an integer, found a real number");
    expect_rejected_edit(STREAM, B, "\"max_parallelism\":128",
                         "\"max_parallelism\":99999999999999999999999", "invalid JSON");
}

static void test_malformed_job_graph(void **state) {
    (void)state;
    const char *B = TINY_JOB;
    expect_rejected_edit(
        JOB, B, "{\"stream\":", "{\"strem\":", "malformed job graph: missing field \"stream\"");
    expect_rejected_edit(JOB, B, "\"nodes\":[0]", "\"nodes\":[5]",
                         "vertices[0].nodes[0]: node 5 does not exist (the stream graph has 2)");
    expect_rejected_edit(JOB, B, "\"nodes\":[1]", "\"nodes\":[0]",
                         "vertices[1].nodes[0]: node 0 is already in vertex 0");
    expect_rejected_edit(JOB, B, "\"nodes\":[1]", "\"nodes\":[]",
                         "vertices[1].nodes: a vertex needs at least one node");
    expect_rejected_edit(JOB, B, "\"target_vertex\":1", "\"target_vertex\":7",
                         "edges[0].target_vertex: 7 is out of range [0, 1]");
    expect_rejected_edit(JOB, B, "\"source_vertex\":0,\"target_vertex\":1",
                         "\"source_vertex\":1,\"target_vertex\":0",
                         "edges[0]: its nodes 0 and 1 are not in its vertices 1 and 0");
    expect_rejected_edit(JOB, B, "\"target_input\":0", "\"target_input\":1",
                         "edges[0]: input 1 of node 1 does not come from node 0");
    expect_rejected_edit(JOB, B, "\"outputs\":[0]", "\"outputs\":[]",
                         "edges[0]: is not listed in the inputs of its target");
    expect_rejected_edit(JOB, B, "\"inputs\":[0]", "\"inputs\":[0,0]",
                         "vertices[1].inputs[1]: 0 is not an edge into this vertex");
    expect_rejected_edit(JOB, B, "\"outputs\":[0]", "\"outputs\":[3]",
                         "vertices[0].outputs[0]: 3 is not an edge out of this vertex");
    expect_rejected_edit(JOB, B, "\"max_parallelism\":128,\"nodes\":[0]",
                         "\"max_parallelism\":0,\"nodes\":[0]",
                         "vertices[0].max_parallelism: 0 is out of range [1, 32768]");
    expect_rejected_edit(JOB, B, "\"edges\":[{", "\"edges\":[7,{", "edges[0]: expected an object");
    /* two vertices merged without the edge between them being a chain */
    expect_rejected_edit(JOB, B, "\"partitioner\":\"FORWARD\"}]}",
                         "\"partitioner\":\"FORWARD\"},{\"id\":1,\"source_vertex\":0,"
                         "\"target_vertex\":1,\"source_node\":0,\"target_node\":1,"
                         "\"target_input\":0,\"partitioner\":\"FORWARD\"}]}",
                         "edges[1]: input 0 of node 1 has a second job edge");
    /* the stream part is checked with its path */
    expect_rejected_edit(JOB, B, "\"buffer_timeout_ms\":100", "\"buffer_timeout_ms\":-2",
                         "stream.buffer_timeout_ms: -2 is out of range");
}

static void test_malformed_job_graph_chains(void **state) {
    (void)state;
    /* source -> map chained in one vertex; the map cannot be listed first,
     * and a chained node must read from inside its vertex */
    fl_stream_graph *g = fl_stream_graph_create();
    fx_source(g, "S", 1);
    fx_node(g, "map", "M", 1);
    fx_forward(g, 1, 0);
    fl_job_graph *jg = job_of(g);
    char *text = fl_job_graph_to_json(jg);
    fl_job_graph_destroy(jg);
    expect_rejected_edit(JOB, text, "\"nodes\":[0,1]", "\"nodes\":[1,0]",
                         "vertices[0].nodes[0]: the head node 1 reads from node 0 of its own "
                         "vertex");
    free(text);

    /* three tasks; a forward edge between different parallelisms */
    g = fl_stream_graph_create();
    fx_source(g, "S", 1);
    fx_node(g, "map", "M", 2);
    fx_forward(g, 1, 0);
    jg = job_of(g);
    text = fl_job_graph_to_json(jg);
    fl_job_graph_destroy(jg);
    expect_rejected_edit(JOB, text, "\"partitioner\":\"REBALANCE\"}]}",
                         "\"partitioner\":\"FORWARD\"}]}",
                         "edges[0]: a FORWARD edge between vertices of parallelism 1 and 2");
    expect_rejected_edit(JOB, text, "\"parallelism\":2,\"max_parallelism\":128,\"nodes\"",
                         "\"parallelism\":1,\"max_parallelism\":128,\"nodes\"",
                         "vertices[1].nodes[0]: node 1 has parallelism 2 but its vertex 1");
    free(text);
}

static void test_malformed_execution_graph(void **state) {
    (void)state;
    const char *B = TINY_EXECUTION;
    expect_rejected_edit(EXECUTION, B, "\"slot\":0}]}", "\"slot\":3}]}",
                         "malformed execution graph: subtasks[1]: slot 3 is beyond the job's 1 "
                         "slots");
    expect_rejected_edit(
        EXECUTION, B, "{\"vertex\":1,\"subtask\":0", "{\"vertex\":1,\"subtask\":1",
        "subtasks[1]: expected subtask 0 of vertex 1, found subtask 1 of vertex 1");
    expect_rejected_edit(EXECUTION, B, ",{\"vertex\":1,\"subtask\":0,\"slot\":0}", "",
                         "subtasks: 1 subtasks, but the vertices' parallelisms add up to 2");
    expect_rejected_edit(EXECUTION, B, "\"attempt\":0", "\"attempt\":-1",
                         "attempt: -1 is out of range");
    expect_rejected_edit(EXECUTION, B, "\"n_slots\":1,", "",
                         "malformed execution graph: missing field \"n_slots\"");
    expect_rejected_edit(EXECUTION, B, "\"nodes\":[0]", "\"nodes\":[\"0\"]",
                         "job.vertices[0].nodes[0]: expected an integer, found a string");
    expect_rejected(EXECUTION, "[17]",
                    "malformed execution graph: expected an object, found an "
                    "array");
}

/* ---- systematic corruption --------------------------------------------------------------- */

/* Reads text as an execution graph. An accepted plan must print again; a
 * rejected one must say FL_EFORMAT with the plan's prefix. */
static void read_or_reject(const char *text) {
    fl_error err;
    fl_error_clear(&err);
    fl_execution_graph *eg = fl_execution_graph_from_json(text, &err);
    if (eg != NULL) {
        char *again = fl_execution_graph_to_json(eg);
        assert_non_null(again);
        free(again);
        fl_execution_graph_destroy(eg);
        return;
    }
    assert_int_equal(err.code, FL_EFORMAT);
    assert_non_null(strstr(err.message, "malformed execution graph: "));
}

/* The replacement values: one of every JSON type, and numbers that are out
 * of range for counts and ids. */
static json_t *variant(int v) {
    switch (v) {
    case 0:
        return json_null();
    case 1:
        return json_integer(7);
    case 2:
        return json_integer(-1);
    case 3:
        return json_integer(100000);
    case 4:
        return json_string("x");
    case 5:
        return json_array();
    case 6:
        return json_object();
    case 7:
        return json_true();
    default:
        return json_real(1.5);
    }
}
#define N_VARIANTS 9

/* Walks j depth-first; at the position numbered target (counting every
 * member and element), deletes it (variant < 0) or replaces it. Returns the
 * number of positions seen. */
static int mutate(json_t *j, int *counter, int target, int v) {
    if (json_is_object(j)) {
        const char *key;
        json_t *value;
        void *tmp;
        json_object_foreach_safe(j, tmp, key, value) {
            if ((*counter)++ == target) {
                if (v < 0)
                    json_object_del(j, key);
                else
                    json_object_set_new(j, key, variant(v));
                return *counter;
            }
            mutate(value, counter, target, v);
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            if ((*counter)++ == target) {
                if (v < 0)
                    json_array_remove(j, i);
                else
                    json_array_set_new(j, i, variant(v));
                return *counter;
            }
            mutate(json_array_get(j, i), counter, target, v);
        }
    }
    return *counter;
}

static void test_every_field_corrupted(void **state) {
    (void)state;
    fl_execution_graph *eg = execution_of(rich());
    char *text = fl_execution_graph_to_json(eg);
    fl_execution_graph_destroy(eg);
    json_t *original = json_loads(text, 0, NULL);
    assert_non_null(original);
    int positions = 0;
    mutate(original, &positions, -1, 0);
    assert_true(positions > 200);
    for (int target = 0; target < positions; target++) {
        for (int v = -1; v < N_VARIANTS; v++) {
            json_t *copy = json_deep_copy(original);
            int counter = 0;
            mutate(copy, &counter, target, v);
            char *bad = json_dumps(copy, JSON_COMPACT);
            read_or_reject(bad);
            free(bad);
            json_decref(copy);
        }
    }
    json_decref(original);
    free(text);
}

static void test_every_truncation_rejected(void **state) {
    (void)state;
    fl_execution_graph *eg = execution_of(rich());
    char *text = fl_execution_graph_to_json(eg);
    fl_execution_graph_destroy(eg);
    size_t len = strlen(text);
    for (size_t cut = 0; cut < len; cut++) {
        char *prefix = fl_xstrndup(text, cut);
        expect_rejected(EXECUTION, prefix, "malformed execution graph: invalid JSON");
        free(prefix);
    }
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_plan_by_hand),
        cmocka_unit_test(test_tiny_plan_reads_back),
        cmocka_unit_test(test_stream_graph_round_trip),
        cmocka_unit_test(test_job_and_execution_round_trip),
        cmocka_unit_test(test_malformed_stream_graph),
        cmocka_unit_test(test_malformed_job_graph),
        cmocka_unit_test(test_malformed_job_graph_chains),
        cmocka_unit_test(test_malformed_execution_graph),
        cmocka_unit_test(test_every_field_corrupted),
        cmocka_unit_test(test_every_truncation_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
