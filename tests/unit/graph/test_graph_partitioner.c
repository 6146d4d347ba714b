/*
 * test_graph_partitioner.c - partitioner names and the subtask wiring of an
 * edge: hand-worked RESCALE cases, every other partitioner's shape, and a
 * brute-force check over all parallelisms 1..16 that the consumer view and
 * the producer view of every edge describe the same connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "graph.h"

static const fl_partitioner all_partitioners[] = {
    FL_PART_FORWARD,   FL_PART_REBALANCE, FL_PART_RESCALE, FL_PART_SHUFFLE,
    FL_PART_BROADCAST, FL_PART_GLOBAL,    FL_PART_HASH,    FL_PART_CUSTOM,
};
#define N_ALL ((int)(sizeof(all_partitioners) / sizeof(all_partitioners[0])))

static void test_names_and_parse(void **state) {
    (void)state;
    const char *expected[] = {"FORWARD",   "REBALANCE", "RESCALE", "SHUFFLE",
                              "BROADCAST", "GLOBAL",    "HASH",    "CUSTOM"};
    for (int i = 0; i < N_ALL; i++) {
        assert_string_equal(fl_partitioner_name(all_partitioners[i]), expected[i]);
        fl_partitioner p = FL_PART_FORWARD;
        assert_int_equal(fl_partitioner_parse(expected[i], &p), 0);
        assert_int_equal(p, all_partitioners[i]);
    }
    fl_partitioner p = FL_PART_FORWARD;
    assert_int_equal(fl_partitioner_parse("rescale", &p), 0);
    assert_int_equal(p, FL_PART_RESCALE);
    assert_int_equal(fl_partitioner_parse("Hash", &p), 0);
    assert_int_equal(p, FL_PART_HASH);
    assert_int_equal(fl_partitioner_parse("keyby", &p), FL_EINVAL);
    assert_int_equal(fl_partitioner_parse("", &p), FL_EINVAL);
    assert_int_equal(fl_partitioner_parse(NULL, &p), FL_EINVAL);
    assert_int_equal(p, FL_PART_HASH); /* untouched on failure */
}

static void expect_consumers(fl_partitioner p, int P, int Q, int producer, int first, int count) {
    int f = -1, c = -1;
    fl_edge_consumers(p, P, Q, producer, &f, &c);
    assert_int_equal(f, first);
    assert_int_equal(c, count);
}

static void expect_producers(fl_partitioner p, int P, int Q, int consumer, int first, int count) {
    int f = -1, c = -1;
    fl_edge_producers(p, P, Q, consumer, &f, &c);
    assert_int_equal(f, first);
    assert_int_equal(c, count);
}

static void test_forward_is_one_to_one(void **state) {
    (void)state;
    for (int i = 0; i < 5; i++) {
        expect_consumers(FL_PART_FORWARD, 5, 5, i, i, 1);
        expect_producers(FL_PART_FORWARD, 5, 5, i, i, 1);
    }
}

/* Worked by hand from the rule in graph.h. */
static void test_rescale_by_hand(void **state) {
    (void)state;
    /* 4 -> 2: producers 0,1 -> consumer 0; 2,3 -> consumer 1 */
    expect_consumers(FL_PART_RESCALE, 4, 2, 0, 0, 1);
    expect_consumers(FL_PART_RESCALE, 4, 2, 1, 0, 1);
    expect_consumers(FL_PART_RESCALE, 4, 2, 2, 1, 1);
    expect_consumers(FL_PART_RESCALE, 4, 2, 3, 1, 1);
    expect_producers(FL_PART_RESCALE, 4, 2, 0, 0, 2);
    expect_producers(FL_PART_RESCALE, 4, 2, 1, 2, 2);
    /* 2 -> 4: producer 0 -> consumers 0,1; producer 1 -> 2,3 */
    expect_consumers(FL_PART_RESCALE, 2, 4, 0, 0, 2);
    expect_consumers(FL_PART_RESCALE, 2, 4, 1, 2, 2);
    expect_producers(FL_PART_RESCALE, 2, 4, 0, 0, 1);
    expect_producers(FL_PART_RESCALE, 2, 4, 1, 0, 1);
    expect_producers(FL_PART_RESCALE, 2, 4, 2, 1, 1);
    expect_producers(FL_PART_RESCALE, 2, 4, 3, 1, 1);
    /* 3 -> 2: i * 2 / 3 = 0, 0, 1 */
    expect_consumers(FL_PART_RESCALE, 3, 2, 0, 0, 1);
    expect_consumers(FL_PART_RESCALE, 3, 2, 1, 0, 1);
    expect_consumers(FL_PART_RESCALE, 3, 2, 2, 1, 1);
    expect_producers(FL_PART_RESCALE, 3, 2, 0, 0, 2);
    expect_producers(FL_PART_RESCALE, 3, 2, 1, 2, 1);
    /* 2 -> 3: producer 0 -> [0, 1), producer 1 -> [1, 3) */
    expect_consumers(FL_PART_RESCALE, 2, 3, 0, 0, 1);
    expect_consumers(FL_PART_RESCALE, 2, 3, 1, 1, 2);
    expect_producers(FL_PART_RESCALE, 2, 3, 0, 0, 1);
    expect_producers(FL_PART_RESCALE, 2, 3, 1, 1, 1);
    expect_producers(FL_PART_RESCALE, 2, 3, 2, 1, 1);
    /* 1 -> 3 and 3 -> 1 */
    expect_consumers(FL_PART_RESCALE, 1, 3, 0, 0, 3);
    expect_producers(FL_PART_RESCALE, 3, 1, 0, 0, 3);
}

