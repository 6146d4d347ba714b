/*
 * clock.c - the time sources of flinc: a monotonic clock for timeouts and
 * latency, the wall clock for processing time, and the one formatter of
 * TIMESTAMP(3) values used by rows, logs and the print sink.
 */
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

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
