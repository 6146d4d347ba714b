/*
 * source_collection.c - the "collection" source: rows copied into the job
 * (Flink's fromCollection / fromElements). The rows travel in the job graph
 * as one option, the base64 of their concatenated binary form; each row is
 * self-delimiting (its first u32 is its length). They are checked against the
 * declared schema when the graph is built and again when the source opens,
 * because the bytes may have crossed a process boundary in between.
 * Non-parallel and bounded; rows carry no timestamp.
 *
 * Checkpoints: a split is a range of row indices [next, end) still to emit;
 * the source snapshots the one it reads (none once it is done) and, restored,
 * reads the ranges it receives in order.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "connectors_int.h"
#include "mem.h"

#define NAME "collection"
#define SPLIT_TAG "FLco"
#define SPLIT_VERSION 1

static const fl_option_def options[] = {
    {"rows", "", false, "base64 of the rows' binary form, concatenated"},
    {NULL, NULL, false, NULL},
};

/* Rows [next, end) by index. */
typedef struct collection_range {
    uint64_t next, end;
} collection_range;

typedef struct collection_state {
    unsigned char *rows; /* decoded bytes, owned */
    size_t len;
    size_t *starts;      /* byte offset of each row, and len at [count] */
    size_t count;
    collection_range *ranges; /* unread ones from `cur` on: the position a checkpoint records */
    size_t n_ranges, cur;
} collection_state;

/* Decodes the option into new bytes (NULL when empty) and checks every row. */
static int decode_rows(const fl_options *o, const fl_schema *s, unsigned char **out,
                       size_t *out_len, fl_error *err) {
    const char *text = fl_options_get(o, "rows");
    *out = NULL;
    *out_len = 0;
    if (text == NULL || text[0] == '\0')
        return 0;
    size_t len = 0;
    unsigned char *bytes = fl_base64_decode(text, &len);
    if (bytes == NULL)
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": option rows is not valid base64");
    size_t off = 0, index = 0;
    while (off < len) {
        uint32_t row_len = 0;
        if (len - off >= 4)
            memcpy(&row_len, bytes + off, 4);
        if (len - off < 8 || row_len < 8 || row_len > len - off) {
            free(bytes);
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": row %zu (at byte %zu) is truncated",
                                index, off);
        }
        int rc = fl_row_validate(bytes + off, row_len, s, err);
        if (rc < 0) {
            free(bytes);
            fl_error_prefix(err, "connector \"" NAME "\": row %zu", index);
            return rc;
        }
        off += row_len;
        index++;
    }
    *out = bytes;
    *out_len = len;
    return 0;
}

static fl_schema *collection_schema(const fl_options *o, const fl_schema *declared,
                                    fl_error *err) {
    if (declared == NULL) {
        fl_error_set(err, FL_ESCHEMA, "connector \"" NAME "\" needs a declared schema");
        return NULL;
    }
    unsigned char *rows;
    size_t len;
    if (decode_rows(o, declared, &rows, &len, err) < 0)
        return NULL;
    free(rows);
    /* Schemas are immutable; the reference count is the only thing that changes. */
    return fl_schema_ref((fl_schema *)declared);
}

static bool collection_bounded(const fl_options *o) {
    return true;
}

static int collection_open(fl_source_ctx *ctx, const fl_options *o, void **state,
                           fl_error *err) {
    const fl_schema *s = fl_row_builder_schema(fl_source_builder(ctx));
    collection_state *st = fl_xcalloc(1, sizeof *st);
    int rc = decode_rows(o, s, &st->rows, &st->len, err);
    if (rc < 0) {
        free(st);
        return rc;
    }
    /* decode_rows checked that the rows tile the bytes exactly. */
    size_t cap = 16;
    st->starts = fl_xmalloc(cap * sizeof *st->starts);
    for (size_t off = 0;; off += fl_row_size((const fl_row *)(st->rows + off))) {
        if (st->count + 1 == cap) {
            cap *= 2;
            st->starts = fl_xrealloc(st->starts, cap * sizeof *st->starts);
        }
        st->starts[st->count] = off;
        if (off >= st->len)
            break;
        st->count++;
    }
    st->ranges = fl_xmalloc(sizeof *st->ranges);
    if (st->count > 0) {
        st->ranges[0] = (collection_range){0, st->count};
        st->n_ranges = 1;
    }
    *state = st;
    return 0;
}

static int collection_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    collection_state *st = state;
    for (int n = 0; n < FL__CONN_BATCH_ROWS && st->cur < st->n_ranges; n++) {
        collection_range *r = &st->ranges[st->cur];
        const fl_row *row = (const fl_row *)(st->rows + st->starts[r->next]);
        int rc = fl_source_emit_row(ctx, row, FL_NO_TIMESTAMP);
        if (rc < 0)
            return rc;
        if (++r->next == r->end)
            st->cur++;
    }
    return st->cur < st->n_ranges ? FL_SOURCE_MORE : FL_SOURCE_END;
}

static int collection_snapshot(void *state, fl_split_list *out, fl_error *err) {
    collection_state *st = state;
    for (size_t i = st->cur; i < st->n_ranges; i++) {
        uint64_t fields[] = {st->ranges[i].next, st->ranges[i].end};
        fl__blob_add_u64s(out, SPLIT_TAG, SPLIT_VERSION, fields, 2);
    }
    return 0;
}

static int collection_restore(void *state, const fl_split *splits, size_t n, fl_error *err) {
    collection_state *st = state;
    collection_range *restored = fl_xmalloc((n ? n : 1) * sizeof *restored);
    for (size_t i = 0; i < n; i++) {
        uint64_t fields[2];
        bool ok = fl__blob_read_u64s(splits[i], SPLIT_TAG, SPLIT_VERSION, fields, 2);
        restored[i] = (collection_range){.next = fields[0], .end = fields[1]};
        if (!ok) {
            free(restored);
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": split %zu is not a collection split", i);
        }
        if (restored[i].next >= restored[i].end || restored[i].end > st->count) {
            uint64_t end = restored[i].end;
            free(restored);
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": split %zu reaches row %" PRIu64
                                " of a collection of %zu rows",
                                i, end, st->count);
        }
    }
    free(st->ranges);
    st->ranges = restored;
    st->n_ranges = n;
    st->cur = 0;
    return 0;
}

static void collection_close(void *state) {
    collection_state *st = state;
    if (st == NULL)
        return;
    free(st->rows);
    free(st->starts);
    free(st->ranges);
    free(st);
}

const fl_source_connector fl__source_collection = {
    .name = NAME,
    .description = "Rows given with the job (fromCollection), in order; bounded.",
    .options = options,
    .parallel = false,
    .schema = collection_schema,
    .bounded = collection_bounded,
    .open = collection_open,
    .read = collection_read,
    .close = collection_close,
    .snapshot = collection_snapshot,
    .restore = collection_restore,
};
