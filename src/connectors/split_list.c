/*
 * split_list.c - fl_split_list, the list of opaque blobs through which
 * sources hand their splits and two-phase-commit sinks their transaction
 * handles to the runtime's checkpoint (see flinc/connector.h). Each blob is
 * copied into its own allocation, so the fl_split array that restore() and
 * recover() take can point straight at them.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "flinc/connector.h"
#include "mem.h"

struct fl_split_list {
    fl_split *items; /* data of each owned (malloc'd, possibly 1 byte for len 0) */
    size_t n, cap;
};

fl_split_list *fl_split_list_create(void) { return fl_xcalloc(1, sizeof(fl_split_list)); }

void fl_split_list_clear(fl_split_list *l) {
    for (size_t i = 0; i < l->n; i++) free((void *)l->items[i].data);
    l->n = 0;
}

void fl_split_list_destroy(fl_split_list *l) {
    if (l == NULL) return;
    fl_split_list_clear(l);
    free(l->items);
    free(l);
}

void fl_split_list_add(fl_split_list *l, const void *data, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = fl_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    void *copy = fl_xmalloc(len ? len : 1);
    if (len > 0) memcpy(copy, data, len);
    l->items[l->n++] = (fl_split){copy, len};
}

size_t fl_split_list_count(const fl_split_list *l) { return l->n; }

fl_split fl_split_list_get(const fl_split_list *l, size_t i) {
    assert(i < l->n);
    return l->items[i];
}

const fl_split *fl_split_list_items(const fl_split_list *l) { return l->n ? l->items : NULL; }
