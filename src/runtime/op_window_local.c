/*
 * op_window_local.c - the local half of a two-phase window aggregation, as
 * Flink's SQL runtime does it (LocalWindowAggregate before the shuffle,
 * GlobalWindowAggregate after): placed by the planner (window_api.c) in
 * front of the key_by of a keyed window that sums, or takes the min or max
 * of, a field over tumbling or sliding event-time windows, chained to the
 * operator that feeds the key_by. It folds the rows of each (key, slice) --
 * a slice being the slide-long piece of time whose rows share all their
 * windows -- into one row, so the exchange and the window operator see one
 * row per key and slice instead of one per element. A folded row is the
 * first row of its (key, slice) with the field folded (field_agg.h), stamped
 * with the latest timestamp folded into it; the window operator adds it to
 * its windows like any element, which for sum/min/max gives the same
 * result. For an aggregate function that merges, the step keeps an
 * accumulator per (key, slice) (create_accumulator, add) and sends (key
 * fields, accumulator fields), the node's schema; the window operator then
 * keys those rows by their leading fields and merges the accumulators
 * (FL_WIN_OPT_INPUT). The planner does this only when no late-data side
 * output is declared, since a row passing unfolded goes as an accumulator of
 * one row.
 *
 * Rows are held until a row of a later slice than any held arrives, a
 * watermark reaches the earliest window of a held slice, a checkpoint
 * barrier comes or the input ends, and go out before the watermark, barrier
 * or end does; or when LOCAL_MAX_ROWS keys and slices or LOCAL_MAX_BYTES of
 * rows are held. The window operator (default or event-time trigger: the
 * planner's condition) fires a window only when the watermark reaches its
 * end, so a row held past watermarks below its slice's earliest window end
 * delays no result and reaches the window operator before any watermark
 * that could fire its windows. A row whose slice's
 * earliest window the last watermark has reached -- a window the window
 * operator may have fired already -- goes on at once, unfolded: late
 * firings, allowed lateness, late data and its side output see exactly the
 * rows they would without the local step.
 *
 * The operator keeps nothing across checkpoints (it flushes before each
 * barrier), so it has no state to snapshot or restore.
 */
#include <stdlib.h>
#include <string.h>

#include "field_agg.h"
#include "mem.h"
#include "row_int.h"
#include "runtime_int.h"
#include "schema_text.h"
#include "window_int.h"

#define LOCAL_MAX_ROWS  (64u * 1024u)
#define LOCAL_MAX_BYTES (16u << 20) /* of held rows: then they go out */
#define MIN_SLOTS       4096u
#define GOLDEN          UINT64_C(0x9e3779b97f4a7c15)

/* One (key, slice) held, in the arena in arrival order: this header, then
 * the folded row (sum/min/max), or the first row (aggregate: its key fields
 * are the key; the accumulator is apart, as it may change size). */
typedef struct held_row {
    uint64_t hash;
    int64_t slice;
    int64_t ts; /* latest timestamp folded in */
    uint32_t row_len;
    uint32_t index; /* arrival number: the accumulator's place in accs */
} held_row;

/* An aggregate's accumulator of a held row. */
typedef struct held_acc {
    uint8_t *row;
    uint32_t len, cap;
} held_acc;

typedef struct local_agg {
    fl_field_agg agg;
    /* An aggregate function instead (it merges): rows fold into an
     * accumulator and go out as (key fields, accumulator fields), the
     * node's schema. */
    bool aggregate;
    fl_aggregate_function fn;
    fl_row_builder *acc_a, *acc_b, *out;
    held_acc *accs; /* LOCAL_MAX_ROWS of them, reused */
    fl_operator *op;
    int64_t offset, slide;
    int64_t last_slice;   /* the slice of the last row (at first: the one of time 0) */
    int64_t last_answer;  /* slice_of's answer for it under the current watermark */
    int64_t newest_slice; /* the latest slice held since the start (INT64_MIN: none) */
    int64_t oldest_slice; /* the earliest slice held now (INT64_MAX: none) */
    int n_keys;           /* the key fields and whether each is STRING or BYTES */
    const int *key_fields;
    bool *key_var;
    /* One STRING or BYTES key field among the first 64: where its slot is
     * (else 0), for the fast paths of key_hash and same_key. */
    uint32_t one_key_slot;
    uint64_t one_key_null; /* its bit in the null bitmap */
    uint32_t n_held;
    /* Open addressing over the held rows: the upper 32 bits of the row's
     * hash, then its arena offset / 8 + 1 (0: empty). */
    uint64_t *slots;
    uint32_t mask;
    uint8_t *arena;
    size_t used, cap;
} local_agg;

