/*
 * log.h - leveled logging to stderr or a log file, safe from any thread.
 *
 * One line per call: "2026-01-01 12:00:00,123 INFO  component - message".
 * The level and destination are process-wide, set once at start-up.
 */
#ifndef FL_CORE_LOG_H
#define FL_CORE_LOG_H

#include "flinc/error.h"

typedef enum fl_log_level {
    FL_LOG_TRACE = 0,
    FL_LOG_DEBUG,
    FL_LOG_INFO,
    FL_LOG_WARN,
    FL_LOG_ERROR,
    FL_LOG_OFF,
} fl_log_level;

/* "TRACE".."ERROR","OFF" (case-insensitive). 0 or FL_EINVAL. */
int fl_log_level_parse(const char *s, fl_log_level *out);
void fl_log_set_level(fl_log_level level);
fl_log_level fl_log_get_level(void);
/* Appends to path (created); NULL returns to stderr. 0 or FL_EIO. */
int fl_log_set_file(const char *path, fl_error *err);

void fl_log(fl_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define FL_LOG_ENABLED(lvl) ((lvl) >= fl_log_get_level())
#define fl_debug(comp, ...) \
    do { if (FL_LOG_ENABLED(FL_LOG_DEBUG)) fl_log(FL_LOG_DEBUG, comp, __VA_ARGS__); } while (0)
#define fl_info(comp, ...) fl_log(FL_LOG_INFO, comp, __VA_ARGS__)
#define fl_warn(comp, ...) fl_log(FL_LOG_WARN, comp, __VA_ARGS__)
#define fl_errlog(comp, ...) fl_log(FL_LOG_ERROR, comp, __VA_ARGS__)

#endif
