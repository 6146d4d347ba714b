/*
 * bench_interval_join.c - throughput of the interval join on the embedded
 * cluster: two generated keyed streams joined by key within a time interval,
 * the pairs discarded.
 *
 *     bench_interval_join [--rows N] [--keys K] [--bound B]
 *                         [--parallelism P[,P...]] [--watermark-interval MS]
 *
 * Defaults: 2 000 000 rows per side, 1 000 keys, bound 2 000 ms, parallelism 1
 * and then 2, a watermark every 10 ms. Each side is a sequence 1..N (one
 * source subtask per side) mapped to (key = v % K, ts = v ms) with ascending
 * timestamps; the join runs at the given parallelism with the interval
 * [-B, B], so every row meets about 2B/K + 1 rows of the other side and the
 * number of pairs is known: the sink must count exactly that many, which is
 * checked. For each parallelism the program prints one line:
 *
 *     parallelism=1 rows_per_side=... pairs=... wall_s=... cpu_s=...
 *         pairs_per_s=... pairs_per_cpu_s=... input_rows_per_s=...
 *
 * wall_s is the monotonic time around fl_env_execute, cpu_s the user + system
 * CPU time of the whole process in that interval (all task threads). A
 * program that prints figures, not a test; ctest never runs it.
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
    int64_t rows, keys, bound, watermark_ms;
    int n_parallelisms;
    int parallelisms[MAX_RUNS];
} bench_options;

/* (value BIGINT) -> (key BIGINT, ts TIMESTAMP); the number of keys is the
 * operator's argument. */
int bench_ij_to_key_ts(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    size_t len;
    const void *arg = fl_context_arg(ctx, &len);
    int64_t keys;
    if (arg == NULL || len != sizeof keys)
        return fl_context_fail(ctx, "bench map: missing the number of keys");
    memcpy(&keys, arg, sizeof keys);
    int64_t v = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, v % keys);
    fl_row_builder_set_timestamp(out, 1, v);
    return 0;
}

/* (key, left ts, right ts) */
int bench_ij_join(fl_context *ctx, const fl_row *left, const fl_row *right, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(left, 0));
    fl_row_builder_set_bigint(out, 1, fl_row_get_timestamp(left, 1));
    fl_row_builder_set_bigint(out, 2, fl_row_get_timestamp(right, 1));
    return 0;
}

/* Pairs (v, w) in 1..N with v = w mod K and |v - w| <= B. */
static int64_t expected_pairs(const bench_options *o) {
    int64_t n = 0, reach = o->bound / o->keys;
    for (int64_t v = 1; v <= o->rows; v++) {
        int64_t lo = v - reach * o->keys, hi = v + reach * o->keys;
        while (lo < 1) lo += o->keys;
        while (hi > o->rows) hi -= o->keys;
        if (hi >= lo) n += (hi - lo) / o->keys + 1;
    }
    return n;
}

static fl_keyed_stream *side(fl_env *env, const bench_options *o, const fl_schema *schema,
                             const char *name) {
    fl_stream *s = fl_stream_set_parallelism(fl_env_from_sequence(env, 1, o->rows), 1);
    fl_stream *m = fl_stream_map(s, bench_ij_to_key_ts, schema);
    fl_stream_set_arg(fl_stream_set_parallelism(fl_stream_name(m, name), 1), &o->keys,
                      sizeof o->keys);
    fl_watermark_strategy ws = {.timestamp_field = "ts"};
    fl_stream *t = fl_stream_assign_timestamps_and_watermarks(m, &ws);
    return fl_stream_key_by(fl_stream_set_parallelism(t, 1), "key");
}