static void test_all_to_all(void **state) {
    (void)state;
    fl_partitioner a2a[] = {FL_PART_REBALANCE, FL_PART_SHUFFLE, FL_PART_BROADCAST,
                            FL_PART_GLOBAL,    FL_PART_HASH,    FL_PART_CUSTOM};
    for (size_t k = 0; k < sizeof(a2a) / sizeof(a2a[0]); k++) {
        for (int i = 0; i < 3; i++)
            expect_consumers(a2a[k], 3, 5, i, 0, 5);
        for (int j = 0; j < 5; j++)
            expect_producers(a2a[k], 3, 5, j, 0, 3);
    }
}

static void test_out_of_range_subtask_has_no_peers(void **state) {
    (void)state;
    expect_consumers(FL_PART_RESCALE, 2, 4, 2, 0, 0);
    expect_producers(FL_PART_HASH, 2, 4, 4, 0, 0);
    expect_consumers(FL_PART_FORWARD, 2, 2, -1, 0, 0);
}

/* The reference for RESCALE straight from the header's words. */
static bool rescale_connected(int P, int Q, int i, int j) {
    if (P >= Q)
        return j == i * Q / P;
    return j >= i * Q / P && j < (i + 1) * Q / P;
}

static void test_brute_force_consistency(void **state) {
    (void)state;
    enum { MAX = 16 };
    for (int k = 0; k < N_ALL; k++) {
        fl_partitioner p = all_partitioners[k];
        for (int P = 1; P <= MAX; P++) {
            for (int Q = 1; Q <= MAX; Q++) {
                if (p == FL_PART_FORWARD && P != Q)
                    continue;
                bool by_producer[MAX][MAX] = {{false}}, by_consumer[MAX][MAX] = {{false}};
                for (int i = 0; i < P; i++) {
                    int first, count;
                    fl_edge_consumers(p, P, Q, i, &first, &count);
                    assert_true(count >= 1);
                    assert_true(first >= 0 && first + count <= Q);
                    for (int j = first; j < first + count; j++)
                        by_producer[i][j] = true;
                }
                for (int j = 0; j < Q; j++) {
                    int first, count;
                    fl_edge_producers(p, P, Q, j, &first, &count);
                    assert_true(count >= 1);
                    assert_true(first >= 0 && first + count <= P);
                    for (int i = first; i < first + count; i++)
                        by_consumer[i][j] = true;
                }
                for (int i = 0; i < P; i++) {
                    for (int j = 0; j < Q; j++) {
                        bool expected;
                        if (p == FL_PART_FORWARD)
                            expected = i == j;
                        else if (p == FL_PART_RESCALE)
                            expected = rescale_connected(P, Q, i, j);
                        else
                            expected = true;
                        if (by_producer[i][j] != expected || by_consumer[i][j] != expected)
                            fail_msg("%s P=%d Q=%d producer %d consumer %d: consumers say %d, "
                                     "producers say %d, expected %d",
                                     fl_partitioner_name(p), P, Q, i, j, by_producer[i][j],
                                     by_consumer[i][j], expected);
                    }
                }
            }
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_parse),
        cmocka_unit_test(test_forward_is_one_to_one),
        cmocka_unit_test(test_rescale_by_hand),
        cmocka_unit_test(test_all_to_all),
        cmocka_unit_test(test_out_of_range_subtask_has_no_peers),
        cmocka_unit_test(test_brute_force_consistency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
