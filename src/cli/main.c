/*
 * main.c - the flinc command.
 *
 *   flinc run  [-p N] [-D key=value]... [-s PATH [-n]] job.so [job arguments]
 *   flinc info [-p N] [-D key=value]... job.so [job arguments]
 *
 * run loads the configuration (conf/flink-conf.yaml, then -D), dlopens the
 * job, and calls its entry point, which builds the dataflow and executes it on
 * the embedded mini-cluster. info does the same but prints the job graph
 * instead of running it. Ctrl-C (SIGINT) or SIGTERM cancels the running job;
 * a second Ctrl-C exits at once. With --savepoint-on-interrupt, or
 * flinc.savepoint-on-interrupt: true in the configuration (-D or the file),
 * Ctrl-C stops the job with a savepoint instead (Flink's stop: the sources
 * emit nothing after the savepoint; --drain, flinc.savepoint-drain, first
 * fires every event-time window as `flink stop --drain` does).
 *
 * The commands that need a standalone cluster (list, cancel, stop, savepoint,
 * jobmanager, taskmanager, and run -m) are not built yet: they say so and exit
 * non-zero.
 *
 * Exit codes: 0 success, 1 the job failed or could not be loaded, 2 bad usage
 * or configuration, 130 the job was canceled.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "flinc/flinc.h"
#include "log.h"
#include "minicluster.h"

#define EXIT_JOB_FAILED 1
#define EXIT_USAGE      2
#define EXIT_CANCELED   130

static void usage(FILE *out) {
    fprintf(out,
            "usage: flinc <command> [options]\n"
            "\n"
            "commands:\n"
            "  run  [options] JOB.so [job arguments]   run a job on the embedded cluster\n"
            "  info [options] JOB.so [job arguments]   print the job graph without running it\n"
            "  help                                     show this text\n"
            "  version                                  print the version\n"
            "\n"
            "options:\n"
            "  -p, --parallelism N     default parallelism of the job (parallelism.default)\n"
            "  -D key=value            set a configuration key (Flink's names), repeatable\n"
            "  -s, --fromSavepoint PATH  start from a savepoint or retained checkpoint (a chk-N\n"
            "                          or savepoint directory, its _metadata, or a job's\n"
            "                          checkpoint directory: its latest complete checkpoint)\n"
            "  -n, --allow-non-restored-state  drop restored state no operator claims\n"
            "  --savepoint-at N|TIME   stop the job with a savepoint once the sources read N\n"
            "                          rows, or after TIME (e.g. \"10 s\")\n"
            "  --savepoint-on-interrupt  Ctrl-C stops the job with a savepoint instead of\n"
            "                          canceling it (flinc.savepoint-on-interrupt)\n"
            "  --savepoint-dir DIR     where savepoints go (execution.checkpointing.savepoint-dir)\n"
            "  --drain                 those stops first emit the maximum watermark, so every\n"
            "                          event-time window fires (flinc.savepoint-drain)\n"
            "\n"
            "The configuration is read from $FLINC_CONF_DIR, $FLINK_CONF_DIR or <install>/conf,\n"
            "file flink-conf.yaml. Job arguments are --key value pairs (fl_env_param).\n"
            "Not built yet: list, cancel, stop, savepoint, jobmanager, taskmanager, run -m\n"
            "(they need the standalone cluster).\n");
}

static int fail_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "flinc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'flinc help' for usage.\n");
    return EXIT_USAGE;
}

/* ---- configuration --------------------------------------------------------------------- */

/* The directory holding flink-conf.yaml and whether the user named it. */
static char *conf_dir(bool *explicit_dir) {
    const char *env = getenv("FLINC_CONF_DIR");
    if (!env || !*env) env = getenv("FLINK_CONF_DIR");
    if (env && *env) {
        *explicit_dir = true;
        return strdup(env);
    }
    *explicit_dir = false;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return strdup("conf");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0'; /* .../bin */
    char *dir = NULL;
    if (asprintf(&dir, "%s/../conf", exe) < 0) return NULL;
    return dir;
}

