/*
 * env.c - the execution environment: configuration, job parameters, the
 * StreamGraph being built, and execute().
 *
 * execute() finishes the plan (default parallelism, max parallelism, buffer
 * timeout, the configuration the job runs with), ships it the way a cluster
 * would — serialized to JSON and read back — chains it into a JobGraph and
 * runs it on the embedded mini-cluster, resolving every user function by its
 * symbol name in the job's shared object or the program.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "connectors.h"
#include "log.h"
#include "mem.h"
#include "minicluster.h"
#include "options.h"

/* ---- creation -------------------------------------------------------------------------- */

fl_env *fl__env_create_with_config(fl_config *cfg) {
    fl_env *env = fl_xcalloc(1, sizeof *env);
    env->config = cfg;
    env->params = fl_kv_create();
    env->graph = fl_stream_graph_create();
    env->poison_node = -1;
    return env;
}

fl_env *fl_env_create(void) { return fl__env_create_with_config(fl_config_create()); }

void fl_env_destroy(fl_env *env) {
    if (!env) return;
    for (fl_stream *s = env->handles, *next; s; s = next) {
        next = s->next_handle;
        for (int i = 0; i < s->n_inputs; i++) {
            fl_key_spec_destroy(s->inputs[i].key);
            free(s->inputs[i].partition_fn);
            free(s->inputs[i].side_output);
        }
        free(s->inputs);
        free(s->registry_id);
        free(s);
    }
    for (int i = 0; i < env->n_kept; i++) free(env->kept[i]);
    free(env->kept);
    for (fl_collect *c = env->collects, *next; c; c = next) {
        next = c->next;
        fl_collect_registry_close(c->id);
        free(c->id);
        free(c);
    }
    fl_stream_graph_destroy(env->graph);
    fl_kv_destroy(env->params);
    fl_config_destroy(env->config);
    free(env->library_path);
    free(env);
}

void *fl__env_keep(fl_env *env, void *block) {
    if (env->n_kept == env->cap_kept) {
        env->cap_kept = env->cap_kept ? env->cap_kept * 2 : 8;
        env->kept = fl_xrealloc(env->kept, (size_t)env->cap_kept * sizeof *env->kept);
    }
    env->kept[env->n_kept++] = block;
    return block;
}

void fl__env_set_library(fl_env *env, void *handle, const char *path) {
    env->library = handle;
    free(env->library_path);
    env->library_path = path ? fl_xstrdup(path) : NULL;
}

void fl__env_set_plan_only(fl_env *env, FILE *out) { env->plan_out = out; }
void fl_env_set_clock(fl_env *env, fl_manual_clock *c) { env->clock = c; }
int fl__env_executions(const fl_env *env) { return env->executions; }
const fl_error *fl_env_error(const fl_env *env) { return env->error.code ? &env->error : NULL; }

/* ---- configuration ---------------------------------------------------------------------- */

/* Keys whose values execute() parses: checked as soon as they are set. */
static int check_value(const char *key, const char *value, fl_error *err) {
    int64_t n;
    bool b;
    if (!strcmp(key, FL_CONF_PARALLELISM) || !strcmp(key, FL_CONF_MAX_PARALLELISM) ||
        !strcmp(key, FL_CONF_SLOTS) || !strcmp(key, FL_CONF_BUFFERS_PER_CHANNEL) ||
        !strcmp(key, FL_CONF_FLOATING_BUFFERS)) {
        bool ok = fl_parse_int(value, &n) == 0 &&
                  (n >= 1 || (!strcmp(key, FL_CONF_FLOATING_BUFFERS) && n >= 0)) &&
                  n <= FL_MAX_PARALLELISM_LIMIT;
        if (!ok)
            return fl_error_set(err, FL_ECONFIG,
                                "invalid value \"%s\" for \"%s\": expected a positive integer",
                                value, key);
    } else if (!strcmp(key, "pipeline.auto-watermark-interval")) {
        if (fl_parse_duration_ms(value, &n) < 0)
            return fl_error_set(err, FL_ECONFIG,
                                "invalid value \"%s\" for \"%s\": expected a duration such as "
                                "\"200 ms\" (0 emits after every row)",
                                value, key);
    } else if (!strcmp(key, FL_CONF_BUFFER_TIMEOUT)) {
        if (fl_parse_duration_ms(value, &n) < 0 && !(fl_parse_int(value, &n) == 0 && n == -1))
            return fl_error_set(err, FL_ECONFIG,
                                "invalid value \"%s\" for \"%s\": expected a duration such as "
                                "\"100 ms\" (0 flushes every record, -1 only full buffers)",
                                value, key);
    } else if (!strcmp(key, FL_CONF_BUFFER_SIZE)) {
        if (fl_parse_size(value, &n) < 0)
            return fl_error_set(err, FL_ECONFIG,
                                "invalid value \"%s\" for \"%s\": expected a size such as \"32kb\"",
                                value, key);
    } else if (!strcmp(key, FL_CONF_CHAINING) || !strcmp(key, FL_CONF_WINDOW_LOCAL_AGGREGATION)) {
        if (fl_parse_bool(value, &b) < 0)
            return fl_error_set(err, FL_ECONFIG,
                                "invalid value \"%s\" for \"%s\": expected true or false", value,
                                key);
    } else if (!strcmp(key, "execution.runtime-mode")) {
        if (strcasecmp(value, "STREAMING") && strcasecmp(value, "BATCH") &&
            strcasecmp(value, "AUTOMATIC"))
            return fl_error_set(err, FL_ECONFIG,
                                "invalid value \"%s\" for \"%s\": expected STREAMING, BATCH or "
                                "AUTOMATIC",
                                value, key);
    }
    return 0;
}