static uint64_t mix(uint64_t h) {
    h ^= h >> 32;
    h *= UINT64_C(0xd6e8feb86659fd93);
    return h ^ (h >> 32);
}

/* A STRING or BYTES value's hash: its whole words, a row's values being
 * zero padded to 8 bytes (were one not, equal keys would only fold less).
 * One multiply per word; the caller mixes the result. */
static inline uint64_t var_hash(const uint8_t *p, uint32_t len) {
    uint64_t v = (uint64_t)len * GOLDEN;
    for (uint32_t o = 0; o < len; o += 8) {
        uint64_t w;
        memcpy(&w, p + o, 8);
        v = (v ^ w) * UINT64_C(0xd6e8feb86659fd93);
        v ^= v >> 29;
    }
    return v;
}

/* The value of the single STRING or BYTES key (the common case: a word, a
 * name), read at its slot's fixed place: NULL when null. */
static inline const uint8_t *one_key(const local_agg *l, const fl_row *row, uint32_t *len) {
    uint64_t nulls, slot;
    memcpy(&nulls, (const uint8_t *)row + FL_ROW_HEADER, 8);
    if (nulls & l->one_key_null) return NULL;
    memcpy(&slot, (const uint8_t *)row + l->one_key_slot, 8);
    *len = (uint32_t)(slot >> 32);
    return (const uint8_t *)row + (uint32_t)slot;
}

/* The hash of (the row's key fields, slice): for this table only, so it
 * needs no key row and need not be XXH64 (the exchange hashes the key row of
 * what goes out). */
static inline uint64_t key_hash(const local_agg *l, const fl_row *row, int64_t slice) {
    uint64_t h = (uint64_t)slice * GOLDEN;
    if (l->one_key_slot) {
        uint32_t len;
        const uint8_t *p = one_key(l, row, &len);
        return mix(h ^ (p ? var_hash(p, len) : GOLDEN));
    }
    for (int k = 0; k < l->n_keys; k++) {
        uint32_t f = (uint32_t)l->key_fields[k];
        uint64_t v;
        if (fl__row_null(row, f)) {
            v = GOLDEN;
        } else if (l->key_var[k]) {
            uint32_t len;
            const uint8_t *p = fl__row_var(row, f, &len);
            v = var_hash(p, len);
        } else {
            v = fl__row_slot_u64(row, f);
        }
        h = mix(h ^ v) + (uint64_t)k;
    }
    return h;
}

/* Whether rows a and b have equal key fields. */
static inline __attribute__((always_inline)) bool same_key(const local_agg *l, const fl_row *a,
                                                           const fl_row *b) {
    if (l->one_key_slot) {
        uint32_t la = 0, lb = 0;
        const uint8_t *pa = one_key(l, a, &la), *pb = one_key(l, b, &lb);
        if (!pa || !pb) return pa == pb;
        return la == lb && fl__bytes_equal(pa, pb, fl__align8(la)); /* whole words */
    }
    for (int k = 0; k < l->n_keys; k++) {
        uint32_t f = (uint32_t)l->key_fields[k];
        bool na = fl__row_null(a, f), nb = fl__row_null(b, f);
        if (na || nb) {
            if (na != nb) return false;
            continue;
        }
        if (!l->key_var[k]) {
            if (fl__row_slot_u64(a, f) != fl__row_slot_u64(b, f)) return false;
            continue;
        }
        /* Whole words, padding included (see key_hash). */
        uint32_t la, lb;
        const uint8_t *pa = fl__row_var(a, f, &la), *pb = fl__row_var(b, f, &lb);
        if (la != lb || !fl__bytes_equal(pa, pb, fl__align8(la))) return false;
    }
    return true;
}

static uint32_t home(const local_agg *l, uint64_t h) { return (uint32_t)h & l->mask; }

static uint64_t slot_of(uint64_t h, size_t off) { return (h >> 32 << 32) | (off / 8 + 1); }

static held_row *held_at(const local_agg *l, uint64_t slot) {
    return (held_row *)(l->arena + ((slot & 0xffffffffu) - 1) * 8);
}

static size_t held_size(const held_row *x) { return sizeof *x + fl__align8(x->row_len); }

static void place(local_agg *l, uint64_t h, size_t off) {
    uint32_t i = home(l, h);
    while (l->slots[i]) i = (i + 1) & l->mask;
    l->slots[i] = slot_of(h, off);
}

