/*
 * savepoint_util.h - what the savepoint tests share: a filter that counts
 * the rows its sources read and slows them down now and then, so that a
 * stop-with-savepoint at a row count (flinc.savepoint-at) lands partway
 * through the input, the savepoint the last job stopped with, and a job run
 * in a thread of its own, so that the test's thread can stop it meanwhile.
 */
#ifndef FL_TEST_SAVEPOINT_UTIL_H
#define FL_TEST_SAVEPOINT_UTIL_H

#include <pthread.h>
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

/* A job executed in a thread of its own (rt_job_start): env, out and name
 * are the caller's to set; rc and err are the outcome. */
typedef struct rt_job {
    fl_env *env;
    fl_collect *out;
    const char *name;
    pthread_t thread;
    int rc;
    fl_error err;
} rt_job;

static inline void *rt_job_main(void *arg) {
    rt_job *j = arg;
    j->rc = fl_env_execute(j->env, j->name, &j->err);
    return NULL;
}

static inline void rt_job_start(rt_job *j) {
    assert_int_equal(pthread_create(&j->thread, NULL, rt_job_main, j), 0);
}

/* Joins the job, which must have finished (a stopped job does). */
static inline void rt_job_join(rt_job *j) {
    pthread_join(j->thread, NULL);
    if (j->rc != 0) fail_msg("the job failed: %s", j->err.message);
}

#endif
