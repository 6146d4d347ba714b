/*
 * test_core_arena.c - arenas: alignment, separate allocations do not
 * overlap, large allocations, reset, and that a warm arena reuses its
 * memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"

static void test_alloc_and_alignment(void **state) {
    (void)state;
    fl_arena *a = fl_arena_create(256);
    assert_int_equal(fl_arena_used(a), 0);
    uint8_t *ptrs[200];
    size_t sizes[200];
    for (int i = 0; i < 200; i++) {
        sizes[i] = (size_t)(i % 13) + 1;
        ptrs[i] = fl_arena_alloc(a, sizes[i]);
        assert_int_equal((uintptr_t)ptrs[i] % 8, 0);
        memset(ptrs[i], i, sizes[i]);
    }
    /* Each allocation kept its own bytes: none overlapped another. */
    for (int i = 0; i < 200; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            assert_int_equal(ptrs[i][k], (uint8_t)i);
    size_t expected = 0;
    for (int i = 0; i < 200; i++)
        expected += (sizes[i] + 7) / 8 * 8;
    assert_int_equal(fl_arena_used(a), expected);

    /* Larger than a block. */
    uint8_t *big = fl_arena_alloc(a, 10000);
    memset(big, 0xab, 10000);
    assert_int_equal((uintptr_t)big % 8, 0);
    assert_int_equal(ptrs[199][0], 199);

    char *s = fl_arena_strdup(a, "copied");
    assert_string_equal(s, "copied");
    void *z1 = fl_arena_alloc(a, 0);
    void *z2 = fl_arena_alloc(a, 0);
    assert_true(z1 != z2);
    fl_arena_destroy(a);
    fl_arena_destroy(NULL);
}

static void test_reset_reuses(void **state) {
    (void)state;
    fl_arena *a = fl_arena_create(1024);
    void *first = fl_arena_alloc(a, 16);
    fl_arena_reset(a);
    assert_int_equal(fl_arena_used(a), 0);
    assert_ptr_equal(fl_arena_alloc(a, 16), first); /* one block: reused in place */

    /* A batch that needed several blocks: after reset it fits in one. */
    for (int i = 0; i < 100; i++)
        fl_arena_alloc(a, 100);
    fl_arena_reset(a);
    uint8_t *base = fl_arena_alloc(a, 100);
    uint8_t *prev = base;
    for (int i = 1; i < 100; i++) {
        uint8_t *p = fl_arena_alloc(a, 100);
        assert_ptr_equal(p, prev + 104); /* contiguous: no new block */
        prev = p;
    }
    fl_arena_reset(a);
    assert_ptr_equal(fl_arena_alloc(a, 100), base);
    fl_arena_destroy(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_and_alignment),
        cmocka_unit_test(test_reset_reuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
