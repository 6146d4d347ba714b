/*
 * test_graph_describe.c - the text `flinc info` prints for a job graph,
 * compared in full against text written by hand for WordCount and for a plan
 * with a tree chain, a keyed task, a custom partitioner and an unchained sink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph.h"
#include "graph_fixtures.h"

static char *describe(fl_stream_graph *g) {
    fl_error err;
    fl_error_clear(&err);
    fl_job_graph *jg = fl_job_graph_create(g, &err);
    if (jg == NULL)
        fail_msg("%s", err.message);
    char *text = fl_job_graph_describe(jg);
    fl_job_graph_destroy(jg);
    return text;
}

static void test_wordcount(void **state) {
    (void)state;
    char *text = describe(fx_wordcount());
    assert_string_equal(
        text,
        "Job \"WordCount\": 2 tasks, max parallelism 128\n"
        "Task 1: Source: Text File -> Flat Map (parallelism 2)\n"
        "  operators: Source: Text File [source, connector filesystem], "
        "Flat Map [flat_map, fn tokenize]\n"
        "  -> Task 2 \"Sum -> Sink: Print\" via HASH (key: word)\n"
        "Task 2: Sum -> Sink: Print (parallelism 4)\n"
        "  operators: Sum [reduce, fn sum, key: word], Sink: Print [sink, connector print]\n");
    free(text);
}

/*
 * 0 Source: Kafka -> 1 Parse, which feeds 2 Large and 3 Small (a tree chain);
 * 2 =HASH(account)=> 4 Alert (4) -> 5 Sink: Log (disable_chaining);
 * 3 =CUSTOM=> 6 Audit (2) =REBALANCE=> 7 Sink: Print (1).
 */
static fl_stream_graph *fraud(void) {
    fl_stream_graph *g = fl_stream_graph_create();
    g->job_name = fl_xstrdup("Fraud");
    fl_stream_node *src = fx_source(g, "Source: Kafka", 2);
    fl_schema_unref(src->schema);
    src->schema = fl_schema_of(2, "account", FL_STRING, "amount", FL_BIGINT);
    src->uid = fl_xstrdup("kafka-src");
    src->connector = fl_xstrdup("kafka");
    const char *names[] = {"Parse", "Large", "Small"};
    const char *ops[] = {"map", "filter", "filter"};
    const char *fns[] = {"parse", "is_large", "is_small"};
    for (int i = 0; i < 3; i++) {
        fl_stream_node *n = fx_node(g, ops[i], names[i], 2);
        n->fn = fl_xstrdup(fns[i]);
        n->schema = fl_schema_ref(src->schema);
    }
    fx_forward(g, 1, 0);
    fx_forward(g, 2, 1);
    fx_forward(g, 3, 1);

    fl_stream_node *alert = fx_node(g, "reduce", "Alert", 4); /* 4 */
    alert->fn = fl_xstrdup("alert");
    alert->schema = fl_schema_ref(src->schema);
    alert->key = fx_key(src->schema, 0);
    fx_edge(g, 4, 2, FL_PART_HASH, true)->key = fx_key(src->schema, 0);
    fl_stream_node *log = fx_node(g, "sink", "Sink: Log", 4); /* 5 */
    log->connector = fl_xstrdup("log");
    log->chaining = FL_CHAIN_NEVER;
    fx_forward(g, 5, 4);

    fl_stream_node *audit = fx_node(g, "map", "Audit", 2); /* 6 */
    audit->fn = fl_xstrdup("audit");
    audit->schema = fl_schema_ref(src->schema);
    fl_stream_edge *custom = fx_edge(g, 6, 3, FL_PART_CUSTOM, true);
    custom->partition_fn = fl_xstrdup("by_account");
    custom->key = fl_xcalloc(1, sizeof(*custom->key));
    custom->key->selector = fl_xstrdup("account_of");
    custom->key->key_schema = fl_schema_of(1, "account", FL_STRING);
    fl_stream_node *print = fx_node(g, "sink", "Sink: Print", 1); /* 7 */
    print->connector = fl_xstrdup("print");
    fx_edge(g, 7, 6, FL_PART_REBALANCE, true);
    return g;
}

static void test_tree_chain_and_partitioners(void **state) {
    (void)state;
    char *text = describe(fraud());
    assert_string_equal(
        text,
        "Job \"Fraud\": 5 tasks, max parallelism 128\n"
        "Task 1: Source: Kafka -> Parse -> Large -> Small (parallelism 2)\n"
        "  operators: Source: Kafka [source, uid kafka-src, connector kafka], "
        "Parse [map, fn parse], Large [filter, fn is_large], Small [filter, fn is_small]\n"
        "  -> Task 2 \"Alert\" via HASH (key: account) from Large\n"
        "  -> Task 4 \"Audit\" via CUSTOM (fn by_account, key: selector account_of) from Small\n"
        "Task 2: Alert (parallelism 4)\n"
        "  operators: Alert [reduce, fn alert, key: account]\n"
        "  -> Task 3 \"Sink: Log\" via FORWARD\n"
        "Task 3: Sink: Log (parallelism 4)\n"
        "  operators: Sink: Log [sink, connector log, chaining disabled]\n"
        "Task 4: Audit (parallelism 2)\n"
        "  operators: Audit [map, fn audit]\n"
        "  -> Task 5 \"Sink: Print\" via REBALANCE\n"
        "Task 5: Sink: Print (parallelism 1)\n"
        "  operators: Sink: Print [sink, connector print]\n");
    free(text);
}

static void test_unnamed_job_without_chaining(void **state) {
    (void)state;
    fl_stream_graph *g = fl_stream_graph_create();
    g->chaining_enabled = false;
    fx_source(g, "Source", 1);
    fl_stream_node *m = fx_node(g, "map", "Map", 1);
    m->max_parallelism = 16;
    m->chaining = FL_CHAIN_HEAD;
    fx_forward(g, 1, 0);
    char *text = describe(g);
    assert_string_equal(text,
                        "Job (unnamed): 2 tasks, max parallelism 128, operator chaining disabled\n"
                        "Task 1: Source (parallelism 1)\n"
                        "  operators: Source [source]\n"
                        "  -> Task 2 \"Map\" via FORWARD\n"
                        "Task 2: Map (parallelism 1, max parallelism 16)\n"
                        "  operators: Map [map, starts a new chain]\n");
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wordcount),
        cmocka_unit_test(test_tree_chain_and_partitioners),
        cmocka_unit_test(test_unnamed_job_without_chaining),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
