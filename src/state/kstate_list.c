/*
 * kstate_list.c - list state: the entry's payload is its elements' rows back
 * to back (each row is a multiple of 8 bytes long, so they stay aligned), the
 * entry's count their number; a list holds at most 2 GiB of rows (FL_EINVAL
 * beyond). Adding appends in place and doubles the
 * payload when full; get fills the state's pointer array with the elements'
 * addresses (valid until the next change).
 *
 * TTL is per list, not per element (a simplification of Flink, which keeps a
 * timestamp per element): adding or updating refreshes the whole list, and an
 * expired list reads as empty and is dropped.
 */
#include <string.h>

#include "state_int.h"

int fl_kstate_list_add(fl_kstate *s, const fl_row *element) {
    if (s->kind != FL_STATE_LIST) return FL_ESTATE;
    if (!element) return FL_EINVAL;
    fl__loc loc;
    if (!fl__kstate_live(s, &loc, false)) return FL_ESTATE;
    uint32_t len = fl__row_len(element);
    if (!loc.e) {
        fl__kstate_store(s, &loc, s->ns, s->ns_len, s->ns_hash, element, len, 1);
        return 0;
    }
    if ((uint64_t)loc.e->vlen + len > UINT32_MAX / 2) return FL_EINVAL; /* 2 GiB a list */
    if (fl__entry_contains(loc.e, element)) { /* adding one of its own elements: growing moves it */
        uint8_t *copy = fl__kstate_scratch(s, len);
        memcpy(copy, element, len);
        element = (const fl_row *)copy;
    }
    fl__entry *e = fl__kstate_reserve(s, &loc, loc.e->vlen + len);
    memcpy(fl__entry_payload(e) + e->vlen, element, len);
    e->vlen += len;
    e->count++;
    if (fl__kstate_has_ttl(s)) e->deadline = fl__ttl_deadline(fl__kstate_now(s), s->ttl_ms);
    return 0;
}

const fl_row *const *fl_kstate_list_get(fl_kstate *s, size_t *n) {
    *n = 0;
    fl__loc loc;
    if (s->kind != FL_STATE_LIST || !fl__kstate_live(s, &loc, true) || !loc.e) return NULL;
    const fl_row **ptrs = fl__kstate_ptrs(s, loc.e->count);
    const uint8_t *p = fl__entry_payload(loc.e);
    for (uint32_t i = 0; i < loc.e->count; i++) {
        ptrs[i] = (const fl_row *)p;
        p += fl__row_len(p);
    }
    *n = loc.e->count;
    return ptrs;
}

int fl_kstate_list_update(fl_kstate *s, const fl_row *const *elements, size_t n) {
    if (s->kind != FL_STATE_LIST) return FL_ESTATE;
    fl__loc loc;
    if (!fl__kstate_locate(s, &loc)) return FL_ESTATE;
    if (n == 0) { /* an empty list is no list */
        if (loc.e) fl__kstate_remove(s, &loc);
        return 0;
    }
    if (n > UINT32_MAX) return FL_EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!elements[i]) return FL_EINVAL;
        total += fl__row_len(elements[i]);
    }
    if (total > UINT32_MAX / 2) return FL_EINVAL;
    /* Gathered first: the elements may be this list's own (from list_get). */
    uint8_t *buf = fl__kstate_scratch(s, total), *p = buf;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = fl__row_len(elements[i]);
        memcpy(p, elements[i], len);
        p += len;
    }
    fl__kstate_store(s, &loc, s->ns, s->ns_len, s->ns_hash, buf, (uint32_t)total, (uint32_t)n);
    return 0;
}

/* Target's elements, then each source's in order, into the target. */
int fl__list_merge(fl_kstate *s, const void *target, uint32_t target_len,
                   const void *const *sources, const uint32_t *source_lens, size_t n_sources) {
    uint64_t target_hash = fl__ns_hash(target, target_len);
    fl__loc loc;
    fl__kstate_live_ns(s, target, target_len, target_hash, &loc);
    size_t total = loc.e ? loc.e->vlen : 0;
    bool any_source = false;
    for (size_t i = 0; i < n_sources; i++) {
        if (fl__skip_source(sources, source_lens, i, target, target_len)) continue;
        fl__loc src;
        fl__kstate_live_ns(s, sources[i], source_lens[i], fl__ns_hash(sources[i], source_lens[i]),
                           &src);
        if (!src.e) continue;
        any_source = true;
        total += src.e->vlen;
    }
    if (!any_source) return 0;
    if (total > UINT32_MAX / 2) return FL_EINVAL;

    uint8_t *buf = fl__kstate_scratch(s, total);
    size_t len = 0, count = 0;
    fl__kstate_locate_ns(s, target, target_len, target_hash, &loc);
    if (loc.e) {
        memcpy(buf, fl__entry_payload(loc.e), loc.e->vlen);
        len = loc.e->vlen;
        count = loc.e->count;
    }
    for (size_t i = 0; i < n_sources; i++) {
        if (fl__skip_source(sources, source_lens, i, target, target_len)) continue;
        fl__loc src;
        fl__kstate_locate_ns(s, sources[i], source_lens[i], fl__ns_hash(sources[i], source_lens[i]),
                             &src);
        if (!src.e) continue;
        memcpy(buf + len, fl__entry_payload(src.e), src.e->vlen);
        len += src.e->vlen;
        count += src.e->count;
        fl__kstate_remove(s, &src);
    }
    fl__kstate_locate_ns(s, target, target_len, target_hash, &loc);
    fl__kstate_store(s, &loc, target, target_len, target_hash, buf, (uint32_t)len, (uint32_t)count);
    return 0;
}