/* Empties the slots: all at once when many are used, else the slot of
 * each held row (searched past empty slots, as its neighbours may already
 * be cleared), so that a large table does not cost a full clear per flush
 * of a few rows. */
static void clear_slots(local_agg *l) {
    if ((size_t)l->n_held * 16 >= (size_t)l->mask + 1) {
        memset(l->slots, 0, ((size_t)l->mask + 1) * sizeof *l->slots);
        return;
    }
    for (size_t off = 0; off < l->used;) {
        held_row *x = (held_row *)(l->arena + off);
        uint64_t want = slot_of(x->hash, off);
        uint32_t i = home(l, x->hash);
        while (l->slots[i] != want) i = (i + 1) & l->mask;
        l->slots[i] = 0;
        off += held_size(x);
    }
}

/* Slots for four times the rows held and more; rebuilt from the arena. */
static void grow_slots(local_agg *l) {
    uint32_t cap = l->slots ? (l->mask + 1) * 2 : MIN_SLOTS;
    free(l->slots);
    l->slots = fl_xcalloc(cap, sizeof *l->slots);
    l->mask = cap - 1;
    for (size_t off = 0; off < l->used;) {
        held_row *x = (held_row *)(l->arena + off);
        place(l, x->hash, off);
        off += held_size(x);
    }
}

/* ---- aggregate functions ------------------------------------------------------------------ */

/* The accumulator of acc (NULL: a new one) with row added, in a builder. */
static int acc_add(local_agg *l, const fl_row *acc, const fl_row *row, int64_t ts,
                   const fl_row **out, fl_error *err) {
    fl_operator *op = l->op;
    fl_context *ctx = &op->ctx;
    ctx->timestamp = ts;
    if (!acc) {
        fl_row_builder_reset(l->acc_b);
        acc = fl__user_row(op, l->acc_b, l->fn.create_accumulator(ctx, l->acc_b),
                           "create_accumulator", err);
        if (!acc) return FL_EUSER;
    }
    fl_row_builder_reset(l->acc_a);
    *out =
        fl__user_row(op, l->acc_a, l->fn.add(ctx, row, acc, l->acc_a), "aggregate function", err);
    return *out ? 0 : FL_EUSER;
}

static void keep_acc(local_agg *l, const held_row *x, const fl_row *acc) {
    held_acc *a = &l->accs[x->index];
    uint32_t len = fl__row_len(acc);
    if (len > a->cap) {
        a->cap = len * 2;
        a->row = fl_xrealloc(a->row, a->cap);
    }
    memcpy(a->row, acc, len);
    a->len = len;
}

/* Emits (key fields of row, fields of acc) at ts. */
static int emit_partial(fl_operator *op, const fl_row *row, const fl_row *acc, int64_t ts) {
    local_agg *l = op->impl;
    fl_row_builder *b = l->out;
    fl_row_builder_reset(b);
    for (int k = 0; k < l->n_keys; k++) fl_row_builder_copy_field(b, k, row, l->key_fields[k]);
    int m = fl_schema_num_fields(l->fn.acc_schema);
    for (int j = 0; j < m; j++) fl_row_builder_copy_field(b, l->n_keys + j, acc, j);
    const fl_row *r = fl_row_builder_finish(b);
    if (!r)
        return fl_error_set(&op->task->error, FL_EUSER, "\"%s\": %s", op->node->name,
                            fl_row_builder_error(b));
    return fl__output_emit(&op->out, r, ts);
}

/* Emits every held row in arrival order and forgets them. */
static int flush_held(fl_operator *op) {
    local_agg *l = op->impl;
    if (l->n_held == 0) return 0;
    int rc = 0;
    for (size_t off = 0; off < l->used;) {
        held_row *x = (held_row *)(l->arena + off);
        const fl_row *first = (const fl_row *)(x + 1);
        if (rc == 0)
            rc = l->aggregate
                     ? emit_partial(op, first, (const fl_row *)l->accs[x->index].row, x->ts)
                     : fl__output_emit_ref(&op->out, first, x->ts);
        off += held_size(x);
    }
    /* The rows are referenced by the output batch until it is pushed on. */
    if (rc == 0) rc = fl__output_flush(&op->out);
    clear_slots(l);
    l->oldest_slice = INT64_MAX;
    l->n_held = 0;
    l->used = 0;
    return rc;
}

/* The held row of row's key and slice (hash h), or NULL and in *slot where
 * it would go. */
