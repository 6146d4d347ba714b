/*
 * clock.h - time sources.
 */
#ifndef FL_CORE_CLOCK_H
#define FL_CORE_CLOCK_H

#include <stdint.h>

int64_t fl_clock_monotonic_ns(void); /* CLOCK_MONOTONIC */
int64_t fl_clock_wall_ms(void);      /* milliseconds since the epoch */
/* Formats millis since the epoch as "2026-01-01 12:00:00.000" (UTC). */
void fl_format_timestamp(int64_t millis, char *buf, unsigned size);
void fl_sleep_ns(int64_t ns);

#endif
