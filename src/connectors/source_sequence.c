/*
 * source_sequence.c - the "sequence" source: the numbers from..to (inclusive)
 * as (value BIGINT), Flink's fromSequence. Parallel: the range is cut into
 * `parallelism` contiguous slices of (nearly) equal size, subtask i taking the
 * i-th, so every number is produced exactly once whatever the parallelism.
 * Bounded; the next number to emit is the subtask's whole position.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "connectors_int.h"
#include "mem.h"

#define NAME "sequence"

static const fl_option_def options[] = {
    {"from", NULL, true, "first number (int64)"},
    {"to", NULL, true, "last number, inclusive (int64, >= from)"},
    {NULL, NULL, false, NULL},
};

typedef struct sequence_state {
    int64_t next;      /* next number to emit: the position a checkpoint records */
    uint64_t remaining; /* numbers left in this subtask's slice */
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
 * n = to - from + 1 may be 2^64, hence the 128-bit arithmetic. */
static void slice(int64_t from, int64_t to, int i, int p, int64_t *first, uint64_t *count) {
    unsigned __int128 n = (unsigned __int128)((uint64_t)to - (uint64_t)from) + 1;
    unsigned __int128 lo = n * (unsigned)i / (unsigned)p;
    unsigned __int128 hi = n * (unsigned)(i + 1) / (unsigned)p;
    *first = (int64_t)((uint64_t)from + (uint64_t)lo);
    *count = (uint64_t)(hi - lo);
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
    slice(from, to, fl_source_subtask_index(ctx), fl_source_parallelism(ctx), &st->next,
          &st->remaining);
    *state = st;
    return 0;
}

static int sequence_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    sequence_state *st = state;
    for (int n = 0; n < FL__CONN_BATCH_ROWS && st->remaining > 0; n++) {
        fl_row_builder *b = fl_source_builder(ctx);
        fl_row_builder_set_bigint(b, 0, st->next);
        int rc = fl_source_emit(ctx, FL_NO_TIMESTAMP);
        if (rc < 0)
            return rc;
        st->remaining--;
        /* Wraps only after the last number of the full int64 range. */
        st->next = (int64_t)((uint64_t)st->next + 1);
    }
    return st->remaining > 0 ? FL_SOURCE_MORE : FL_SOURCE_END;
}

static void sequence_close(void *state) {
    free(state);
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
};
