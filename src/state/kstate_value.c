/*
 * kstate_value.c - the states whose entry holds one row: value (the row
 * itself), reducing (the reduced row, of the value schema) and aggregating
 * (the accumulator row, of the aggregate's acc_schema), and their merging.
 *
 * Rows are stored in the entry, so a get returns a pointer into it; reduce
 * and aggregate functions write into builders owned by the state (reset
 * before each call), whose row is then copied over the old one in place, so
 * an add on an existing entry allocates nothing once the builders are warm.
 * A user function's negative return comes back from the access call; a
 * builder the function left in error (a field of the wrong type) is FL_EUSER.
 */
#include <string.h>

#include "state_int.h"

static bool check_kind(const fl_kstate *s, fl_state_kind k) { return s->kind == k; }

/* ---- value
 * --------------------------------------------------------------------------------------- */

const fl_row *fl_kstate_value_get(fl_kstate *s) {
    fl__loc loc;
    if (!check_kind(s, FL_STATE_VALUE) || !fl__kstate_live(s, &loc, true) || !loc.e) return NULL;
    return (const fl_row *)fl__entry_payload(loc.e);
}

int fl_kstate_value_update(fl_kstate *s, const fl_row *value) {
    if (!check_kind(s, FL_STATE_VALUE)) return FL_ESTATE;
    fl__loc loc;
    if (!fl__kstate_locate(s, &loc)) return FL_ESTATE;
    if (!value) { /* as in Flink, updating to null clears */
        if (loc.e) fl__kstate_remove(s, &loc);
        return 0;
    }
    fl__kstate_store(s, &loc, s->ns, s->ns_len, s->ns_hash, value, fl__row_len(value), 0);
    return 0;
}

/* ---- reducing and aggregating -----------------------------------------------------------------
 */

static int finish(fl_row_builder *rb, const fl_row **out) {
    *out = fl_row_builder_finish(rb);
    return *out ? 0 : FL_EUSER;
}

/* The accumulator after adding in to acc (NULL: no entry yet), in a builder. */
static int accumulate(fl_kstate *s, const fl_row *acc, const fl_row *in, const fl_row **out) {
    int rc;
    if (s->kind == FL_STATE_REDUCING) {
        if (!acc) { /* the first value is the reduced value */
            *out = in;
            return 0;
        }
        fl_row_builder_reset(s->out_a);
        rc = s->reduce(s->reduce_arg, acc, in, s->out_a);
        return rc < 0 ? rc : finish(s->out_a, out);
    }
    if (!acc) {
        fl_row_builder_reset(s->out_b);
        rc = s->agg.create(s->agg.arg, s->out_b);
        if (rc < 0 || (rc = finish(s->out_b, &acc)) < 0) return rc;
    }
    fl_row_builder_reset(s->out_a);
    rc = s->agg.add(s->agg.arg, in, acc, s->out_a);
    return rc < 0 ? rc : finish(s->out_a, out);
}

int fl_kstate_add(fl_kstate *s, const fl_row *in) {
    if (s->kind != FL_STATE_REDUCING && s->kind != FL_STATE_AGGREGATING) return FL_ESTATE;
    if (!in) return FL_EINVAL;
    fl__loc loc;
    if (!fl__kstate_live(s, &loc, false)) return FL_ESTATE;
    const fl_row *acc = loc.e ? (const fl_row *)fl__entry_payload(loc.e) : NULL;
    const fl_row *next;
    int rc = accumulate(s, acc, in, &next);
    if (rc < 0) return rc;
    fl__kstate_store(s, &loc, s->ns, s->ns_len, s->ns_hash, next, fl__row_len(next), 0);
    return 0;
}

/* The reduced value or aggregate result of accumulator acc (NULL: none). */
static int result_of(fl_kstate *s, const fl_row *acc, const fl_row **out) {
    *out = NULL;
    if (!acc) return 0;
    if (s->kind == FL_STATE_REDUCING) {
        *out = acc;
        return 0;
    }
    fl_row_builder_reset(s->result);
    int rc = s->agg.result(s->agg.arg, acc, s->result);
    if (rc < 0) return rc;
    return finish(s->result, out);
}

int fl_kstate_merge_in(fl_kstate *s, const fl_row *acc) {
    if (s->kind != FL_STATE_REDUCING && s->kind != FL_STATE_AGGREGATING) return FL_ESTATE;
    if (!acc) return FL_EINVAL;
    fl__loc loc;
    if (!fl__kstate_live(s, &loc, false)) return FL_ESTATE;
    const fl_row *next = acc;
    if (loc.e) {
        const fl_row *cur = (const fl_row *)fl__entry_payload(loc.e);
        fl_row_builder_reset(s->out_a);
        int rc = s->kind == FL_STATE_REDUCING ? s->reduce(s->reduce_arg, cur, acc, s->out_a)
                                              : s->agg.merge(s->agg.arg, cur, acc, s->out_a);
        if (rc < 0 || (rc = finish(s->out_a, &next)) < 0) return rc;
    }
    fl__kstate_store(s, &loc, s->ns, s->ns_len, s->ns_hash, next, fl__row_len(next), 0);
    return 0;
}

