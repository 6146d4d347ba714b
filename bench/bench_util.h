/*
 * bench_util.h - what the benchmark programs share: wall and CPU clocks and
 * the parsing of their numeric options. Header-only (static inline): each
 * benchmark is one program.
 */
#ifndef FLINC_BENCH_UTIL_H
#define FLINC_BENCH_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "flinc/flinc.h"

/* Monotonic wall-clock seconds. */
static inline double bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of the whole process. */
static inline double bench_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Runs the job (fl_env_execute); *wall and *cpu get the wall-clock and the
 * process's user + system CPU seconds it took. fl_env_execute's result. */
static inline int bench_execute(fl_env *env, const char *job_name, double *wall, double *cpu,
                                fl_error *err) {
    double wall0 = bench_now_s(), cpu0 = bench_cpu_s();
    int rc = fl_env_execute(env, job_name, err);
    *wall = bench_now_s() - wall0;
    *cpu = bench_cpu_s() - cpu0;
    return rc;
}

/* A decimal integer in [min, max]: 0, or -1 when s is not one. */
static inline int bench_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* "1,2,4" into out[0..max): the count, or -1 when malformed or empty. */
static inline int bench_parse_list(const char *s, int64_t min, int64_t max_value, int *out,
                                   int max) {
    char buf[256];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (n == max || bench_parse_int64(tok, min, max_value, &v) != 0) return -1;
        out[n++] = (int)v;
    }
    return n > 0 ? n : -1;
}

#endif
