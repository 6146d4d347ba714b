/*
 * kv.h - an ordered map of string keys to string values.
 *
 * The one small map behind configurations, connector options and job
 * parameters: few entries, looked up at set-up time, never on the hot path.
 * Keys keep insertion order (so plans and docs print deterministically);
 * setting an existing key replaces its value in place.
 */
#ifndef FL_CORE_KV_H
#define FL_CORE_KV_H

#include <stddef.h>

typedef struct fl_kv fl_kv;

fl_kv *fl_kv_create(void);
void fl_kv_destroy(fl_kv *kv);            /* NULL is fine */
fl_kv *fl_kv_clone(const fl_kv *kv);      /* returns new */
/* Copies key and value. */
void fl_kv_set(fl_kv *kv, const char *key, const char *value);
/* Borrowed value or NULL. */
const char *fl_kv_get(const fl_kv *kv, const char *key);
int fl_kv_remove(fl_kv *kv, const char *key); /* 1 removed, 0 absent */
size_t fl_kv_count(const fl_kv *kv);
/* i-th key/value in insertion order; borrowed. */
const char *fl_kv_key(const fl_kv *kv, size_t i);
const char *fl_kv_value(const fl_kv *kv, size_t i);
/* Every entry of src set into dst (src wins). */
void fl_kv_merge(fl_kv *dst, const fl_kv *src);

#endif
