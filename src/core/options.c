/*
 * options.c - connector options: checked against the connector's option
 * table once, when the graph is built, so that a typo is an error naming
 * the valid keys instead of a silently ignored setting; read through typed
 * getters that name the option and the connector on a malformed value.
 */
#include "options.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mem.h"

struct fl_options {
    fl_kv *entries;
    char *what;
};

/* Whether key matches a def key, where a "#" segment of the def matches any
 * one non-empty segment of the key. */
static bool key_matches(const char *def, const char *key) {
    for (;;) {
        const char *def_end = strchr(def, '.');
        const char *key_end = strchr(key, '.');
        size_t def_len = def_end ? (size_t)(def_end - def) : strlen(def);
        size_t key_len = key_end ? (size_t)(key_end - key) : strlen(key);
        if (def_len == 1 && def[0] == '#') {
            if (key_len == 0)
                return false;
        } else if (def_len != key_len || memcmp(def, key, def_len) != 0) {
            return false;
        }
        if (def_end == NULL || key_end == NULL)
            return def_end == NULL && key_end == NULL;
        def = def_end + 1;
        key = key_end + 1;
    }
}

static const fl_option_def *find_def(const fl_option_def *defs, const char *key) {
    if (defs == NULL)
        return NULL;
    for (const fl_option_def *d = defs; d->key != NULL; d++)
        if (key_matches(d->key, key))
            return d;
    return NULL;
}

/* "a, b, c" of every def key, or "none". Returns new. */
static char *valid_keys(const fl_option_def *defs) {
    size_t len = 0;
    char *s = fl_xstrdup("");
    for (const fl_option_def *d = defs; d != NULL && d->key != NULL; d++) {
        size_t n = strlen(d->key);
        s = fl_xrealloc(s, len + n + 3);
        if (len > 0) {
            memcpy(s + len, ", ", 2);
            len += 2;
        }
        memcpy(s + len, d->key, n + 1);
        len += n;
    }
    if (len == 0) {
        free(s);
        s = fl_xstrdup("none");
    }
    return s;
}

fl_options *fl_options_create(const fl_option_def *defs, const fl_kv *given, const char *what,
                              fl_error *err) {
    if (what == NULL)
        what = "connector";
    size_t ngiven = given ? fl_kv_count(given) : 0;
    for (size_t i = 0; i < ngiven; i++) {
        const char *key = fl_kv_key(given, i);
        if (find_def(defs, key) == NULL) {
            char *valid = valid_keys(defs);
            fl_error_set(err, FL_ECONFIG, "unknown option \"%s\" for %s; valid options: %s",
                         key, what, valid);
            free(valid);
            return NULL;
        }
    }
    for (const fl_option_def *d = defs; d != NULL && d->key != NULL; d++) {
        if (!d->required || strchr(d->key, '#') != NULL)
            continue;
        if ((given == NULL || fl_kv_get(given, d->key) == NULL) && d->default_value == NULL) {
            fl_error_set(err, FL_ECONFIG, "missing required option \"%s\" for %s", d->key,
                         what);
            return NULL;
        }
    }

    fl_options *o = fl_xmalloc(sizeof *o);
    o->entries = given ? fl_kv_clone(given) : fl_kv_create();
    o->what = fl_xstrdup(what);
    for (const fl_option_def *d = defs; d != NULL && d->key != NULL; d++) {
        if (d->default_value == NULL || strchr(d->key, '#') != NULL)
            continue;
        if (fl_kv_get(o->entries, d->key) == NULL)
            fl_kv_set(o->entries, d->key, d->default_value);
    }
    return o;
}

void fl_options_destroy(fl_options *o) {
    if (o == NULL)
        return;
    fl_kv_destroy(o->entries);
    free(o->what);
    free(o);
}

const fl_kv *fl_options_kv(const fl_options *o) { return o->entries; }

const char *fl_options_get(const fl_options *o, const char *key) {
    return fl_kv_get(o->entries, key);
}

static int bad_option(const fl_options *o, fl_error *err, const char *key, const char *value,
                      const char *expected) {
    return fl_error_set(err, FL_ECONFIG,
                        "invalid value \"%s\" for option \"%s\" of %s: expected %s", value, key,
                        o->what, expected);
}

int fl_options_get_int64(const fl_options *o, const char *key, int64_t dflt, int64_t *out,
                         fl_error *err) {
    const char *v = fl_options_get(o, key);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (fl_parse_int(v, out) != 0) {
        *out = dflt;
        return bad_option(o, err, key, v, "an integer");
    }
    return 0;
}

int fl_options_get_double(const fl_options *o, const char *key, double dflt, double *out,
                          fl_error *err) {
    const char *v = fl_options_get(o, key);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (fl_parse_double(v, out) != 0) {
        *out = dflt;
        return bad_option(o, err, key, v, "a number");
    }
    return 0;
}

int fl_options_get_bool(const fl_options *o, const char *key, bool dflt, bool *out,
                        fl_error *err) {
    const char *v = fl_options_get(o, key);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (fl_parse_bool(v, out) != 0) {
        *out = dflt;
        return bad_option(o, err, key, v, "true or false");
    }
    return 0;
}