static int load_config(fl_config *cfg, fl_error *err) {
    bool explicit_dir;
    char *dir = conf_dir(&explicit_dir);
    if (!dir) return fl_error_set(err, FL_ENOMEM, "out of memory");
    char *file = NULL;
    int rc = 0;
    if (asprintf(&file, "%s/flink-conf.yaml", dir) < 0) {
        free(dir);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    struct stat st;
    if (stat(file, &st) == 0) {
        rc = fl_config_load_file(cfg, file, err);
    } else if (explicit_dir) {
        rc = fl_error_set(err, FL_ENOENT,
                          "configuration file \"%s\" does not exist; fix FLINC_CONF_DIR or "
                          "FLINK_CONF_DIR",
                          file);
    }
    free(file);
    free(dir);
    return rc;
}

static int apply_logging(const fl_config *cfg, fl_error *err) {
    const char *level = fl_config_get(cfg, FL_CONF_LOG_LEVEL);
    if (level) {
        fl_log_level l;
        if (fl_log_level_parse(level, &l) < 0)
            return fl_error_set(err, FL_ECONFIG,
                                "invalid value \"%s\" for \"%s\": expected TRACE, DEBUG, INFO, "
                                "WARN, ERROR or OFF",
                                level, FL_CONF_LOG_LEVEL);
        fl_log_set_level(l);
    }
    const char *file = fl_config_get(cfg, FL_CONF_LOG_FILE);
    if (file) return fl_log_set_file(file, err);
    return 0;
}

/* ---- signals ----------------------------------------------------------------------------- */

static pthread_t signal_thread;
static volatile int canceled_by_signal;
/* flinc.savepoint-on-interrupt of the job's configuration (--savepoint-on-interrupt,
 * -D or flink-conf.yaml), set before the job starts */
static volatile int savepoint_on_interrupt;

static void *signal_main(void *arg) {
    sigset_t *set = arg;
    int interrupts = 0;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0) continue;
        if (sig == SIGUSR1) return NULL; /* the job is over */
        if (++interrupts > 1) {
            fprintf(stderr, "flinc: interrupted again, exiting without waiting\n");
            _exit(EXIT_CANCELED);
        }
        if (savepoint_on_interrupt && sig == SIGINT) {
            fl_info("cli", "received SIGINT, stopping the job with a savepoint");
            fl_minicluster_savepoint_all(NULL, true);
            continue;
        }
        canceled_by_signal = 1;
        fl_info("cli", "received %s, canceling the job", sig == SIGINT ? "SIGINT" : "SIGTERM");
        fl_minicluster_cancel_all();
    }
}

/* ---- run and info ------------------------------------------------------------------------- */