static inline __attribute__((always_inline)) held_row *
find(const local_agg *l, const fl_row *row, uint64_t h, int64_t slice, uint32_t *slot) {
    uint32_t i = home(l, h);
    for (uint64_t s; (s = l->slots[i]); i = (i + 1) & l->mask) {
        if (s >> 32 != h >> 32) continue;
        held_row *x = held_at(l, s);
        if (x->hash == h && x->slice == slice && same_key(l, (const fl_row *)(x + 1), row))
            return x;
    }
    *slot = i;
    return NULL;
}

/* Holds row as the first of its key and slice, at slot. */
static inline held_row *insert(local_agg *l, const fl_row *row, uint64_t h, int64_t slice,
                               int64_t ts, uint32_t slot) {
    uint32_t len = fl__row_len(row);
    size_t need = sizeof(held_row) + fl__align8(len);
    if (l->used + need > l->cap) {
        size_t cap = l->cap ? l->cap : 256 * 1024;
        while (cap < l->used + need) cap *= 2;
        l->arena = fl_xrealloc(l->arena, cap);
        l->cap = cap;
    }
    size_t off = l->used;
    held_row *x = (held_row *)(l->arena + off);
    *x = (held_row){.hash = h, .slice = slice, .ts = ts, .row_len = len, .index = l->n_held};
    memcpy(x + 1, row, len);
    l->used += need;
    l->slots[slot] = slot_of(h, off);
    if (slice < l->oldest_slice) l->oldest_slice = slice;
    return x;
}

static void held_one_more(local_agg *l) {
    /* At most a quarter full: most probes end at their first slot. */
    if (++l->n_held * 4 > l->mask + 1) grow_slots(l);
}

/* sum/min/max: folds row into the held row of its key and slice, or holds it. */
static inline void hold_field(local_agg *l, const fl_row *row, int64_t slice, uint64_t h,
                              int64_t ts) {
    uint32_t slot;
    held_row *x = find(l, row, h, slice, &slot);
    if (!x) {
        insert(l, row, h, slice, ts, slot);
        held_one_more(l);
        return;
    }
    uint64_t value;
    if (fl__field_agg_fold(&l->agg, (const fl_row *)(x + 1), row, &value))
        fl__field_agg_set(&l->agg, (uint8_t *)(x + 1), value);
    if (ts > x->ts) x->ts = ts;
}

/* Aggregate: adds row to the accumulator of its key and slice, or starts one. */
static int __attribute__((noinline)) hold_aggregate(local_agg *l, const fl_row *row, int64_t slice,
                                                    uint64_t h, int64_t ts, fl_error *err) {
    uint32_t slot;
    held_row *x = find(l, row, h, slice, &slot);
    const fl_row *acc;
    int rc = acc_add(l, x ? (const fl_row *)l->accs[x->index].row : NULL, row, ts, &acc, err);
    if (rc < 0) return rc;
    if (!x) {
        x = insert(l, row, h, slice, ts, slot);
        keep_acc(l, x, acc);
        held_one_more(l);
        return 0;
    }
    keep_acc(l, x, acc);
    if (ts > x->ts) x->ts = ts;
    return 0;
}

/* The slice of timestamp ts, or LATE when the row must go on as it is: it
 * has no timestamp, or the watermark reached its slice's earliest window,
 * which ends at slice + slide (the window operator may have fired that). */
#define LATE INT64_MIN
static int64_t slice_answer(const local_agg *l, int64_t slice, int64_t watermark) {
    return slice > INT64_MAX - l->slide || slice + l->slide - 1 <= watermark ? LATE : slice;
}

/* Consecutive rows mostly share a slice: its answer is kept (local_process
 * renews it for each batch's watermark), and a row in it costs one unsigned
 * compare (ts - slice, wrapping, is below the slide exactly when ts lies in
 * [slice, slice + slide)). */
static inline int64_t slice_of(local_agg *l, int64_t ts, int64_t watermark) {
    if (ts == FL_NO_TIMESTAMP) return LATE;
    if ((uint64_t)ts - (uint64_t)l->last_slice >= (uint64_t)l->slide) {
        l->last_slice = fl__win_start(ts, l->offset, l->slide);
        l->last_answer = slice_answer(l, l->last_slice, watermark);
    }
    return l->last_answer;
}

