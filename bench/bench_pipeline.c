/*
 * bench_pipeline.c - throughput of a simple keyed pipeline on the embedded
 * cluster: sequence source -> map -> key_by -> rolling sum -> discarding sink.
 *
 *     bench_pipeline [--rows N] [--parallelism P[,P...]] [--keys K]
 *
 * Defaults: 20 000 000 rows, parallelism 1 and then 2, 10 000 keys. The map
 * turns the sequence value v into (key = v % K, value = v); the sum is a
 * rolling aggregation in STREAMING mode, so it emits one row per input row
 * and the sink must count exactly N rows, which is checked. For each
 * parallelism the program prints one line:
 *
 *     parallelism=1 rows=20000000 wall_s=... cpu_s=... records_per_s=...
 *         records_per_s_per_cpu_s=...
 *
 * wall_s is the monotonic time around fl_env_execute, cpu_s the user + system
 * CPU time the whole process spent in that interval (all task threads). The
 * job is built with the public API only; it is a program that prints figures,
 * not a test, and ctest never runs it. bench/run.sh runs it with a
 * description of the machine.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "flinc/flinc.h"

#define MAX_RUNS 16

typedef struct bench_options {
    int64_t rows;
    int64_t keys;
    int n_parallelisms;
    int parallelisms[MAX_RUNS];
} bench_options;

typedef struct bench_result {
    double wall_s;
    double cpu_s;
    int64_t discarded;
} bench_result;

/* map (value BIGINT) -> (key BIGINT, value BIGINT); the number of keys is
 * the operator's argument. */
int bench_pipeline_to_key_value(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    size_t len;
    const void *arg = fl_context_arg(ctx, &len);
    int64_t keys;
    if (arg == NULL || len != sizeof keys)
        return fl_context_fail(ctx, "bench map: missing the number of keys");
    memcpy(&keys, arg, sizeof keys); /* the argument bytes may be unaligned */
    int64_t value = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, value % keys);
    fl_row_builder_set_bigint(out, 1, value);
    return 0;
}

/* Builds and runs the job once; 0 or -1 after printing the error. */
static int run_once(const bench_options *opt, int parallelism, bench_result *res) {
    fl_error err;
    fl_error_clear(&err);
    int rc = -1;
    fl_env *env = fl_env_create();
    fl_schema *kv = fl_schema_of(2, "key", FL_BIGINT, "value", FL_BIGINT);

    if (fl_env_configure(env, "execution.runtime-mode", "STREAMING", &err) != 0)
        goto done;
    fl_env_set_parallelism(env, parallelism);

    fl_stream *numbers = fl_env_from_sequence(env, 0, opt->rows - 1);
    fl_stream *pairs = fl_stream_map(numbers, bench_pipeline_to_key_value, kv);
    fl_stream_set_arg(pairs, &opt->keys, sizeof opt->keys);
    fl_stream_name(pairs, "To key/value");
    fl_stream *sums = fl_keyed_sum(fl_stream_key_by(pairs, "key"), "value");
    fl_stream *sink = fl_stream_discard(sums);

    if (bench_execute(env, "Pipeline benchmark", &res->wall_s, &res->cpu_s, &err) != 0)
        goto done;
    res->discarded = fl_stream_discarded(sink);
    rc = 0;

done:
    if (rc != 0)
        fprintf(stderr, "bench_pipeline: parallelism %d: %s\n", parallelism,
                err.code != 0 ? err.message : "job failed");
    fl_schema_unref(kv);
    fl_env_destroy(env);
    return rc;
}

/* "1,2,4" into opt->parallelisms. */
static int parse_parallelisms(const char *s, bench_options *opt) {
    opt->n_parallelisms = bench_parse_list(s, 1, 1024, opt->parallelisms, MAX_RUNS);
    return opt->n_parallelisms > 0 ? 0 : -1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: bench_pipeline [--rows N] [--parallelism P[,P...]] [--keys K]\n"
               "  --rows N          rows to generate (default 20000000)\n"
               "  --parallelism P   parallelism of every operator; a comma-separated list\n"
               "                    runs the job once per value (default 1,2)\n"
               "  --keys K          distinct keys of the sum (default 10000)\n");
}

static int parse_args(int argc, char **argv, bench_options *opt) {
    opt->rows = 20000000;
    opt->keys = 10000;
    opt->n_parallelisms = 2;
    opt->parallelisms[0] = 1;
    opt->parallelisms[1] = 2;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_pipeline: %s needs a value\n", arg);
            return -1;
        }
        const char *val = argv[++i];
        int bad;
        if (strcmp(arg, "--rows") == 0)
            bad = bench_parse_int64(val, 1, INT64_MAX, &opt->rows);
        else if (strcmp(arg, "--keys") == 0)
            bad = bench_parse_int64(val, 1, INT64_MAX, &opt->keys);
        else if (strcmp(arg, "--parallelism") == 0)
            bad = parse_parallelisms(val, opt);
        else {
            fprintf(stderr, "bench_pipeline: unknown option \"%s\"\n", arg);
            usage(stderr);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "bench_pipeline: invalid value \"%s\" for %s\n", val, arg);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    bench_options opt;
    if (parse_args(argc, argv, &opt) != 0)
        return 2;

    int status = 0;
    for (int i = 0; i < opt.n_parallelisms; i++) {
        int p = opt.parallelisms[i];
        bench_result res;
        if (run_once(&opt, p, &res) != 0) {
            status = 1;
            continue;
        }
        double rate = res.wall_s > 0 ? (double)opt.rows / res.wall_s : 0;
        double rate_cpu = res.cpu_s > 0 ? (double)opt.rows / res.cpu_s : 0;
        printf("parallelism=%d rows=%lld wall_s=%.3f cpu_s=%.3f records_per_s=%.0f "
               "records_per_s_per_cpu_s=%.0f\n",
               p, (long long)opt.rows, res.wall_s, res.cpu_s, rate, rate_cpu);
        fflush(stdout);
        if (res.discarded != opt.rows) {
            fprintf(stderr,
                    "bench_pipeline: parallelism %d: the sink counted %lld rows, expected %lld\n",
                    p, (long long)res.discarded, (long long)opt.rows);
            status = 1;
        }
    }
    return status;
}
