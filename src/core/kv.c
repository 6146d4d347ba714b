/*
 * kv.c - the small ordered string map behind configurations and options.
 *
 * A flat array searched linearly: these maps hold tens of entries and are
 * read at set-up time, where insertion order (for stable output) matters more
 * than lookup speed.
 */
#include "kv.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

typedef struct kv_entry {
    char *key;
    char *value;
} kv_entry;

struct fl_kv {
    kv_entry *entries;
    size_t count;
    size_t cap;
};

fl_kv *fl_kv_create(void) { return fl_xcalloc(1, sizeof(fl_kv)); }

void fl_kv_destroy(fl_kv *kv) {
    if (kv == NULL)
        return;
    for (size_t i = 0; i < kv->count; i++) {
        free(kv->entries[i].key);
        free(kv->entries[i].value);
    }
    free(kv->entries);
    free(kv);
}

fl_kv *fl_kv_clone(const fl_kv *kv) {
    fl_kv *c = fl_kv_create();
    fl_kv_merge(c, kv);
    return c;
}

static kv_entry *find(const fl_kv *kv, const char *key) {
    for (size_t i = 0; i < kv->count; i++)
        if (strcmp(kv->entries[i].key, key) == 0)
            return &kv->entries[i];
    return NULL;
}

void fl_kv_set(fl_kv *kv, const char *key, const char *value) {
    kv_entry *e = find(kv, key);
    if (e != NULL) {
        char *v = fl_xstrdup(value); /* value may point into the old one */
        free(e->value);
        e->value = v;
        return;
    }
    if (kv->count == kv->cap) {
        kv->cap = kv->cap ? kv->cap * 2 : 8;
        kv->entries = fl_xrealloc(kv->entries, kv->cap * sizeof *kv->entries);
    }
    kv->entries[kv->count].key = fl_xstrdup(key);
    kv->entries[kv->count].value = fl_xstrdup(value);
    kv->count++;
}

const char *fl_kv_get(const fl_kv *kv, const char *key) {
    const kv_entry *e = find(kv, key);
    return e ? e->value : NULL;
}

int fl_kv_remove(fl_kv *kv, const char *key) {
    kv_entry *e = find(kv, key);
    if (e == NULL)
        return 0;
    free(e->key);
    free(e->value);
    size_t i = (size_t)(e - kv->entries);
    memmove(e, e + 1, (kv->count - i - 1) * sizeof *e);
    kv->count--;
    return 1;
}

size_t fl_kv_count(const fl_kv *kv) { return kv->count; }

const char *fl_kv_key(const fl_kv *kv, size_t i) {
    return i < kv->count ? kv->entries[i].key : NULL;
}

const char *fl_kv_value(const fl_kv *kv, size_t i) {
    return i < kv->count ? kv->entries[i].value : NULL;
}

void fl_kv_merge(fl_kv *dst, const fl_kv *src) {
    if (src == NULL || src == dst)
        return;
    for (size_t i = 0; i < src->count; i++)
        fl_kv_set(dst, src->entries[i].key, src->entries[i].value);
}