/* A row that goes on unfolded. */
static int pass_on(fl_operator *op, const fl_row *row, int64_t ts, fl_error *err) {
    local_agg *l = op->impl;
    if (!l->aggregate) return fl__output_emit_ref(&op->out, row, ts);
    const fl_row *acc; /* alone, as an accumulator of one row */
    int rc = acc_add(l, NULL, row, ts, &acc, err);
    return rc < 0 ? rc : emit_partial(op, row, acc, ts);
}

/* Rows are taken CHUNK at a time: their slices and hashes first, then
 * folded in order, fetching ahead the table slot of the row SLOT_AHEAD on
 * and the held row that the (by then arrived) slot of the row ENTRY_AHEAD
 * on leads to. A table of one slice's keys is larger than the first-level
 * cache, and without this each row waits for two loads from further out. */
#define CHUNK       256
#define SLOT_AHEAD  16
#define ENTRY_AHEAD 8

static int local_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    (void)input;
    local_agg *l = op->impl;
    int64_t slices[CHUNK];
    uint64_t hashes[CHUNK];
    /* The rows' home slots, and slot 0 past the chunk's end and for rows
     * that go on unfolded: fetching ahead needs no bounds test (the table
     * only grows, so a home stays a valid slot). */
    uint32_t homes[CHUNK + SLOT_AHEAD] = {0};
    l->last_answer = slice_answer(l, l->last_slice, op->watermark);
    for (uint32_t base = 0; base < in->n; base += CHUNK) {
        uint32_t n = in->n - base < CHUNK ? in->n - base : CHUNK;
        const fl_row *const *rows = in->rows + base;
        const int64_t *ts = in->ts + base;
        for (uint32_t i = 0; i < n; i++) {
            slices[i] = slice_of(l, ts[i], op->watermark);
            homes[i] = 0;
            if (slices[i] == LATE) continue;
            hashes[i] = key_hash(l, rows[i], slices[i]);
            homes[i] = home(l, hashes[i]);
        }
        for (uint32_t i = n; i < n + SLOT_AHEAD; i++) homes[i] = 0;
        for (uint32_t i = 0; i < SLOT_AHEAD; i++) __builtin_prefetch(&l->slots[homes[i]]);
        for (uint32_t i = 0; i < n; i++) {
            __builtin_prefetch(&l->slots[homes[i + SLOT_AHEAD]]);
            uint64_t ahead = l->slots[homes[i + ENTRY_AHEAD]];
            if (ahead) __builtin_prefetch(held_at(l, ahead));
            int rc = 0;
            if (slices[i] == LATE) {
                rc = pass_on(op, rows[i], ts[i], err);
                if (rc < 0) return rc;
                continue;
            }
            if (slices[i] > l->newest_slice) {
                /* Event time moved on: the rows held will mostly fold no
                 * more, and sending them now keeps the table at about one
                 * slice's keys. */
                rc = flush_held(op);
                l->newest_slice = slices[i];
            }
            if (rc == 0) {
                if (!l->aggregate)
                    hold_field(l, rows[i], slices[i], hashes[i], ts[i]);
                else
                    rc = hold_aggregate(l, rows[i], slices[i], hashes[i], ts[i], err);
            }
            if (rc == 0 && (l->n_held == LOCAL_MAX_ROWS || l->used >= LOCAL_MAX_BYTES))
                rc = flush_held(op);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

static int local_watermark(fl_operator *op, int64_t watermark, fl_error *err) {
    (void)err;
    local_agg *l = op->impl;
    /* Held slices are below INT64_MAX - slide (slice_of). */
    if (l->n_held > 0 && watermark >= l->oldest_slice + l->slide - 1) {
        int rc = flush_held(op);
        if (rc < 0) return rc;
    }
    return fl__op_forward_watermark(op, watermark);
}

static int local_end_input(fl_operator *op, fl_error *err) {
    (void)err;
    return flush_held(op);
}

static int local_prepare_snapshot(fl_operator *op, int64_t checkpoint_id, fl_error *err) {
    (void)checkpoint_id;
    (void)err;
    return flush_held(op);
}

static int local_open(fl_operator *op, fl_error *err) {
    local_agg *l = fl_xcalloc(1, sizeof *l);
    op->impl = l;
    const fl_stream_node *n = op->node;
    fl_window_assigner a;
    int rc = fl__win_assigner_from_options(n->options, &a, err);
    if (rc < 0) return rc;
    l->op = op;
    fl_win_fn_kind fn;
    const char *f = fl_kv_get(n->options, FL_WIN_OPT_FUNCTION);
    if (fl__win_fn_parse(f, &fn) < 0) fn = FL_WIN_PROCESS;
    l->aggregate = fn == FL_WIN_AGGREGATE || fn == FL_WIN_AGGREGATE_PROCESS;
    int field = (int)fl__op_option_int(op, FL_WIN_OPT_FIELD, -1);
    bool field_ok = field >= 0 && field < fl_schema_num_fields(op->input_schema);
    fl_field_agg_kind fold = FL_FIELD_SUM;
    bool by_field = fl__field_agg_parse(f, &fold); /* sum/min/max */
    if (!n->key || n->key->n_fields == 0 || a.domain != FL_TIME_EVENT ||
        (a.kind != FL_WINDOW_TUMBLING && a.kind != FL_WINDOW_SLIDING) ||
        (!l->aggregate && (!field_ok || !by_field)))
        return fl_error_set(err, FL_EINVAL,
                            "\"%s\": a local window aggregate needs a sum, min, max or merging "
                            "aggregate keyed by fields over tumbling or sliding event-time windows",
                            n->name);
    if (l->aggregate) {
        fl_aggregate_function *g = &l->fn;
        g->create_accumulator =
            (int (*)(fl_context *, fl_row_builder *))fl__op_fn(op, FL_WIN_FN_AGG_CREATE);
        g->add = (int (*)(fl_context *, const fl_row *, const fl_row *, fl_row_builder *))fl__op_fn(
            op, FL_WIN_FN_AGG_ADD);
        g->acc_schema = fl__schema_decode(fl_kv_get(n->options, FL_WIN_OPT_ACC_SCHEMA),
                                          "the local window aggregate's options", err);
        if (!g->acc_schema) return err->code;
        if (!g->create_accumulator || !g->add)
            return fl_error_set(err, FL_EINVAL, "\"%s\": the aggregate function is incomplete",
                                n->name);
        l->acc_a = fl_row_builder_create(g->acc_schema);
        l->acc_b = fl_row_builder_create(g->acc_schema);
        l->out = fl_row_builder_create(n->schema);
        l->accs = fl_xcalloc(LOCAL_MAX_ROWS, sizeof *l->accs);
    } else {
        l->agg = fl__field_agg_of(fold, op->input_schema, field);
    }
    l->offset = a.offset_ms;
    l->newest_slice = INT64_MIN;
    l->oldest_slice = INT64_MAX;
    l->slide = a.kind == FL_WINDOW_TUMBLING ? a.size_ms : a.slide_ms;
    l->last_slice = fl__win_start(0, l->offset, l->slide);
    if (a.kind == FL_WINDOW_SLIDING && a.size_ms % a.slide_ms != 0)
        return fl_error_set(err, FL_EINVAL,
                            "\"%s\": a local window aggregate needs a window size that is a "
                            "multiple of the slide",
                            n->name);
    l->n_keys = n->key->n_fields;
    l->key_fields = n->key->fields;
    l->key_var = fl_xcalloc((size_t)l->n_keys, sizeof *l->key_var);
    for (int k = 0; k < l->n_keys; k++) {
        fl_type t = fl_schema_field_type(op->input_schema, l->key_fields[k]);
        l->key_var[k] = t == FL_STRING || t == FL_BYTES;
    }
    uint32_t nf = (uint32_t)fl_schema_num_fields(op->input_schema);
    if (l->n_keys == 1 && l->key_var[0] && nf <= 64) {
        l->one_key_slot = FL_ROW_HEADER + 8u + 8u * (uint32_t)l->key_fields[0];
        l->one_key_null = UINT64_C(1) << l->key_fields[0];
    }
    grow_slots(l);
    return 0;
}

static void local_close(fl_operator *op) {
    local_agg *l = op->impl;
    if (!l) return;
    for (uint32_t i = 0; l->accs && i < LOCAL_MAX_ROWS; i++) free(l->accs[i].row);
    free(l->accs);
    fl_row_builder_destroy(l->acc_a);
    fl_row_builder_destroy(l->acc_b);
    fl_row_builder_destroy(l->out);
    fl_schema_unref((fl_schema *)l->fn.acc_schema);
    free(l->key_var);
    free(l->slots);
    free(l->arena);
    free(l);
    op->impl = NULL;
}

const fl_operator_ops fl__op_window_local = {
    .kind = "window_local",
    .open = local_open,
    .process = local_process,
    .watermark = local_watermark,
    .end_input = local_end_input,
    .prepare_snapshot = local_prepare_snapshot,
    .close = local_close,
};
