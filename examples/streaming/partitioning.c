/*
 * partitioning.c - an example job that shows how records move between the
 * parallel subtasks of a dataflow (examples/streaming/partitioning.so).
 *
 *     flinc run examples/streaming/partitioning.so [--count N] [--parallelism P] [--rolling]
 *
 * Defaults: N = 1000, P = 2 (at most 64). Every operator runs with P
 * subtasks except "Tag rescale", which runs with 2P. Each "Tag" map appends
 * the index of the subtask that processed the record, so at the end a record
 * carries the path it took:
 *
 *   Source 1..N -FORWARD-> Tag source -REBALANCE-> Drop multiples of 10
 *     -FORWARD-> Tag rebalance -RESCALE-> Tag rescale (2P) -SHUFFLE-> Tag shuffle
 *       +-FORWARD-> Edges -HASH(edge,sender,receiver)-> Sum -GLOBAL-> Print
 *       +-FORWARD-> Parity -HASH(parity)-> Sum -FORWARD-> Tag sum -BROADCAST-> Print
 *
 * The partitioners, i.e. how a producer subtask picks the consumer subtask(s)
 * of each record:
 *
 *   FORWARD    subtask i sends to subtask i of the next operator. It needs equal
 *              parallelism and is what you get when you name no partitioner;
 *              such operators are chained into one task (direct calls).
 *   REBALANCE  round robin over all consumer subtasks: evens out skew.
 *   RESCALE    round robin over a local group of consumers. From P to 2P
 *              subtasks, producer i feeds only consumers 2i and 2i+1, so the
 *              "rescale" edges in the output show exactly two receivers per
 *              sender.
 *   SHUFFLE    a uniformly random consumer per record: counts are close to
 *              even, but differ from run to run.
 *   HASH       key_by: the key picks the consumer (through its key group), so
 *              all records of a key meet in one subtask - that is what makes
 *              a keyed sum correct in parallel.
 *   GLOBAL     everything to subtask 0: the edge counts print with the "1> "
 *              prefix only, although the print sink has P subtasks.
 *   BROADCAST  every record to every consumer: each parity sum prints once per
 *              print subtask ("1> " and "2> " for P = 2).
 *   (CUSTOM, fl_stream_partition_custom, lets a user function pick the
 *   partition from a key; it is not used here.)
 *
 * What the output shows. The first sink prints (edge, sender, receiver,
 * records): how many of the records that passed the filter crossed each edge
 * from subtask `sender` to subtask `receiver`. The second prints (parity,
 * value, summed_by): the sum of the even and of the odd values and the index
 * of the subtask that computed it. Whatever path the records took, the sums
 * are those of 1..N without the multiples of 10 (200000 and 250000 for
 * N = 1000).
 *
 * By default the job runs in BATCH runtime mode, so every sum prints once,
 * with its final value. With --rolling it runs in STREAMING mode and every
 * record prints the updated sum of its key (thousands of lines).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flinc/flinc.h"

/* Fields of a record once it has passed all three "Tag" maps. */
enum { F_VALUE, F_PARITY, F_SOURCE, F_REBALANCE, F_RESCALE, F_SHUFFLE };

/* map (value BIGINT) -> (value BIGINT, parity STRING, source INT) */
int partitioning_tag_source(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int64_t value = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, F_VALUE, value);
    fl_row_builder_set_cstring(out, F_PARITY, value % 2 == 0 ? "even" : "odd");
    fl_row_builder_set_int(out, F_SOURCE, fl_context_subtask_index(ctx));
    return 0;
}

/* filter: drops the multiples of 10. */
int partitioning_drop_tens(fl_context *ctx, const fl_row *in) {
    return fl_row_get_bigint(in, F_VALUE) % 10 != 0;
}

/* map: the input's fields followed by (INT) the index of this subtask. */
int partitioning_append_subtask(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int n = fl_row_num_fields(in);
    for (int i = 0; i < n; i++)
        fl_row_builder_copy_field(out, i, in, i);
    fl_row_builder_set_int(out, n, fl_context_subtask_index(ctx));
    return 0;
}

static int emit_edge(fl_collector *out, const char *edge, int sender, int receiver) {
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_cstring(b, 0, edge);
    fl_row_builder_set_int(b, 1, sender);
    fl_row_builder_set_int(b, 2, receiver);
    fl_row_builder_set_bigint(b, 3, 1);
    return fl_collector_emit(out);
}

/* flat_map: a fully tagged record -> one (edge STRING, sender INT,
 * receiver INT, records BIGINT = 1) row per exchange it went through. */
int partitioning_edges(fl_context *ctx, const fl_row *in, fl_collector *out) {
    int source = fl_row_get_int(in, F_SOURCE);
    int rebalance = fl_row_get_int(in, F_REBALANCE);
    int rescale = fl_row_get_int(in, F_RESCALE);
    int shuffle = fl_row_get_int(in, F_SHUFFLE);
    int rc = emit_edge(out, "rebalance", source, rebalance);
    if (rc == 0)
        rc = emit_edge(out, "rescale", rebalance, rescale);
    if (rc == 0)
        rc = emit_edge(out, "shuffle", rescale, shuffle);
    return rc;
}

/* map: a fully tagged record -> (parity STRING, value BIGINT). */
int partitioning_parity(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_copy_field(out, 0, in, F_PARITY);
    fl_row_builder_copy_field(out, 1, in, F_VALUE);
    return 0;
}