int fl_env_configure(fl_env *env, const char *key, const char *value, fl_error *err) {
    if (!key || !*key || !value)
        return fl_error_set(err, FL_ECONFIG, "a configuration key and value are required");
    int rc = check_value(key, value, err);
    if (rc < 0) return rc;
    fl_config_set(env->config, key, value);
    return 0;
}

int fl__config_check(const fl_config *c, fl_error *err) {
    const fl_kv *kv = fl_config_entries(c);
    for (size_t i = 0; i < fl_kv_count(kv); i++) {
        int rc = check_value(fl_kv_key(kv, i), fl_kv_value(kv, i), err);
        if (rc < 0) return rc;
    }
    return 0;
}

const char *fl_env_config(const fl_env *env, const char *key) {
    return fl_config_get(env->config, key);
}

static int config_int(const fl_env *env, const char *key, int dflt) {
    int64_t v;
    if (fl_config_get_int(env->config, key, dflt, &v, NULL) < 0) return dflt;
    return (int)v;
}

static void set_int(fl_env *env, const char *key, int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    fl_config_set(env->config, key, buf);
}

void fl_env_set_parallelism(fl_env *env, int p) {
    if (p < 1) {
        fl__env_fail(env, NULL, FL_EINVAL, "parallelism must be at least 1, not %d", p);
        return;
    }
    set_int(env, FL_CONF_PARALLELISM, p);
}
int fl_env_get_parallelism(const fl_env *env) { return config_int(env, FL_CONF_PARALLELISM, 1); }

void fl_env_set_max_parallelism(fl_env *env, int p) {
    if (p < 1 || p > FL_MAX_PARALLELISM_LIMIT) {
        fl__env_fail(env, NULL, FL_EINVAL, "max parallelism must be in [1, %d], not %d",
                     FL_MAX_PARALLELISM_LIMIT, p);
        return;
    }
    set_int(env, FL_CONF_MAX_PARALLELISM, p);
}
int fl_env_get_max_parallelism(const fl_env *env) {
    return config_int(env, FL_CONF_MAX_PARALLELISM, 128);
}

void fl_env_set_buffer_timeout(fl_env *env, int64_t millis) {
    if (millis < -1) {
        fl__env_fail(env, NULL, FL_EINVAL, "buffer timeout must be >= -1, not %lld",
                     (long long)millis);
        return;
    }
    char buf[32];
    snprintf(buf, sizeof buf, millis < 0 ? "%lld" : "%lld ms", (long long)millis);
    fl_config_set(env->config, FL_CONF_BUFFER_TIMEOUT, buf);
}

void fl_env_disable_operator_chaining(fl_env *env) {
    fl_config_set(env->config, FL_CONF_CHAINING, "false");
}

/* ---- job parameters -------------------------------------------------------------------------- */

const char *fl_env_param(const fl_env *env, const char *key) { return fl_kv_get(env->params, key); }
void fl_env_set_param(fl_env *env, const char *key, const char *value) {
    fl_kv_set(env->params, key, value);
}

