/*
 * source_sequence.c - the "sequence" source: the numbers from..to (inclusive)
 * as (value BIGINT), Flink's fromSequence. Parallel: the range is cut into
 * `parallelism` contiguous slices of (nearly) equal size, subtask i taking the
 * i-th, so every number is produced exactly once whatever the parallelism.
 * Bounded.
 *
 * Checkpoints: a split is one slice [first, last] and the next number to
 * emit in it. A subtask snapshots the slices it has not finished; restored
 * with any parallelism, a subtask reads the slices it receives one after the
 * other, each from its next number, so every number is still produced
 * exactly once.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "connectors_int.h"
#include "mem.h"

#define NAME "sequence"
#define SPLIT_TAG "FLsq"
#define SPLIT_VERSION 1

static const fl_option_def options[] = {
    {"from", NULL, true, "first number (int64)"},
    {"to", NULL, true, "last number, inclusive (int64, >= from)"},
    {NULL, NULL, false, NULL},
};

/* One slice with numbers left: next is the next number to emit, in [first, last]. */
typedef struct sequence_split {
    int64_t first, last, next;
} sequence_split;

typedef struct sequence_state {
    sequence_split *splits; /* unfinished ones from `cur` on: the position a checkpoint records */
    size_t n, cur;
} sequence_state;

static int read_range(const fl_options *o, int64_t *from, int64_t *to, fl_error *err) {
    int rc = fl_options_get_int64(o, "from", 0, from, err);
    if (rc == 0)
        rc = fl_options_get_int64(o, "to", 0, to, err);
    if (rc < 0)
        return rc;
    if (fl_options_get(o, "from") == NULL || fl_options_get(o, "to") == NULL)
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\" needs the options from and to");
    if (*from > *to)
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": from=%" PRId64 " is greater than to=%" PRId64,
                            *from, *to);
    return 0;
}

/* Slice of subtask i of p over [from, to]: offsets [i*n/p, (i+1)*n/p) where
 * n = to - from + 1 may be 2^64, hence the 128-bit arithmetic. False when
 * the slice is empty (more subtasks than numbers). */
static bool slice(int64_t from, int64_t to, int i, int p, sequence_split *out) {
    unsigned __int128 n = (unsigned __int128)((uint64_t)to - (uint64_t)from) + 1;
    unsigned __int128 lo = n * (unsigned)i / (unsigned)p;
    unsigned __int128 hi = n * (unsigned)(i + 1) / (unsigned)p;
    if (hi == lo)
        return false;
    out->first = (int64_t)((uint64_t)from + (uint64_t)lo);
    out->last = (int64_t)((uint64_t)from + (uint64_t)(hi - 1));
    out->next = out->first;
    return true;
}

static fl_schema *sequence_schema(const fl_options *o, const fl_schema *declared,
                                  fl_error *err) {
    int64_t from, to;
    if (read_range(o, &from, &to, err) < 0)
        return NULL;
    fl_schema *own = fl_schema_of(1, "value", FL_BIGINT);
    fl_schema *s = fl__conn_fixed_schema(NAME, own, declared, err);
    fl_schema_unref(own);
    return s;
}

static bool sequence_bounded(const fl_options *o) {
    return true;
}

static int sequence_open(fl_source_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    int64_t from, to;
    int rc = read_range(o, &from, &to, err);
    if (rc < 0)
        return rc;
    sequence_state *st = fl_xcalloc(1, sizeof *st);
    st->splits = fl_xmalloc(sizeof *st->splits);
    if (slice(from, to, fl_source_subtask_index(ctx), fl_source_parallelism(ctx), st->splits))
        st->n = 1;
    *state = st;
    return 0;
}

static int sequence_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    sequence_state *st = state;
    for (int n = 0; n < FL__CONN_BATCH_ROWS && st->cur < st->n; n++) {
        sequence_split *sp = &st->splits[st->cur];
        fl_row_builder *b = fl_source_builder(ctx);
        fl_row_builder_set_bigint(b, 0, sp->next);
        int rc = fl_source_emit(ctx, FL_NO_TIMESTAMP);
        if (rc < 0)
            return rc;
        /* Comparing before incrementing works up to INT64_MAX. */
        if (sp->next == sp->last)
            st->cur++;
        else
            sp->next++;
    }
    return st->cur < st->n ? FL_SOURCE_MORE : FL_SOURCE_END;
}

static int sequence_snapshot(void *state, fl_split_list *out, fl_error *err) {
    sequence_state *st = state;
    for (size_t i = st->cur; i < st->n; i++) {
        const sequence_split *sp = &st->splits[i];
        uint64_t fields[] = {(uint64_t)sp->first, (uint64_t)sp->last, (uint64_t)sp->next};
        fl__blob_add_u64s(out, SPLIT_TAG, SPLIT_VERSION, fields, 3);
    }
    return 0;
}

static int sequence_restore(void *state, const fl_split *splits, size_t n, fl_error *err) {
    sequence_state *st = state;
    sequence_split *restored = fl_xmalloc((n ? n : 1) * sizeof *restored);
    for (size_t i = 0; i < n; i++) {
        uint64_t fields[3];
        bool ok = fl__blob_read_u64s(splits[i], SPLIT_TAG, SPLIT_VERSION, fields, 3);
        sequence_split *sp = &restored[i];
        *sp = (sequence_split){(int64_t)fields[0], (int64_t)fields[1], (int64_t)fields[2]};
        if (!ok || sp->first > sp->next || sp->next > sp->last) {
            free(restored);
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": split %zu is not a sequence split", i);
        }
    }
    free(st->splits);
    st->splits = restored;
    st->n = n;
    st->cur = 0;
    return 0;
}

static void sequence_close(void *state) {
    sequence_state *st = state;
    if (st == NULL)
        return;
    free(st->splits);
    free(st);
}

const fl_source_connector fl__source_sequence = {
    .name = NAME,
    .description = "The numbers from..to as (value BIGINT), split evenly over the subtasks; "
                   "bounded.",
    .options = options,
    .parallel = true,
    .schema = sequence_schema,
    .bounded = sequence_bounded,
    .open = sequence_open,
    .read = sequence_read,
    .close = sequence_close,
    .snapshot = sequence_snapshot,
    .restore = sequence_restore,
};
