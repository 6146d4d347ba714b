/*
 * test_graph_execution.c - JobGraph -> ExecutionGraph: subtasks per task,
 * their order, slot sharing (subtask i of every task in slot i, so a job needs
 * its highest parallelism in slots) and the error when the cluster has fewer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "graph.h"
#include "graph_fixtures.h"

static fl_job_graph *wordcount_job(void) {
    fl_error err;
    fl_error_clear(&err);
    fl_job_graph *jg = fl_job_graph_create(fx_wordcount(), &err);
    assert_non_null(jg);
    return jg;
}

static void test_subtasks_and_slots(void **state) {
    (void)state;
    fl_error err;
    fl_error_clear(&err);
    /* tasks of parallelism 2 and 4: 6 subtasks in 4 shared slots */
    fl_execution_graph *eg = fl_execution_graph_create(wordcount_job(), 4, &err);
    assert_non_null(eg);
    assert_int_equal(err.code, 0);
    assert_int_equal(eg->attempt, 0);
    assert_int_equal(eg->n_slots, 4);
    assert_int_equal(eg->n_subtasks, 6);
    const int expected[6][3] = {{0, 0, 0}, {0, 1, 1}, {1, 0, 0}, {1, 1, 1}, {1, 2, 2}, {1, 3, 3}};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(eg->subtasks[i].vertex, expected[i][0]);
        assert_int_equal(eg->subtasks[i].subtask, expected[i][1]);
        assert_int_equal(eg->subtasks[i].slot, expected[i][2]);
    }
    assert_int_equal(eg->first_subtask[0], 0);
    assert_int_equal(eg->first_subtask[1], 2);
    fl_execution_graph_destroy(eg);

    /* more slots than needed: the job still occupies only 4 */
    eg = fl_execution_graph_create(wordcount_job(), 16, &err);
    assert_non_null(eg);
    assert_int_equal(eg->n_slots, 4);
    fl_execution_graph_destroy(eg);
    fl_execution_graph_destroy(NULL);
}

static void test_slots_are_the_highest_parallelism(void **state) {
    (void)state;
    /* 1 -> 5 -> 3 with chaining off: 9 subtasks need 5 slots, not 9 */
    fl_stream_graph *g = fl_stream_graph_create();
    g->chaining_enabled = false;
    fx_source(g, "S", 1);
    fx_node(g, "map", "M", 5);
    fx_node(g, "sink", "K", 3);
    fx_forward(g, 1, 0);
    fx_forward(g, 2, 1);
    fl_error err;
    fl_error_clear(&err);
    fl_job_graph *jg = fl_job_graph_create(g, &err);
    assert_non_null(jg);
    fl_execution_graph *eg = fl_execution_graph_create(jg, 5, &err);
    assert_non_null(eg);
    assert_int_equal(eg->n_slots, 5);
    assert_int_equal(eg->n_subtasks, 9);
    assert_int_equal(eg->first_subtask[0], 0);
    assert_int_equal(eg->first_subtask[1], 1);
    assert_int_equal(eg->first_subtask[2], 6);
    /* every slot holds at most one subtask of each task */
    int per_slot_task[5][3] = {{0}};
    for (int i = 0; i < eg->n_subtasks; i++)
        per_slot_task[eg->subtasks[i].slot][eg->subtasks[i].vertex]++;
    for (int s = 0; s < 5; s++)
        for (int v = 0; v < 3; v++)
            assert_true(per_slot_task[s][v] <= 1);
    fl_execution_graph_destroy(eg);
}

static void test_not_enough_slots(void **state) {
    (void)state;
    fl_error err;
    fl_error_clear(&err);
    /* the job graph is taken, also on error: ASan reports a leak otherwise */
    assert_null(fl_execution_graph_create(wordcount_job(), 2, &err));
    assert_int_equal(err.code, FL_ERESOURCE);
    assert_string_equal(err.message, "the job needs 4 slots but the cluster has 2; lower the "
                                     "parallelism or raise taskmanager.numberOfTaskSlots");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subtasks_and_slots),
        cmocka_unit_test(test_slots_are_the_highest_parallelism),
        cmocka_unit_test(test_not_enough_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
