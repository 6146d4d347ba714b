/*
 * clock.h - time sources.
 */
#ifndef FL_CORE_CLOCK_H
#define FL_CORE_CLOCK_H

#include <stdint.h>

#include "flinc/datastream.h"

int64_t fl_clock_monotonic_ns(void); /* CLOCK_MONOTONIC */
int64_t fl_clock_wall_ms(void);      /* milliseconds since the epoch */
/* Formats millis since the epoch as "2026-01-01 12:00:00.000" (UTC). */
void fl_format_timestamp(int64_t millis, char *buf, unsigned size);
void fl_sleep_ns(int64_t ns);

/* Manual clocks (the public half is in flinc/datastream.h): processing time
 * that only moves when a test moves it. Listeners are told after every move,
 * so tasks waiting for a processing-time timer wake up. Thread-safe. */
typedef void (*fl_clock_listener_fn)(void *arg);
/* Returns a listener id for fl_manual_clock_unlisten. */
int fl_manual_clock_listen(fl_manual_clock *c, fl_clock_listener_fn fn, void *arg);
void fl_manual_clock_unlisten(fl_manual_clock *c, int id);

#endif
