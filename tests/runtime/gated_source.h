/*
 * gated_source.h - the "gated" sequence of the runtime tests that must know
 * where their sources are when they act (stop-with-savepoint, broadcast
 * state restore, final states): values 0..GATED_END-1 split over the
 * subtasks, each subtask emitting its part up to a gate the test moves and
 * idling there, so that a stop or a checkpoint lands at a known place
 * whatever the machine's speed. Define GATED_END (the number of values) and
 * GATED_PARALLEL (false: the source runs at parallelism 1) before including.
 *
 * The source shares what it does with the test under mu, and whoever changes
 * what a waiter reads broadcasts cv; a test keeps its own shared state under
 * the same mutex, so that one wait can read both. Included once per test
 * program.
 */
#ifndef FL_TEST_GATED_SOURCE_H
#define FL_TEST_GATED_SOURCE_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "flinc/connector.h"
#include "rt_util.h"

#if !defined(GATED_END) || !defined(GATED_PARALLEL)
#error "define GATED_END and GATED_PARALLEL before including gated_source.h"
#endif

#define WAIT_S 120 /* for events that take milliseconds; only a hang reaches it */

/* ---- what the source shares with the test, under mu ------------------------------------------ */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int64_t gate;               /* each subtask emits its part's values below start + gate */
static int gated_at_gate;          /* subtasks that reached the current gate and idle there */
static atomic_llong gated_emitted; /* rows the source emitted (atomic; the test resets it) */

/* Of the source of a job at parallelism 1 (with more subtasks, of whichever
 * wrote last): the value it emits next, as of its last read that emitted,
 * and where it restored to (GATED_END: no split left; -1: not restored)
 * from how many splits. */
static int64_t gated_next;
static int64_t gated_restored_at;
static int64_t gated_restored_splits;

/* Before a run (mu held): the gate at `at` (an offset in each subtask's
 * part), nothing emitted, not restored. */
static inline void gated_reset_locked(int64_t at) {
    gate = at;
    gated_at_gate = 0;
    gated_next = 0;
    gated_restored_at = -1;
    gated_restored_splits = 0;
    atomic_store(&gated_emitted, 0);
}

/* Moves the gate to `to` (mu held); the subtasks at the old one go on at
 * their next poll and are counted again at the new one. */
static inline void gated_move_locked(int64_t to) {
    gate = to;
    gated_at_gate = 0;
    pthread_cond_broadcast(&cv);
}

/* Waits (mu held) until done() holds; whoever changes what it reads
 * broadcasts cv. False after WAIT_S. */
static inline bool wait_locked(bool (*done)(void)) {
    struct timespec ts; /* pthread_cond_timedwait's clock is CLOCK_REALTIME */
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_S;
    int rc = 0;
    while (!done() && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&cv, &mu, &ts);
    return done();
}

/* The test's side: fails the test when done() does not come to hold. */
static inline void wait_for(bool (*done)(void), const char *what) {
    pthread_mutex_lock(&mu);
    bool ok = wait_locked(done);
    pthread_mutex_unlock(&mu);
    if (!ok) fail_msg("%s did not happen within %d s", what, WAIT_S);
}

/* ---- the source ("gated-sequence") ----------------------------------------------------------- */

/* A split is a range of values and the next one; none once done, as the
 * connector contract has it. */
typedef struct gated_split {
    int64_t next, end, start; /* values; the gate counts from start */
} gated_split;

typedef struct gated {
    gated_split splits[4]; /* the first is read; a restore may hand over several */
    int n_splits;
    int64_t waited_at; /* the gate this subtask last reported at */
} gated;

static fl_schema *gated_schema(const fl_options *opts, const fl_schema *declared, fl_error *err) {
    return fl_schema_of(1, "value", FL_BIGINT);
}

static bool gated_bounded(const fl_options *opts) { return true; }