int fl_kstate_get_checked(fl_kstate *s, const fl_row **out) {
    *out = NULL;
    if (s->kind != FL_STATE_REDUCING && s->kind != FL_STATE_AGGREGATING) return FL_ESTATE;
    fl__loc loc;
    if (!fl__kstate_live(s, &loc, true)) return FL_ESTATE;
    return result_of(s, loc.e ? (const fl_row *)fl__entry_payload(loc.e) : NULL, out);
}

const fl_row *fl_kstate_get(fl_kstate *s) {
    const fl_row *out;
    return fl_kstate_get_checked(s, &out) < 0 ? NULL : out;
}

/* Folds the accumulators of the namespaces sources[0..n) that have one into
 * *acc (NULL: none yet), in order, alternating between the two builders so
 * that one holds the running result while the function writes the other. A
 * source equal to `skip` (when given) or to an earlier source is left out.
 * *any tells whether a source had an accumulator. */
static int fold_sources(fl_kstate *s, const fl_row **acc, const void *const *sources,
                        const uint32_t *source_lens, size_t n, const void *skip,
                        uint32_t skip_len, bool *any) {
    fl_row_builder *spare = s->out_a;
    *any = false;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = source_lens[i];
        if (fl__skip_source(sources, source_lens, i, skip, skip ? skip_len : UINT32_MAX))
            continue;
        fl__loc src;
        fl__kstate_live_ns(s, sources[i], len, fl__ns_hash(sources[i], len), &src);
        if (!src.e) continue;
        *any = true;
        const fl_row *in = (const fl_row *)fl__entry_payload(src.e);
        if (!*acc) {
            *acc = in;
            continue;
        }
        fl_row_builder_reset(spare);
        int rc = s->kind == FL_STATE_REDUCING ? s->reduce(s->reduce_arg, *acc, in, spare)
                                              : s->agg.merge(s->agg.arg, *acc, in, spare);
        if (rc < 0 || (rc = finish(spare, acc)) < 0) return rc;
        spare = spare == s->out_a ? s->out_b : s->out_a;
    }
    return 0;
}

int fl_kstate_get_merged(fl_kstate *s, const void *const *namespaces, const uint32_t *lens,
                         size_t n, const fl_row **out) {
    *out = NULL;
    if (s->kind != FL_STATE_REDUCING && s->kind != FL_STATE_AGGREGATING) return FL_ESTATE;
    if (s->b->key_group < 0) return FL_ESTATE;
    const fl_row *acc = NULL;
    bool any;
    int rc = fold_sources(s, &acc, namespaces, lens, n, NULL, 0, &any);
    return rc < 0 ? rc : result_of(s, acc, out);
}

/* Folds the target's and the sources' accumulators (target first, then the
 * sources in order, as Flink does) into the target and drops the sources. */
int fl__acc_merge(fl_kstate *s, const void *target, uint32_t target_len, const void *const *sources,
                  const uint32_t *source_lens, size_t n_sources) {
    uint64_t target_hash = fl__ns_hash(target, target_len);
    fl__loc loc;
    fl__kstate_live_ns(s, target, target_len, target_hash, &loc);
    const fl_row *acc = loc.e ? (const fl_row *)fl__entry_payload(loc.e) : NULL;
    bool any_source;
    int rc = fold_sources(s, &acc, sources, source_lens, n_sources, target, target_len,
                          &any_source);
    if (rc < 0) return rc;
    if (!any_source) return 0;

    /* acc may point into a source entry or a builder: copy it out, drop the
     * sources, then store it as the target (whose slot the removals may have
     * moved). */
    uint32_t acc_len = fl__row_len(acc);
    uint8_t *copy = fl__kstate_scratch(s, acc_len);
    memcpy(copy, acc, acc_len);
    for (size_t i = 0; i < n_sources; i++) {
        uint32_t len = source_lens[i];
        if (fl__skip_source(sources, source_lens, i, target, target_len)) continue;
        fl__loc src;
        fl__kstate_locate_ns(s, sources[i], len, fl__ns_hash(sources[i], len), &src);
        if (src.e) fl__kstate_remove(s, &src);
    }
    fl__kstate_locate_ns(s, target, target_len, target_hash, &loc);
    fl__kstate_store(s, &loc, target, target_len, target_hash, copy, acc_len, 0);
    return 0;
}
