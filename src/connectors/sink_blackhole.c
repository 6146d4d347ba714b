/*
 * sink_blackhole.c - the "blackhole" sink: counts rows and drops them (for
 * benchmarks and for jobs whose effect is elsewhere), and the process-wide
 * registry of named counters it reports into.
 *
 * The hot path is a local increment; a subtask adds its count to the counter
 * named by its "counter" option when it finishes (and, for what arrived after
 * that, when it closes), under one mutex.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "connectors.h"
#include "connectors_int.h"
#include "mem.h"

#define NAME "blackhole"

static const fl_option_def options[] = {
    {"counter", NULL, false,
     "name of a process-wide counter that receives the number of rows "
     "(fl_connector_counter_get)"},
    {NULL, NULL, false, NULL},
};

/* ---- the counter registry ---------------------------------------------------------------- */

typedef struct named_counter {
    char *id;
    int64_t count;
} named_counter;

static pthread_mutex_t counters_lock = PTHREAD_MUTEX_INITIALIZER;
static named_counter *counters;
static size_t n_counters;

/* Index of id, or n_counters. Call with the lock held. */
static size_t counter_find(const char *id) {
    size_t i = 0;
    while (i < n_counters && strcmp(counters[i].id, id) != 0)
        i++;
    return i;
}

static void counter_add(const char *id, int64_t delta) {
    pthread_mutex_lock(&counters_lock);
    size_t i = counter_find(id);
    if (i == n_counters) {
        counters = fl_xrealloc(counters, (n_counters + 1) * sizeof *counters);
        counters[n_counters++] = (named_counter){fl_xstrdup(id), 0};
    }
    counters[i].count += delta;
    pthread_mutex_unlock(&counters_lock);
}

int64_t fl_connector_counter_get(const char *id) {
    if (id == NULL)
        return 0;
    pthread_mutex_lock(&counters_lock);
    size_t i = counter_find(id);
    int64_t count = i < n_counters ? counters[i].count : 0;
    pthread_mutex_unlock(&counters_lock);
    return count;
}

void fl_connector_counter_reset(const char *id) {
    if (id == NULL)
        return;
    pthread_mutex_lock(&counters_lock);
    size_t i = counter_find(id);
    if (i < n_counters) {
        free(counters[i].id);
        counters[i] = counters[--n_counters];
        if (n_counters == 0) {
            free(counters);
            counters = NULL;
        }
    }
    pthread_mutex_unlock(&counters_lock);
}

/* ---- the sink ---------------------------------------------------------------------------- */

typedef struct blackhole_state {
    char *counter; /* NULL: count only locally */
    int64_t unreported;
} blackhole_state;

static int blackhole_validate(const fl_options *o, const fl_schema *input, fl_error *err) {
    return 0;
}

static int blackhole_open(fl_sink_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    blackhole_state *st = fl_xcalloc(1, sizeof *st);
    const char *id = fl_options_get(o, "counter");
    if (id != NULL && id[0] != '\0')
        st->counter = fl_xstrdup(id);
    *state = st;
    return 0;
}

static int blackhole_write(void *state, const fl_row *const *rows, const int64_t *timestamps,
                           size_t n, fl_error *err) {
    blackhole_state *st = state;
    st->unreported += (int64_t)n;
    return 0;
}

static void report(blackhole_state *st) {
    if (st->counter != NULL && st->unreported != 0)
        counter_add(st->counter, st->unreported);
    st->unreported = 0;
}

static int blackhole_finish(void *state, fl_error *err) {
    report(state);
    return 0;
}

static void blackhole_close(void *state) {
    blackhole_state *st = state;
    if (st == NULL)
        return;
    report(st);
    free(st->counter);
    free(st);
}

const fl_sink_connector fl__sink_blackhole = {
    .name = NAME,
    .description = "Counts and drops every row (discard()).",
    .options = options,
    .validate = blackhole_validate,
    .open = blackhole_open,
    .write = blackhole_write,
    .finish = blackhole_finish,
    .close = blackhole_close,
};
