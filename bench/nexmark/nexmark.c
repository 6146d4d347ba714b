/*
 * nexmark.c - the Nexmark runner: runs each query of queries.c over a fixed
 * number of generated events on the embedded cluster and prints, per query,
 * the events, the wall seconds from job start to finish, the CPU seconds of
 * the process (user + system, getrusage), the cores used (CPU / wall),
 * events/s, events/s per core (events / CPU seconds, as the Nexmark runner
 * measures Flink), Flink 1.13's published events/s per core for the query
 * and flinc's ratio to it. The generator runs inside the job and is
 * counted, as Nexmark counts it.
 *
 *     nexmark [--events N] [--rate R] [--parallelism P] [--seed S]
 *             [--query q0,q5,...] [--csv FILE]
 *
 * A program that prints figures, not a test; bench/nexmark/run.sh and
 * `make bench-nexmark` run it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "log.h"
#include "queries.h"

static void usage(void) {
    fprintf(stderr, "usage: nexmark [--events N] [--rate R] [--parallelism P] [--seed S] "
                    "[--query q0,q1,...] [--csv FILE]\n");
    exit(2);
}

/* Whether `name` is in the comma-separated list (NULL: all). */
static bool selected(const char *list, const char *name) {
    if (list == NULL) return true;
    size_t len = strlen(name);
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, len) == 0) return true;
        p += n + (p[n] == ',');
    }
    return false;
}

int main(int argc, char **argv) {
    nexmark_config cfg = {.events = 10000000, .rate = 10000000, .seed = 0, .parallelism = 1};
    const char *queries = NULL, *csv_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (strcmp(argv[i - 1], "--events") == 0)
            cfg.events = strtoll(v, NULL, 10);
        else if (strcmp(argv[i - 1], "--rate") == 0)
            cfg.rate = strtoll(v, NULL, 10);
        else if (strcmp(argv[i - 1], "--parallelism") == 0)
            cfg.parallelism = atoi(v);
        else if (strcmp(argv[i - 1], "--seed") == 0)
            cfg.seed = strtoull(v, NULL, 10);
        else if (strcmp(argv[i - 1], "--query") == 0)
            queries = v;
        else if (strcmp(argv[i - 1], "--csv") == 0)
            csv_path = v;
        else
            usage();
    }
    if (cfg.events <= 0 || cfg.rate <= 0 || cfg.parallelism <= 0) usage();
    for (const char *p = queries; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");
        char name[16];
        snprintf(name, sizeof name, "%.*s", (int)(n < 15 ? n : 15), p);
        if (nexmark_query_find(name) == NULL) {
            fprintf(stderr, "nexmark: unknown query \"%s\"\n", name);
            return 2;
        }
        p += n + (p[n] == ',');
    }
    /* Job state changes would interleave with the table. */
    fl_log_set_level(FL_LOG_WARN);
    FILE *csv = NULL;
    if (csv_path != NULL) {
        csv = fopen(csv_path, "w");
        if (csv == NULL) {
            perror(csv_path);
            return 1;
        }
        fprintf(csv, "query,events,wall_s,cpu_s,events_per_s,events_per_s_per_core\n");
    }
    printf("events=%" PRId64 " rate=%" PRId64 " parallelism=%d\n", cfg.events, cfg.rate,
           cfg.parallelism);
    printf("%-5s %11s %8s %8s %6s %12s %14s %11s %8s %10s\n", "query", "events", "wall_s", "cpu_s",
           "cores", "events/s", "events/s/core", "flink/core", "ratio", "results");
    int failed = 0;
    for (const nexmark_query *q = nexmark_queries; q->name != NULL; q++) {
        if (!selected(queries, q->name)) continue;
        fl_env *env = fl_env_create();
        fl_env_set_parallelism(env, cfg.parallelism);
        fl_stream *sink = fl_stream_discard(q->build(env, &cfg));
        fl_error err = {0};
        double wall, cpu;
        int rc = bench_execute(env, q->name, &wall, &cpu, &err);
        if (rc != 0) {
            fprintf(stderr, "nexmark: %s failed: %s\n", q->name, err.message);
            failed = 1;
            fl_env_destroy(env);
            continue;
        }
        double eps = (double)cfg.events / wall, per_core = (double)cfg.events / cpu;
        printf("%-5s %11" PRId64 " %8.2f %8.2f %6.2f %12.0f %14.0f %11.0f %8.1f %10" PRId64 "\n",
               q->name, cfg.events, wall, cpu, cpu / wall, eps, per_core, q->flink_per_core,
               per_core / q->flink_per_core, fl_stream_discarded(sink));
        fflush(stdout);
        if (csv != NULL)
            fprintf(csv, "%s,%" PRId64 ",%.3f,%.3f,%.0f,%.0f\n", q->name, cfg.events, wall, cpu,
                    eps, per_core);
        fl_env_destroy(env);
    }
    if (csv != NULL) fclose(csv);
    return failed;
}