static int gated_open(fl_source_ctx *ctx, const fl_options *opts, void **state, fl_error *err) {
    gated *g = calloc(1, sizeof *g);
    int i = fl_source_subtask_index(ctx), p = fl_source_parallelism(ctx);
    int64_t start = (int64_t)GATED_END * i / p;
    g->splits[0] = (gated_split){start, (int64_t)GATED_END * (i + 1) / p, start};
    g->n_splits = 1;
    g->waited_at = -1;
    *state = g;
    return 0;
}

static int gated_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    gated *g = state;
    while (g->n_splits > 0 && g->splits[0].next >= g->splits[0].end)
        g->splits[0] = g->splits[--g->n_splits];
    if (g->n_splits == 0) return FL_SOURCE_END;
    gated_split *s = &g->splits[0];
    pthread_mutex_lock(&mu);
    int64_t limit = s->start + gate;
    if (s->next >= limit && g->waited_at != gate) {
        g->waited_at = gate;
        gated_at_gate++;
        pthread_cond_broadcast(&cv);
    }
    pthread_mutex_unlock(&mu);
    if (s->next >= limit) {
        /* Mail (a barrier) wakes the task at once; the gate is polled. */
        fl_source_idle_until(ctx, fl_clock_monotonic_ns() + 20 * 1000000LL);
        return FL_SOURCE_IDLE;
    }
    for (int k = 0; k < 256 && s->next < s->end && s->next < limit; k++) {
        fl_row_builder_set_bigint(fl_source_builder(ctx), 0, s->next);
        int rc = fl_source_emit(ctx, FL_NO_TIMESTAMP);
        if (rc < 0) return rc;
        s->next++;
        atomic_fetch_add(&gated_emitted, 1);
    }
    /* Read by snapshot hooks chained to the source, in this thread, between
     * reads, and by the test. */
    pthread_mutex_lock(&mu);
    gated_next = s->next;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return FL_SOURCE_MORE;
}

static void gated_close(void *state) { free(state); }

static int gated_snapshot(void *state, fl_split_list *out, fl_error *err) {
    gated *g = state;
    for (int i = 0; i < g->n_splits; i++)
        if (g->splits[i].next < g->splits[i].end)
            fl_split_list_add(out, &g->splits[i], sizeof g->splits[i]);
    return 0;
}

static int gated_restore(void *state, const fl_split *splits, size_t n, fl_error *err) {
    gated *g = state;
    if (n > 4) return fl_error_set(err, FL_EINVAL, "more than 4 splits");
    g->n_splits = 0;
    for (size_t i = 0; i < n; i++) {
        if (splits[i].len != sizeof(gated_split)) return fl_error_set(err, FL_EFORMAT, "bad split");
        memcpy(&g->splits[g->n_splits++], splits[i].data, sizeof(gated_split));
    }
    pthread_mutex_lock(&mu);
    gated_restored_at = n > 0 ? g->splits[0].next : GATED_END;
    gated_restored_splits = (int64_t)n;
    pthread_mutex_unlock(&mu);
    return 0;
}

static const fl_option_def gated_options[] = {{NULL, NULL, false, NULL}};

static const fl_source_connector gated_connector = {
    .name = "gated-sequence",
    .description = "0..GATED_END-1 split over the subtasks, held at a gate the test moves.",
    .options = gated_options,
    .parallel = GATED_PARALLEL,
    .schema = gated_schema,
    .bounded = gated_bounded,
    .open = gated_open,
    .read = gated_read,
    .close = gated_close,
    .snapshot = gated_snapshot,
    .restore = gated_restore,
};

/* Registers source c (borrowed: static) unless one of its name is known;
 * jobs then name it. */
static inline void register_source(const fl_source_connector *c) {
    if (fl_source_connector_find(c->name)) return;
    fl_error err = {0};
    if (fl_source_connector_register(c, &err) != 0) fail_msg("%s", err.message);
}

#endif
