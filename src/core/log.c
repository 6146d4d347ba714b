/*
 * log.c - process-wide leveled logging in Flink's line format.
 *
 * A line is formatted on the caller's stack and written with one locked
 * fwrite, so lines from different threads never interleave. The level is an
 * atomic read on every call (the check the fl_debug macro does before
 * formatting anything); the destination is behind the same mutex as writes.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "fs.h"

#define LOG_LINE_MAX 4096

static atomic_int log_level = FL_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file; /* NULL: stderr */

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};

int fl_log_level_parse(const char *s, fl_log_level *out) {
    if (s == NULL)
        return FL_EINVAL;
    for (int i = FL_LOG_TRACE; i <= FL_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (fl_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "WARNING") == 0) {
        *out = FL_LOG_WARN;
        return 0;
    }
    return FL_EINVAL;
}

void fl_log_set_level(fl_log_level level) { atomic_store(&log_level, (int)level); }

fl_log_level fl_log_get_level(void) { return (fl_log_level)atomic_load(&log_level); }

int fl_log_set_file(const char *path, fl_error *err) {
    FILE *f = NULL;
    if (path != NULL) {
        f = fopen(path, "a");
        if (f == NULL) {
            char why[128];
            return fl_error_set(err, FL_EIO, "could not open log file \"%s\": %s", path,
                                fl_errno_text(errno, why, sizeof why));
        }
    }
    pthread_mutex_lock(&log_lock);
    FILE *old = log_file;
    log_file = f;
    pthread_mutex_unlock(&log_lock);
    if (old != NULL)
        fclose(old);
    return 0;
}

void fl_log(fl_log_level level, const char *component, const char *fmt, ...) {
    if (level < fl_log_get_level() || level >= FL_LOG_OFF || level < FL_LOG_TRACE)
        return;

    char line[LOG_LINE_MAX];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    time_t secs = tv.tv_sec;
    localtime_r(&secs, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d,%03d %-5s %s - ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), level_names[level],
                     component ? component : "flinc");
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;

    /* The message goes on the stack when it fits, on the heap otherwise, so a
     * long message (a stack trace, a plan) is never cut. */
    char *heap = NULL;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    const char *out = line;
    size_t out_len = len + (size_t)m;
    if ((size_t)m >= sizeof line - len) {
        heap = malloc(len + (size_t)m + 2);
        if (heap != NULL) {
            memcpy(heap, line, len);
            va_start(ap, fmt);
            vsnprintf(heap + len, (size_t)m + 1, fmt, ap);
            va_end(ap);
            out = heap;
        } else {
            out_len = sizeof line - 1;
        }
    }
    /* One line per call: drop a trailing newline the caller may have added. */
    while (out_len > len && out[out_len - 1] == '\n')
        out_len--;

    pthread_mutex_lock(&log_lock);
    FILE *f = log_file ? log_file : stderr;
    fwrite(out, 1, out_len, f);
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&log_lock);
    free(heap);
}