static int run_job(bool plan_only, int argc, char **argv) {
    fl_config *cfg = fl_config_create();
    fl_error err = {0};
    int i = 0;
    /* flinc's own options, up to the job file. */
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') break;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "-p") || !strcmp(a, "--parallelism")) {
            if (i + 1 >= argc) {
                fl_config_destroy(cfg);
                return fail_usage("option %s needs a value", a);
            }
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end || p < 1 || p > FL_MAX_PARALLELISM_LIMIT) {
                fl_config_destroy(cfg);
                return fail_usage("invalid parallelism \"%s\": expected a positive integer",
                                  argv[i]);
            }
            fl_config_set(cfg, "__cli.parallelism", argv[i]);
        } else if (!strncmp(a, "-D", 2)) {
            const char *pair = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!pair) {
                fl_config_destroy(cfg);
                return fail_usage("option -D needs key=value", NULL);
            }
            if (fl_config_set_pair(cfg, pair, &err) < 0) {
                fprintf(stderr, "flinc: %s\n", err.message);
                fl_config_destroy(cfg);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "-s") || !strcmp(a, "--fromSavepoint")) {
            if (i + 1 >= argc) {
                fl_config_destroy(cfg);
                return fail_usage("option %s needs a checkpoint or savepoint path", a);
            }
            fl_config_set(cfg, "execution.state-recovery.path", argv[++i]);
        } else if (!strcmp(a, "--savepoint-at") || !strcmp(a, "--savepoint-dir")) {
            if (i + 1 >= argc) {
                fl_config_destroy(cfg);
                return fail_usage("option %s needs a value", a);
            }
            fl_config_set(cfg,
                          !strcmp(a, "--savepoint-at") ? "flinc.savepoint-at"
                                                       : "execution.checkpointing.savepoint-dir",
                          argv[++i]);
        } else if (!strcmp(a, "--savepoint-on-interrupt")) {
            fl_config_set(cfg, "__cli.savepoint-on-interrupt", "true");
        } else if (!strcmp(a, "--drain")) {
            fl_config_set(cfg, "flinc.savepoint-drain", "true");
        } else if (!strcmp(a, "-n") || !strcmp(a, "--allow-non-restored-state") ||
                   !strcmp(a, "--allowNonRestoredState")) {
            fl_config_set(cfg, "execution.state-recovery.ignore-unclaimed-state", "true");
        } else if (!strcmp(a, "-m") || !strcmp(a, "--jobmanager")) {
            fprintf(stderr, "flinc: submitting to a cluster (-m) is not available yet: the "
                            "standalone cluster is not built; run without -m to use the embedded "
                            "cluster\n");
            fl_config_destroy(cfg);
            return EXIT_USAGE;
        } else {
            fl_config_destroy(cfg);
            return fail_usage("unknown option \"%s\"", a);
        }
    }
    if (i >= argc) {
        fl_config_destroy(cfg);
        return fail_usage("missing the job file (a shared object such as "
                          "examples/batch/wordcount.so)%s",
                          "");
    }
    /* -D and -p were collected first; the file goes under them. */
    fl_config *file_cfg = fl_config_create();
    if (load_config(file_cfg, &err) < 0) {
        fprintf(stderr, "flinc: %s\n", err.message);
        fl_config_destroy(cfg);
        fl_config_destroy(file_cfg);
        return EXIT_USAGE;
    }
    /* -D pairs, then -p: as in Flink, -p wins over -D parallelism.default. */
    const fl_kv *over = fl_config_entries(cfg);
    for (size_t k = 0; k < fl_kv_count(over); k++) {
        const char *key = fl_kv_key(over, k);
        if (strncmp(key, "__cli.", 6) != 0) fl_config_set(file_cfg, key, fl_kv_value(over, k));
    }
    const char *p = fl_config_get(cfg, "__cli.parallelism");
    if (p) fl_config_set(file_cfg, FL_CONF_PARALLELISM, p);
    /* The flag wins over a "false" from -D or the file, in any order. */
    if (fl_config_get(cfg, "__cli.savepoint-on-interrupt"))
        fl_config_set(file_cfg, "flinc.savepoint-on-interrupt", "true");
    fl_config_destroy(cfg);
    cfg = file_cfg;
    bool on_interrupt = false, drain = false;
    if (apply_logging(cfg, &err) < 0 || fl__config_check(cfg, &err) < 0 ||
        fl_config_get_bool(cfg, "flinc.savepoint-on-interrupt", false, &on_interrupt, &err) < 0 ||
        fl_config_get_bool(cfg, "flinc.savepoint-drain", false, &drain, &err) < 0) {
        fprintf(stderr, "flinc: %s\n", err.message);
        fl_config_destroy(cfg);
        return EXIT_USAGE;
    }
    savepoint_on_interrupt = on_interrupt;

    const char *job = argv[i];
    struct stat st;
    if (stat(job, &st) != 0) {
        fprintf(stderr, "flinc: could not open job \"%s\": %s\n", job, strerror(errno));
        fl_config_destroy(cfg);
        return EXIT_JOB_FAILED;
    }
    /* A bare name would make dlopen search the library path: keep it a path. */
    char *path = strchr(job, '/') ? strdup(job) : NULL;
    if (!path && asprintf(&path, "./%s", job) < 0) path = NULL;
    void *lib = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    free(path);
    if (!lib) {
        fprintf(stderr, "flinc: could not load job \"%s\": %s\n", job, dlerror());
        fl_config_destroy(cfg);
        return EXIT_JOB_FAILED;
    }
    fl_main_fn entry = (fl_main_fn)dlsym(lib, FLINC_MAIN_SYMBOL);
    if (!entry) {
        fprintf(stderr,
                "flinc: job \"%s\" has no entry point %s; define it with "
                "FLINC_MAIN(env, argc, argv) from flinc/flinc.h\n",
                job, FLINC_MAIN_SYMBOL);
        dlclose(lib);
        fl_config_destroy(cfg);
        return EXIT_JOB_FAILED;
    }

    fl_env *env = fl__env_create_with_config(cfg);
    fl__env_set_library(env, lib, job);
    if (plan_only) fl__env_set_plan_only(env, stdout);
    int job_argc = argc - i;
    char **job_argv = argv + i;
    int status = 0;
    if (fl_env_parse_params(env, job_argc, job_argv, &err) < 0) {
        fprintf(stderr, "flinc: %s\n", err.message);
        status = EXIT_USAGE;
    } else {
        int rc = entry(env, job_argc, job_argv);
        const fl_error *last = fl__env_last_error(env);
        const fl_error *build = fl_env_error(env);
        if (last) {
            fprintf(stderr, "flinc: %s\n", last->message);
            status =
                canceled_by_signal || last->code == FL_ECANCELED ? EXIT_CANCELED : EXIT_JOB_FAILED;
        } else if (rc != 0) {
            if (build)
                fprintf(stderr, "flinc: %s\n", build->message);
            else
                fprintf(stderr, "flinc: job \"%s\" returned %d\n", job, rc);
            status = EXIT_JOB_FAILED;
        } else if (fl__env_executions(env) == 0) {
            fprintf(stderr, "flinc: job \"%s\" did not call fl_env_execute, so nothing ran\n", job);
            status = EXIT_JOB_FAILED;
        }
    }
    fl_checkpoint_stats cs = fl_minicluster_last_checkpoint_stats();
    if (status == 0 && cs.stopped && cs.savepoint[0])
        printf("Job stopped with a savepoint. Path: %s\n", cs.savepoint);
    fflush(stdout);
    fl_env_destroy(env);
    dlclose(lib);
    return status;
}

static int not_built(const char *cmd) {
    fprintf(stderr,
            "flinc: \"%s\" needs the standalone cluster (JobManager and TaskManagers), which is "
            "not built yet; jobs run on the embedded cluster with 'flinc run'\n",
            cmd);
    return EXIT_USAGE;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("flinc %s\n", FLINC_VERSION);
        return 0;
    }
    static const char *const cluster_cmds[] = {"list",       "cancel",      "stop", "savepoint",
                                               "jobmanager", "taskmanager", "sql"};
    for (size_t k = 0; k < sizeof cluster_cmds / sizeof cluster_cmds[0]; k++)
        if (!strcmp(cmd, cluster_cmds[k])) return not_built(cmd);
    bool plan_only;
    if (!strcmp(cmd, "run"))
        plan_only = false;
    else if (!strcmp(cmd, "info"))
        plan_only = true;
    else
        return fail_usage("unknown command \"%s\"", cmd);

    /* Signals go to one thread, started before any task thread exists. */
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_create(&signal_thread, NULL, signal_main, &set);

    int status = run_job(plan_only, argc - 2, argv + 2);

    pthread_kill(signal_thread, SIGUSR1);
    pthread_join(signal_thread, NULL);
    return status;
}
