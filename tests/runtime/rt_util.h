/*
 * rt_util.h - small helpers shared by the runtime tests: building a test
 * environment and reading collected rows.
 */
#ifndef FL_TEST_RT_UTIL_H
#define FL_TEST_RT_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "flinc/flinc.h"

/* An environment with parallelism p and key=value pairs (NULL-terminated). */
static inline fl_env *rt_env(int p, ...) {
    fl_env *env = fl_env_create();
    fl_env_set_parallelism(env, p);
    va_list ap;
    va_start(ap, p);
    for (const char *k; (k = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        fl_error err = {0};
        assert_int_equal(fl_env_configure(env, k, v, &err), 0);
    }
    va_end(ap);
    return env;
}

/* Executes and fails the test with the message when the job does not finish. */
static inline void rt_execute(fl_env *env, const char *name) {
    fl_error err = {0};
    int rc = fl_env_execute(env, name, &err);
    if (rc != 0) fail_msg("job %s failed: %s", name, err.message);
}

#endif
