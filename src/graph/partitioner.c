/*
 * partitioner.c - names of the partitioners and the shape of an edge between
 * two parallel operators: which consumer subtasks one producer subtask is
 * connected to, and the other way round. The runtime wires its channels from
 * these two functions, so they must agree with each other for every pair of
 * parallelisms (tests/unit/graph/test_graph_partitioner.c checks that).
 */
#include <strings.h>

#include "graph.h"

static const char *const partitioner_names[] = {
    [FL_PART_FORWARD] = "FORWARD", [FL_PART_REBALANCE] = "REBALANCE", [FL_PART_RESCALE] = "RESCALE",
    [FL_PART_SHUFFLE] = "SHUFFLE", [FL_PART_BROADCAST] = "BROADCAST", [FL_PART_GLOBAL] = "GLOBAL",
    [FL_PART_HASH] = "HASH",       [FL_PART_CUSTOM] = "CUSTOM",
};

#define N_PARTITIONERS ((int)(sizeof(partitioner_names) / sizeof(partitioner_names[0])))

const char *fl_partitioner_name(fl_partitioner p) {
    if ((int)p < 0 || (int)p >= N_PARTITIONERS)
        return "UNKNOWN";
    return partitioner_names[p];
}

int fl_partitioner_parse(const char *name, fl_partitioner *out) {
    if (name == NULL)
        return FL_EINVAL;
    for (int i = 0; i < N_PARTITIONERS; i++) {
        if (strcasecmp(name, partitioner_names[i]) == 0) {
            *out = (fl_partitioner)i;
            return 0;
        }
    }
    return FL_EINVAL;
}

/* Smallest x with x * den >= num (num >= 0, den > 0). */
static int ceil_div(long long num, long long den) {
    return (int)((num + den - 1) / den);
}

/*
 * RESCALE, with producer i mapped to consumers by c(i) = i * Q / P:
 *   P >= Q: producer i -> consumer c(i); so consumer j hears from the i with
 *           c(i) == j, i.e. i in [ceil(j * P / Q), ceil((j + 1) * P / Q)).
 *   P <  Q: producer i -> consumers [c(i), c(i + 1)); consumer j hears from
 *           the one i with c(i) <= j < c(i + 1), i.e. ceil((j + 1) * P / Q) - 1.
 * Both ranges are non-empty because c steps by at most one (P >= Q) or at
 * least one (P < Q).
 */
void fl_edge_consumers(fl_partitioner p, int P, int Q, int producer, int *first, int *count) {
    if (P <= 0 || Q <= 0 || producer < 0 || producer >= P) {
        *first = 0;
        *count = 0;
        return;
    }
    switch (p) {
    case FL_PART_FORWARD:
        *first = producer;
        *count = producer < Q ? 1 : 0;
        return;
    case FL_PART_RESCALE:
        *first = (int)((long long)producer * Q / P);
        if (P >= Q)
            *count = 1;
        else
            *count = (int)((long long)(producer + 1) * Q / P) - *first;
        return;
    default:
        *first = 0;
        *count = Q;
        return;
    }
}

void fl_edge_producers(fl_partitioner p, int P, int Q, int consumer, int *first, int *count) {
    if (P <= 0 || Q <= 0 || consumer < 0 || consumer >= Q) {
        *first = 0;
        *count = 0;
        return;
    }
    switch (p) {
    case FL_PART_FORWARD:
        *first = consumer;
        *count = consumer < P ? 1 : 0;
        return;
    case FL_PART_RESCALE:
        if (P >= Q) {
            *first = ceil_div((long long)consumer * P, Q);
            *count = ceil_div((long long)(consumer + 1) * P, Q) - *first;
        } else {
            *first = ceil_div((long long)(consumer + 1) * P, Q) - 1;
            *count = 1;
        }
        return;
    default:
        *first = 0;
        *count = P;
        return;
    }
}
