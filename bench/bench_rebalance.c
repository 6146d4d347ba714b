/*
 * bench_rebalance.c - the runtime micro-benchmark Flink tracks: BIGINT
 * records, source -> map -> rebalance -> map -> discarding sink, at
 * parallelism 1 (so the rebalance is a real exchange between two tasks).
 * Prints records/s and records per CPU-second. Not a test.
 *
 *   bench_rebalance [--rows N]   (default 50 000 000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "flinc/flinc.h"

int bench_rebalance_inc(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(in, 0) + 1);
    return 0;
}

int main(int argc, char **argv) {
    int64_t rows = 50000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc &&
            bench_parse_int64(argv[i + 1], 1, INT64_MAX, &rows) == 0) {
            i++;
        } else {
            fprintf(stderr, "usage: bench_rebalance [--rows N]\n");
            return 2;
        }
    }
    fl_env *env = fl_env_create();
    fl_env_set_parallelism(env, 1);
    fl_env_configure(env, "rootLogger.level", "WARN", NULL);
    fl_stream *m1 = fl_stream_map(fl_env_from_sequence(env, 1, rows), bench_rebalance_inc, NULL);
    fl_stream *m2 = fl_stream_map(fl_stream_rebalance(m1), bench_rebalance_inc, NULL);
    fl_stream *sink = fl_stream_discard(m2);
    fl_error err = {0};
    double wall, cpu;
    if (bench_execute(env, "rebalance", &wall, &cpu, &err) != 0) {
        fprintf(stderr, "bench_rebalance: %s\n", err.message);
        return 1;
    }
    long long got = (long long)fl_stream_discarded(sink);
    fl_env_destroy(env);
    if (got != rows) {
        fprintf(stderr, "bench_rebalance: discarded %lld rows, expected %lld\n", got, (long long)rows);
        return 1;
    }
    printf("source->map->rebalance->map->discard parallelism=1 rows=%lld wall_s=%.3f cpu_s=%.3f "
           "records_per_s=%.0f records_per_s_per_cpu_s=%.0f\n",
           (long long)rows, wall, cpu, (double)rows / wall, (double)rows / cpu);
    return 0;
}
