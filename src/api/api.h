/*
 * api.h - what the flinc command needs from the API layer beyond the public
 * DataStream API: an environment made from a loaded configuration, the job's
 * shared object to resolve functions in, and plan-only execution for
 * `flinc info`.
 */
#ifndef FL_API_H
#define FL_API_H

#include <stdio.h>

#include "config.h"
#include "flinc/datastream.h"

/* Checks the values of the keys flinc parses (parallelism, buffer timeout,
 * sizes, runtime mode, ...) in a configuration from a file or -D. */
int fl__config_check(const fl_config *c, fl_error *err);

/* An environment running with configuration cfg (taken). */
fl_env *fl__env_create_with_config(fl_config *cfg);
/* User functions are looked up in this dlopen() handle first (borrowed; the
 * caller keeps it open while the env exists); path names it in errors. */
void fl__env_set_library(fl_env *env, void *handle, const char *path);
/* execute() prints the job graph to out instead of running the job. */
void fl__env_set_plan_only(fl_env *env, FILE *out);
/* How many times execute() was called. */
int fl__env_executions(const fl_env *env);
/* The error of the last execute() (NULL when it succeeded or never ran). */
const fl_error *fl__env_last_error(const fl_env *env);

#endif