/* Builds and runs the job once; 0 or -1 after printing the error. */
static int run_once(const bench_options *o, int parallelism, double *wall, double *cpu,
                    int64_t *pairs) {
    fl_error err;
    fl_error_clear(&err);
    int rc = -1;
    fl_env *env = fl_env_create();
    fl_schema *kt = fl_schema_of(2, "key", FL_BIGINT, "ts", FL_TIMESTAMP);
    fl_schema *out = fl_schema_of(3, "key", FL_BIGINT, "lts", FL_BIGINT, "rts", FL_BIGINT);
    char interval[32];
    snprintf(interval, sizeof interval, "%lld ms", (long long)o->watermark_ms);
    if (fl_env_configure(env, "pipeline.auto-watermark-interval", interval, &err) != 0) goto done;
    fl_env_set_parallelism(env, parallelism);

    fl_interval iv = {.lower_ms = -o->bound, .upper_ms = o->bound};
    fl_stream *j = fl_keyed_interval_join(side(env, o, kt, "Left"), side(env, o, kt, "Right"), iv,
                                          bench_ij_join, out);
    fl_stream *sink = fl_stream_discard(j);

    if (bench_execute(env, "Interval join benchmark", wall, cpu, &err) != 0) goto done;
    *pairs = fl_stream_discarded(sink);
    rc = 0;

done:
    if (rc != 0)
        fprintf(stderr, "bench_interval_join: parallelism %d: %s\n", parallelism,
                err.code != 0 ? err.message : "job failed");
    fl_schema_unref(kt);
    fl_schema_unref(out);
    fl_env_destroy(env);
    return rc;
}

/* "1,2,4" into o->parallelisms. */
static int parse_parallelisms(const char *s, bench_options *o) {
    o->n_parallelisms = bench_parse_list(s, 1, 1024, o->parallelisms, MAX_RUNS);
    return o->n_parallelisms > 0 ? 0 : -1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: bench_interval_join [--rows N] [--keys K] [--bound B]\n"
               "                           [--parallelism P[,P...]] [--watermark-interval MS]\n"
               "  --rows N                 rows per side (default 2000000)\n"
               "  --keys K                 distinct keys (default 1000)\n"
               "  --bound B                the interval is [-B, B] ms (default 2000)\n"
               "  --parallelism P          parallelism of the join; a comma-separated list\n"
               "                           runs the job once per value (default 1,2)\n"
               "  --watermark-interval MS  pipeline.auto-watermark-interval (default 10)\n");
}

static int parse_args(int argc, char **argv, bench_options *o) {
    *o = (bench_options){.rows = 2000000,
                         .keys = 1000,
                         .bound = 2000,
                         .watermark_ms = 10,
                         .n_parallelisms = 2,
                         .parallelisms = {1, 2}};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_interval_join: %s needs a value\n", arg);
            return -1;
        }
        const char *val = argv[++i];
        int bad;
        if (strcmp(arg, "--rows") == 0)
            bad = bench_parse_int64(val, 1, INT64_MAX / 4, &o->rows);
        else if (strcmp(arg, "--keys") == 0)
            bad = bench_parse_int64(val, 1, INT64_MAX, &o->keys);
        else if (strcmp(arg, "--bound") == 0)
            bad = bench_parse_int64(val, 0, INT64_MAX / 8, &o->bound);
        else if (strcmp(arg, "--watermark-interval") == 0)
            bad = bench_parse_int64(val, 0, 3600000, &o->watermark_ms);
        else if (strcmp(arg, "--parallelism") == 0)
            bad = parse_parallelisms(val, o);
        else {
            fprintf(stderr, "bench_interval_join: unknown option \"%s\"\n", arg);
            usage(stderr);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "bench_interval_join: invalid value \"%s\" for %s\n", val, arg);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    bench_options o;
    if (parse_args(argc, argv, &o) != 0) return 2;
    int64_t want = expected_pairs(&o);
    int status = 0;
    for (int i = 0; i < o.n_parallelisms; i++) {
        int p = o.parallelisms[i];
        double wall, cpu;
        int64_t pairs;
        if (run_once(&o, p, &wall, &cpu, &pairs) != 0) {
            status = 1;
            continue;
        }
        printf("parallelism=%d rows_per_side=%lld pairs=%lld wall_s=%.3f cpu_s=%.3f "
               "pairs_per_s=%.0f pairs_per_cpu_s=%.0f input_rows_per_s=%.0f\n",
               p, (long long)o.rows, (long long)pairs, wall, cpu, wall > 0 ? pairs / wall : 0,
               cpu > 0 ? pairs / cpu : 0, wall > 0 ? 2.0 * (double)o.rows / wall : 0);
        fflush(stdout);
        if (pairs != want) {
            fprintf(stderr, "bench_interval_join: parallelism %d: %lld pairs, expected %lld\n", p,
                    (long long)pairs, (long long)want);
            status = 1;
        }
    }
    return status;
}
