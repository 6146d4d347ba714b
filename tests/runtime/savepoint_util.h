/*
 * savepoint_util.h - what the savepoint tests share: a filter that counts
 * the rows its sources read and slows them down now and then, so that a
 * stop-with-savepoint at a row count (flinc.savepoint-at) lands partway
 * through the input, and the savepoint the last job stopped with.
 */
#ifndef FL_TEST_SAVEPOINT_UTIL_H
#define FL_TEST_SAVEPOINT_UTIL_H

#include <stdio.h>
#include <time.h>

#include "minicluster.h"
#include "rt_util.h"

/* Rows that passed rt_savepoint_slow, over all subtasks; reset before a run. */
static int64_t rows_read;

/* Passes every row of a sequence; sleeps 2 ms at every 300th value. Found
 * by symbol name, so defined here once per test program. */
int rt_savepoint_slow(fl_context *ctx, const fl_row *in) {
    __atomic_fetch_add(&rows_read, 1, __ATOMIC_RELAXED);
    if (fl_row_get_bigint(in, 0) % 300 == 0) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

/* The directory of the savepoint the last job stopped with, into buf;
 * fails the test when it did not stop with one. */
static inline void stopped_savepoint(char *buf, size_t size) {
    fl_checkpoint_stats st = fl_minicluster_last_checkpoint_stats();
    assert_true(st.stopped);
    assert_true(st.savepoint[0] != '\0');
    snprintf(buf, size, "%s", st.savepoint);
}

#endif
