/*
 * clock.c - the time sources of flinc: a monotonic clock for timeouts and
 * latency, the wall clock for processing time, and the one formatter of
 * TIMESTAMP(3) values used by rows, logs and the print sink; and manual
 * clocks, the processing time of tests.
 */
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mem.h"

int64_t fl_clock_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t fl_clock_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fl_format_timestamp(int64_t millis, char *buf, unsigned size) {
    if (size == 0)
        return;
    /* Floor division, so that instants before 1970 format correctly. */
    int64_t secs = millis / 1000;
    int64_t ms = millis % 1000;
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if ((int64_t)t != secs || gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, size, "%" PRId64, millis);
        return;
    }
    snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}

void fl_sleep_ns(int64_t ns) {
    if (ns <= 0)
        return;
    struct timespec req = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    struct timespec rem;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

/* ---- manual clocks ------------------------------------------------------------------ */

#define MAX_LISTENERS 256

/* Two locks, never held together: `mu` guards the time, `listeners_mu` the
 * listeners and is held while they run (so none is removed while it runs).
 * A listener takes its task's lock, and a task reads the time while holding
 * that lock, so calling the listeners under `mu` would deadlock. */
struct fl_manual_clock {
    pthread_mutex_t mu;
    int64_t now_ms;
    pthread_mutex_t listeners_mu;
    struct {
        fl_clock_listener_fn fn;
        void *arg;
    } listeners[MAX_LISTENERS];
};

fl_manual_clock *fl_manual_clock_create(int64_t start_ms) {
    fl_manual_clock *c = fl_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->listeners_mu, NULL);
    c->now_ms = start_ms;
    return c;
}

void fl_manual_clock_destroy(fl_manual_clock *c) {
    if (!c) return;
    pthread_mutex_destroy(&c->listeners_mu);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int64_t fl_manual_clock_now(fl_manual_clock *c) {
    pthread_mutex_lock(&c->mu);
    int64_t now = c->now_ms;
    pthread_mutex_unlock(&c->mu);
    return now;
}

void fl_manual_clock_set(fl_manual_clock *c, int64_t ms) {
    pthread_mutex_lock(&c->mu);
    if (ms > c->now_ms) c->now_ms = ms; /* time never goes back */
    pthread_mutex_unlock(&c->mu);
    /* After the move, so a woken task reads the new time; listeners only
     * signal a condition variable. */
    pthread_mutex_lock(&c->listeners_mu);
    for (int i = 0; i < MAX_LISTENERS; i++)
        if (c->listeners[i].fn) c->listeners[i].fn(c->listeners[i].arg);
    pthread_mutex_unlock(&c->listeners_mu);
}

void fl_manual_clock_advance(fl_manual_clock *c, int64_t ms) {
    pthread_mutex_lock(&c->mu);
    int64_t target = c->now_ms + ms;
    pthread_mutex_unlock(&c->mu);
    fl_manual_clock_set(c, target);
}

int fl_manual_clock_listen(fl_manual_clock *c, fl_clock_listener_fn fn, void *arg) {
    pthread_mutex_lock(&c->listeners_mu);
    int id = -1;
    for (int i = 0; i < MAX_LISTENERS && id < 0; i++) {
        if (!c->listeners[i].fn) {
            c->listeners[i].fn = fn;
            c->listeners[i].arg = arg;
            id = i;
        }
    }
    pthread_mutex_unlock(&c->listeners_mu);
    return id;
}

void fl_manual_clock_unlisten(fl_manual_clock *c, int id) {
    if (id < 0 || id >= MAX_LISTENERS) return;
    pthread_mutex_lock(&c->listeners_mu);
    c->listeners[id].fn = NULL;
    c->listeners[id].arg = NULL;
    pthread_mutex_unlock(&c->listeners_mu);
}