/* Parses an integer parameter in [min, max]; prints the problem and returns
 * -1 when it is not one. An absent parameter leaves *out unchanged. */
static int int_param(fl_env *env, const char *key, int64_t min, int64_t max, int64_t *out) {
    const char *text = fl_env_param(env, key);
    if (text == NULL)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr,
                "partitioning: invalid --%s \"%s\": expected an integer from %lld to %lld\n",
                key, text, (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

FLINC_MAIN(env, argc, argv) {
    fl_error err;
    fl_error_clear(&err);

    int64_t count = 1000, parallelism = 2;
    if (int_param(env, "count", 1, INT64_MAX, &count) != 0 ||
        int_param(env, "parallelism", 1, 64, &parallelism) != 0)
        return 1;
    const char *rolling = fl_env_param(env, "rolling");
    bool batch = rolling == NULL || strcmp(rolling, "false") == 0;

    if (fl_env_configure(env, "execution.runtime-mode", batch ? "BATCH" : "STREAMING", &err) !=
        0) {
        fprintf(stderr, "partitioning: %s\n", err.message);
        return 1;
    }
    fl_env_set_parallelism(env, (int)parallelism);

    fl_schema *tagged_schema[4] = {
        fl_schema_of(3, "value", FL_BIGINT, "parity", FL_STRING, "source", FL_INT),
        fl_schema_of(4, "value", FL_BIGINT, "parity", FL_STRING, "source", FL_INT, "rebalance",
                     FL_INT),
        fl_schema_of(5, "value", FL_BIGINT, "parity", FL_STRING, "source", FL_INT, "rebalance",
                     FL_INT, "rescale", FL_INT),
        fl_schema_of(6, "value", FL_BIGINT, "parity", FL_STRING, "source", FL_INT, "rebalance",
                     FL_INT, "rescale", FL_INT, "shuffle", FL_INT),
    };
    fl_schema *edge_schema =
        fl_schema_of(4, "edge", FL_STRING, "sender", FL_INT, "receiver", FL_INT, "records",
                     FL_BIGINT);
    fl_schema *parity_schema = fl_schema_of(2, "parity", FL_STRING, "value", FL_BIGINT);
    fl_schema *sum_schema =
        fl_schema_of(3, "parity", FL_STRING, "value", FL_BIGINT, "summed_by", FL_INT);

    /* Source and its first map: same parallelism, no partitioner named, so
     * the edge is FORWARD and both run chained in one task. */
    fl_stream *numbers = fl_env_from_sequence(env, 1, count);
    fl_stream_name(numbers, "Source: 1..N");
    fl_stream *tagged = fl_stream_map(numbers, partitioning_tag_source, tagged_schema[0]);
    fl_stream_name(tagged, "Tag source");

    /* REBALANCE, then a filter and a map chained behind it. */
    fl_stream *kept = fl_stream_filter(fl_stream_rebalance(tagged), partitioning_drop_tens);
    fl_stream_name(kept, "Drop multiples of 10");
    fl_stream *rebalanced = fl_stream_map(kept, partitioning_append_subtask, tagged_schema[1]);
    fl_stream_name(rebalanced, "Tag rebalance");

    /* RESCALE from P to 2P subtasks. */
    fl_stream *rescaled =
        fl_stream_map(fl_stream_rescale(rebalanced), partitioning_append_subtask, tagged_schema[2]);
    fl_stream_name(rescaled, "Tag rescale");
    fl_stream_set_parallelism(rescaled, (int)(2 * parallelism));

    /* SHUFFLE back to P subtasks. */
    fl_stream *shuffled =
        fl_stream_map(fl_stream_shuffle(rescaled), partitioning_append_subtask, tagged_schema[3]);
    fl_stream_name(shuffled, "Tag shuffle");

    /* Branch 1: records per (edge, sender, receiver), all printed by subtask 0. */
    fl_stream *edges = fl_stream_flat_map(shuffled, partitioning_edges, edge_schema);
    fl_stream_name(edges, "Edges");
    fl_stream *edge_counts =
        fl_keyed_sum(fl_stream_key_by(edges, "edge,sender,receiver"), "records");
    fl_stream_name(edge_counts, "Count per edge");
    fl_stream_name(fl_stream_print(fl_stream_global(edge_counts)), "Print: edges");

    /* Branch 2: sum per parity; the map after the sum runs in the sum's
     * subtask (FORWARD), so it records which subtask owns the key. */
    fl_stream *parities = fl_stream_map(shuffled, partitioning_parity, parity_schema);
    fl_stream_name(parities, "Parity");
    fl_stream *sums = fl_keyed_sum(fl_stream_key_by(parities, "parity"), "value");
    fl_stream_name(sums, "Sum per parity");
    fl_stream *owned = fl_stream_map(sums, partitioning_append_subtask, sum_schema);
    fl_stream_name(owned, "Tag sum");
    fl_stream_name(fl_stream_print(fl_stream_broadcast(owned)), "Print: parity sums");

    for (int i = 0; i < 4; i++)
        fl_schema_unref(tagged_schema[i]);
    fl_schema_unref(edge_schema);
    fl_schema_unref(parity_schema);
    fl_schema_unref(sum_schema);

    /* flinc run reports a failure with the failing subtask and its cause. */
    return fl_env_execute(env, "Partitioning", NULL) == 0 ? 0 : 1;
}