int fl_env_parse_params(fl_env *env, int argc, char **argv, fl_error *err) {
    /* argv[0] is the job; then --key value | --flag | -k value. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0' || (a[1] == '-' && a[2] == '\0'))
            return fl_error_set(err, FL_EINVAL,
                                "unexpected job argument \"%s\": job arguments are --key value "
                                "pairs",
                                a);
        const char *key = a + (a[1] == '-' ? 2 : 1);
        if (i + 1 < argc &&
            !(argv[i + 1][0] == '-' && argv[i + 1][1] == '-' && argv[i + 1][2] != '\0')) {
            fl_kv_set(env->params, key, argv[++i]);
        } else {
            fl_kv_set(env->params, key, "true");
        }
    }
    return 0;
}

/* ---- errors and symbols ---------------------------------------------------------------------- */

fl_stream *fl__env_fail(fl_env *env, fl_stream *fallback, int code, const char *fmt, ...) {
    if (!env->error.code) {
        char msg[FL_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        fl_error_set(&env->error, code, "%s", msg);
    }
    return fallback;
}

char *fl__symbol_name(fl_env *env, void *fn, const char *role) {
    if (!fn) {
        fl__env_fail(env, NULL, FL_EINVAL, "no %s given (NULL)", role);
        return NULL;
    }
    Dl_info info;
    if (dladdr(fn, &info) && info.dli_sname && info.dli_saddr == fn)
        return fl_xstrdup(info.dli_sname);
    const char *file = (dladdr(fn, &info) && info.dli_fname) ? info.dli_fname : "the program";
    fl__env_fail(env, NULL, FL_ERESOLVE,
                 "the %s at %p in \"%s\" has no exported symbol name, so tasks cannot resolve "
                 "it; make it a non-static function with default visibility",
                 role, fn, file);
    return NULL;
}

bool fl__set_fn_option(fl_env *env, fl_stream_node *n, const char *role, void *fn,
                       const char *what) {
    char *sym = fl__symbol_name(env, fn, what);
    if (!sym) return false;
    char key[64];
    snprintf(key, sizeof key, "fn.%s", role);
    fl_kv_set(n->options, key, sym);
    free(sym);
    return true;
}

static void *resolve_symbol(void *arg, const char *symbol) {
    fl_env *env = arg;
    void *p = NULL;
    if (env->library) p = dlsym(env->library, symbol);
    if (!p) p = dlsym(RTLD_DEFAULT, symbol);
    return p;
}

/* ---- execution ----------------------------------------------------------------------------------
 */

static bool source_bounded(const fl_stream_node *n, fl_error *err) {
    const fl_source_connector *c = fl_source_connector_find(n->connector);
    if (!c || !c->bounded) return false;
    fl_options *o = fl_options_create(c->options, n->options, n->name, err);
    if (!o) return false;
    bool b = c->bounded(o);
    fl_options_destroy(o);
    return b;
}

/* Fills in what the plan leaves to the environment. */
static int finish_plan(fl_env *env, fl_stream_graph *g, const char *job_name, fl_error *err) {
    int64_t p, maxp, timeout;
    bool chaining;
    int rc = fl_config_get_int(env->config, FL_CONF_PARALLELISM, 1, &p, err);
    if (rc == 0) rc = fl_config_get_int(env->config, FL_CONF_MAX_PARALLELISM, 128, &maxp, err);
    if (rc == 0) {
        const char *t = fl_config_get(env->config, FL_CONF_BUFFER_TIMEOUT);
        if (t && fl_parse_int(t, &timeout) == 0 && timeout == -1)
            ;
        else
            rc = fl_config_get_duration_ms(env->config, FL_CONF_BUFFER_TIMEOUT, 100, &timeout, err);
    }
    if (rc == 0) rc = fl_config_get_bool(env->config, FL_CONF_CHAINING, true, &chaining, err);
    if (rc < 0) return rc;
    if (p < 1 || maxp < 1)
        return fl_error_set(err, FL_ECONFIG, "parallelism and max parallelism must be positive");
    free(g->job_name);
    g->job_name = fl_xstrdup(job_name ? job_name : "Flinc Streaming Job");
    g->max_parallelism = (int)maxp;
    g->buffer_timeout_ms = timeout;
    g->chaining_enabled = chaining;
    fl_kv_destroy(g->params);
    g->params = fl_kv_clone(env->params);
    fl_kv_destroy(g->config);
    g->config = fl_kv_clone(fl_config_entries(env->config));
    const char *mode = fl_config_get(env->config, "execution.runtime-mode");
    bool batch = mode && strcasecmp(mode, "BATCH") == 0;
    bool all_bounded = true;
    for (int i = 0; i < g->n_nodes; i++) {
        fl_stream_node *n = g->nodes[i];
        if (n->parallelism <= 0) n->parallelism = (int)p;
        if (n->max_parallelism <= 0) n->max_parallelism = (int)maxp;
        if (n->parallelism > n->max_parallelism)
            return fl_error_set(err, FL_ECONFIG,
                                "operator \"%s\" has parallelism %d above its max parallelism %d; "
                                "raise pipeline.max-parallelism",
                                n->name, n->parallelism, n->max_parallelism);
        if (!strcmp(n->op, "source") && !source_bounded(n, err)) {
            if (err && err->code) return err->code;
            all_bounded = false;
            if (batch)
                return fl_error_set(err, FL_ECONFIG,
                                    "execution.runtime-mode BATCH needs bounded sources, but "
                                    "\"%s\" is unbounded; use STREAMING",
                                    n->name);
        }
    }
    /* AUTOMATIC: BATCH when every source is bounded, as in Flink. */
    if (mode && strcasecmp(mode, "AUTOMATIC") == 0)
        fl_kv_set(g->config, "execution.runtime-mode", all_bounded ? "BATCH" : "STREAMING");
    return 0;
}

static int execute(fl_env *env, const char *job_name, fl_error *err);

const fl_error *fl__env_last_error(const fl_env *env) {
    return env->last_error.code ? &env->last_error : NULL;
}

int fl_env_execute(fl_env *env, const char *job_name, fl_error *err) {
    fl_error local = {0};
    env->executions++;
    int rc = execute(env, job_name, &local);
    env->last_error = local;
    if (rc < 0 && err) fl_error_set(err, local.code, "%s", local.message);
    return rc;
}

static int execute(fl_env *env, const char *job_name, fl_error *err) {
    if (env->error.code) {
        fl_error_set(err, env->error.code, "%s", env->error.message);
        return err->code;
    }
    int rc = fl__config_check(env->config, err);
    if (rc < 0) return rc;
    if (env->graph->n_nodes == 0)
        return fl_error_set(err, FL_EINVAL,
                            "no operators defined in the job; add a source and a sink before "
                            "execute");
    rc = finish_plan(env, env->graph, job_name, err);
    if (rc < 0) return rc;

    /* Ship the plan as a cluster would: JSON out and back in. */
    char *json = fl_stream_graph_to_json(env->graph);
    fl_stream_graph *shipped = fl_stream_graph_from_json(json, err);
    free(json);
    if (!shipped) return err->code;
    rc = fl__window_plan_local_aggregation(shipped, err);
    if (rc < 0) {
        fl_stream_graph_destroy(shipped);
        return rc;
    }
    fl_job_graph *job = fl_job_graph_create(shipped, err);
    if (!job) return err->code;

    if (env->plan_out) {
        char *plan = fl_job_graph_describe(job);
        fputs(plan, env->plan_out);
        free(plan);
        fl_job_graph_destroy(job);
        return 0;
    }

    for (fl_collect *c = env->collects; c; c = c->next) fl_collect_registry_open(c->id);
    for (fl_stream *s = env->handles; s; s = s->next_handle)
        if (s->registry_id) fl_connector_counter_reset(s->registry_id);

    int64_t slots = 0;
    rc = fl_config_get_int(env->config, FL_CONF_SLOTS, 0, &slots, err);
    if (rc < 0) {
        fl_job_graph_destroy(job);
        return rc;
    }
    const char *file = env->library_path;
    if (file && strrchr(file, '/')) file = strrchr(file, '/') + 1;
    fl_minicluster_options o = {
        .slots = (int)slots,
        .run = {.resolve = resolve_symbol,
                .resolve_arg = env,
                .job_file = file,
                .clock = env->clock},
    };
    return fl_minicluster_execute(job, &o, err);
}

/* ---- savepoints ----------------------------------------------------------------------------- */

int fl_trigger_savepoint(const char *dir, bool stop) { return fl_minicluster_savepoint_all(dir, stop); }

int fl_stop_with_savepoint(const char *dir, bool drain, char *path, size_t size, fl_error *err) {
    return fl_minicluster_stop_with_savepoint(dir, drain, path, size, err);
}

char *fl_last_savepoint(char *buf, size_t size) {
    fl_checkpoint_stats s = fl_minicluster_last_checkpoint_stats();
    snprintf(buf, size, "%s", s.savepoint);
    return buf;
}
