/*
 * config.c - flinc's configuration: flink-conf.yaml, -D overrides, and the
 * parsers of Flink's value forms (durations, memory sizes, booleans).
 *
 * The YAML file is read with libyaml's event parser and flattened into the
 * same flat key space Flink uses: nested maps join their keys with '.', and a
 * sequence becomes one value with its items joined by ';'. A file is loaded
 * into a scratch map first, so a malformed file leaves the configuration as
 * it was. Values stay strings until a typed getter parses them, and a getter
 * that cannot names the key, the value and the form it expected.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "fs.h"
#include "mem.h"

/* Deeper nesting than this is not a configuration; refusing it keeps the
 * recursive flattening's stack use bounded on hostile input. */
#define CONFIG_MAX_DEPTH 64

struct fl_config {
    fl_kv *entries;
};

fl_config *fl_config_create(void) {
    fl_config *c = fl_xmalloc(sizeof *c);
    c->entries = fl_kv_create();
    return c;
}

void fl_config_destroy(fl_config *c) {
    if (c == NULL)
        return;
    fl_kv_destroy(c->entries);
    free(c);
}

fl_config *fl_config_clone(const fl_config *c) {
    fl_config *d = fl_xmalloc(sizeof *d);
    d->entries = fl_kv_clone(c->entries);
    return d;
}

fl_config *fl_config_from_kv(const fl_kv *kv) {
    fl_config *c = fl_config_create();
    fl_kv_merge(c->entries, kv);
    return c;
}

void fl_config_set(fl_config *c, const char *key, const char *value) {
    fl_kv_set(c->entries, key, value);
}

const char *fl_config_get(const fl_config *c, const char *key) {
    return fl_kv_get(c->entries, key);
}

const fl_kv *fl_config_entries(const fl_config *c) { return c->entries; }

/* ---- YAML ------------------------------------------------------------------------ */

typedef struct yaml_ctx {
    yaml_parser_t parser;
    const char *name; /* file name or the caller's name for the string */
    const char *text; /* the YAML being parsed */
    size_t text_len;
    fl_kv *out;
    fl_error *err;
} yaml_ctx;

static int syntax_error(yaml_ctx *y) {
    const yaml_parser_t *p = &y->parser;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a position: count lines. */
        size_t line = 1, column = 1;
        for (size_t i = 0; i < p->problem_offset && i < y->text_len; i++) {
            if (y->text[i] == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        return fl_error_set(y->err, FL_ECONFIG,
                            "could not parse \"%s\": line %zu, column %zu: %s", y->name, line,
                            column, problem);
    }
    if (p->context != NULL)
        return fl_error_set(y->err, FL_ECONFIG,
                            "could not parse \"%s\": line %zu, column %zu: %s %s", y->name,
                            p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
                            p->context);
    return fl_error_set(y->err, FL_ECONFIG, "could not parse \"%s\": line %zu, column %zu: %s",
                        y->name, p->problem_mark.line + 1, p->problem_mark.column + 1,
                        problem);
}

static int structure_error(yaml_ctx *y, const yaml_event_t *ev, const char *what) {
    return fl_error_set(y->err, FL_ECONFIG, "could not parse \"%s\": line %zu, column %zu: %s",
                        y->name, ev->start_mark.line + 1, ev->start_mark.column + 1, what);
}

static int next_event(yaml_ctx *y, yaml_event_t *ev) {
    if (!yaml_parser_parse(&y->parser, ev))
        return syntax_error(y);
    return 0;
}

static const char *scalar_text(const yaml_event_t *ev) {
    return (const char *)ev->data.scalar.value;
}

static int parse_node(yaml_ctx *y, yaml_event_t *ev, const char *key, int depth);

/* A mapping whose MAPPING_START has been consumed; keys are prefixed with
 * "prefix." (no prefix at the top). */
static int parse_mapping(yaml_ctx *y, const char *prefix, int depth) {
    for (;;) {
        yaml_event_t kev;
        int rc = next_event(y, &kev);
        if (rc != 0)
            return rc;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            rc = structure_error(y, &kev, "a key must be a plain value, not a list or a map");
            yaml_event_delete(&kev);
            return rc;
        }
        char *key = prefix ? fl_xasprintf("%s.%s", prefix, scalar_text(&kev))
                           : fl_xstrdup(scalar_text(&kev));
        yaml_event_delete(&kev);

        yaml_event_t vev;
        rc = next_event(y, &vev);
        if (rc == 0)
            rc = parse_node(y, &vev, key, depth + 1);
        free(key);
        if (rc != 0)
            return rc;
    }
}

/* A sequence whose SEQUENCE_START has been consumed: its scalars joined by ';'. */
static int parse_sequence(yaml_ctx *y, const char *key) {
    char *joined = fl_xstrdup("");
    size_t len = 0;
    bool first = true;
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        rc = next_event(y, &ev);
        if (rc != 0)
            break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            fl_kv_set(y->out, key, joined);
            break;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            rc = structure_error(y, &ev, "a list may hold only plain values");
            yaml_event_delete(&ev);
            break;
        }
        size_t n = ev.data.scalar.length;
        joined = fl_xrealloc(joined, len + n + 2);
        if (!first)
            joined[len++] = ';';
        memcpy(joined + len, ev.data.scalar.value, n);
        len += n;
        joined[len] = '\0';
        first = false;
        yaml_event_delete(&ev);
    }
    free(joined);
    return rc;
}

/* Takes ownership of ev (deletes it). */
static int parse_node(yaml_ctx *y, yaml_event_t *ev, const char *key, int depth) {
    int rc = 0;
    if (depth > CONFIG_MAX_DEPTH) {
        rc = structure_error(y, ev, "nested too deeply");
        yaml_event_delete(ev);
        return rc;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        fl_kv_set(y->out, key, scalar_text(ev));
        yaml_event_delete(ev);
        return 0;
    case YAML_MAPPING_START_EVENT:
        yaml_event_delete(ev);
        return parse_mapping(y, key, depth);
    case YAML_SEQUENCE_START_EVENT:
        yaml_event_delete(ev);
        return parse_sequence(y, key);
    case YAML_ALIAS_EVENT:
        rc = structure_error(y, ev, "aliases (*name) are not supported");
        break;
    default:
        rc = structure_error(y, ev, "unexpected YAML element");
        break;
    }
    yaml_event_delete(ev);
    return rc;
}

/* The root of a document: a mapping, or nothing at all (an empty file). */
static int parse_document_root(yaml_ctx *y) {
    yaml_event_t ev;
    int rc = next_event(y, &ev);
    if (rc != 0)
        return rc;
    if (ev.type == YAML_MAPPING_START_EVENT) {
        yaml_event_delete(&ev);
        return parse_mapping(y, NULL, 0);
    }
    if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0) {
        yaml_event_delete(&ev);
        return 0;
    }
    rc = structure_error(y, &ev, "expected a map of keys to values");
    yaml_event_delete(&ev);
    return rc;
}

static int parse_yaml(yaml_ctx *y) {
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(y, &ev);
        if (rc != 0)
            return rc;
        yaml_event_type_t type = ev.type;
        yaml_event_delete(&ev);
        switch (type) {
        case YAML_STREAM_END_EVENT:
            return 0;
        case YAML_DOCUMENT_START_EVENT:
            rc = parse_document_root(y);
            if (rc != 0)
                return rc;
            break;
        default: /* stream start, document end */
            break;
        }
    }
}

static int load_buffer(fl_config *c, const char *yaml, size_t len, const char *name,
                       fl_error *err) {
    yaml_ctx y;
    memset(&y, 0, sizeof y);
    y.name = name ? name : "<string>";
    y.err = err;
    y.text = yaml;
    y.text_len = len;
    if (!yaml_parser_initialize(&y.parser))
        return fl_error_set(err, FL_ENOMEM, "could not parse \"%s\": out of memory", y.name);
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)yaml, len);
    y.out = fl_kv_create();
    int rc = parse_yaml(&y);
    if (rc == 0)
        fl_kv_merge(c->entries, y.out);
    fl_kv_destroy(y.out);
    yaml_parser_delete(&y.parser);
    return rc;
}

int fl_config_load_string(fl_config *c, const char *yaml, const char *name, fl_error *err) {
    return load_buffer(c, yaml, strlen(yaml), name, err);
}

int fl_config_load_file(fl_config *c, const char *path, fl_error *err) {
    char why[128];
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        if (e == ENOENT)
            return fl_error_set(err, FL_ENOENT, "could not open \"%s\": no such file", path);
        return fl_error_set(err, FL_EIO, "could not open \"%s\": %s", path,
                            fl_errno_text(e, why, sizeof why));
    }
    size_t cap = 4096, len = 0;
    char *buf = fl_xmalloc(cap);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = fl_xrealloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int rc = 0;
    if (ferror(f)) {
        rc = fl_error_set(err, FL_EIO, "could not read \"%s\": %s", path,
                          fl_errno_text(errno, why, sizeof why));
    }
    fclose(f);
    if (rc == 0)
        rc = load_buffer(c, buf, len, path, err);
    free(buf);
    return rc;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int fl_config_set_pair(fl_config *c, const char *pair, fl_error *err) {
    const char *eq = strchr(pair, '=');
    if (eq == NULL)
        return fl_error_set(err, FL_ECONFIG,
                            "invalid dynamic property \"%s\": expected key=value", pair);
    char *copy = fl_xstrdup(pair);
    copy[eq - pair] = '\0';
    char *key = trim(copy);
    char *value = trim(copy + (eq - pair) + 1);
    int rc = 0;
    if (key[0] == '\0')
        rc = fl_error_set(err, FL_ECONFIG,
                          "invalid dynamic property \"%s\": the key is empty", pair);
    else
        fl_config_set(c, key, value);
    free(copy);
    return rc;
}

/* ---- value parsers ------------------------------------------------------------- */

/* Copies s without surrounding white space into buf; false when it does not
 * fit or is empty. */
static bool trimmed(const char *s, char *buf, size_t size) {
    if (s == NULL)
        return false;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n >= size)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

int fl_parse_int(const char *s, int64_t *out) {
    char buf[64];
    if (!trimmed(s, buf, sizeof buf))
        return FL_ECONFIG;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0' || end == buf)
        return FL_ECONFIG;
    *out = (int64_t)v;
    return 0;
}

int fl_parse_bool(const char *s, bool *out) {
    char buf[16];
    if (!trimmed(s, buf, sizeof buf))
        return FL_ECONFIG;
    if (strcasecmp(buf, "true") == 0) {
        *out = true;
        return 0;
    }
    if (strcasecmp(buf, "false") == 0) {
        *out = false;
        return 0;
    }
    return FL_ECONFIG;
}

int fl_parse_double(const char *s, double *out) {
    char buf[128];
    if (!trimmed(s, buf, sizeof buf))
        return FL_ECONFIG;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || end == buf || (errno == ERANGE && isinf(v)))
        return FL_ECONFIG;
    *out = v;
    return 0;
}

/* Splits "<digits> <unit>" (white space optional) as Flink's TimeUtils and
 * MemorySize do: a non-negative integer, then a unit word, lower-cased into
 * unit. */
static bool split_number_unit(const char *s, uint64_t *number, char *unit, size_t unit_size) {
    char buf[128];
    if (!trimmed(s, buf, sizeof buf))
        return false;
    const char *p = buf;
    if (!isdigit((unsigned char)*p))
        return false;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    while (isspace((unsigned char)*p))
        p++;
    size_t n = strlen(p);
    if (n >= unit_size)
        return false;
    for (size_t i = 0; i <= n; i++)
        unit[i] = (char)tolower((unsigned char)p[i]);
    *number = v;
    return true;
}

static bool unit_in(const char *unit, const char *const *names) {
    for (; *names != NULL; names++)
        if (strcmp(unit, *names) == 0)
            return true;
    return false;
}

int fl_parse_duration_ms(const char *s, int64_t *out) {
    static const char *const ns[] = {"ns", "nano", "nanos", "nanosecond", "nanoseconds", NULL};
    static const char *const us[] = {"us", "\xc2\xb5s", "micro", "micros", "microsecond",
                                     "microseconds", NULL};
    static const char *const ms[] = {"", "ms", "milli", "millis", "millisecond",
                                     "milliseconds", NULL};
    static const char *const sec[] = {"s", "sec", "secs", "second", "seconds", NULL};
    static const char *const min[] = {"m", "min", "mins", "minute", "minutes", NULL};
    static const char *const hour[] = {"h", "hour", "hours", NULL};
    static const char *const day[] = {"d", "day", "days", NULL};
    uint64_t v;
    char unit[32];
    if (!split_number_unit(s, &v, unit, sizeof unit))
        return FL_ECONFIG;
    uint64_t result;
    uint64_t factor = 0;
    if (unit_in(unit, ns))
        result = v / 1000000;
    else if (unit_in(unit, us))
        result = v / 1000;
    else if (unit_in(unit, ms))
        factor = 1;
    else if (unit_in(unit, sec))
        factor = 1000;
    else if (unit_in(unit, min))
        factor = 60 * 1000;
    else if (unit_in(unit, hour))
        factor = 3600 * 1000;
    else if (unit_in(unit, day))
        factor = 24 * 3600 * 1000;
    else
        return FL_ECONFIG;
    if (factor != 0) {
        if (v > (uint64_t)INT64_MAX / factor)
            return FL_ECONFIG;
        result = v * factor;
    }
    if (result > (uint64_t)INT64_MAX)
        return FL_ECONFIG;
    *out = (int64_t)result;
    return 0;
}

int fl_parse_size(const char *s, int64_t *out) {
    static const char *const b[] = {"", "b", "bytes", NULL};
    static const char *const k[] = {"k", "kb", "kib", "kibibytes", NULL};
    static const char *const m[] = {"m", "mb", "mib", "mebibytes", NULL};
    static const char *const g[] = {"g", "gb", "gib", "gibibytes", NULL};
    static const char *const t[] = {"t", "tb", "tib", "tebibytes", NULL};
    uint64_t v;
    char unit[32];
    if (!split_number_unit(s, &v, unit, sizeof unit))
        return FL_ECONFIG;
    int shift;
    if (unit_in(unit, b))
        shift = 0;
    else if (unit_in(unit, k))
        shift = 10;
    else if (unit_in(unit, m))
        shift = 20;
    else if (unit_in(unit, g))
        shift = 30;
    else if (unit_in(unit, t))
        shift = 40;
    else
        return FL_ECONFIG;
    if (v > ((uint64_t)INT64_MAX >> shift))
        return FL_ECONFIG;
    *out = (int64_t)(v << shift);
    return 0;
}

/* ---- typed getters --------------------------------------------------------------- */

static int bad_value(fl_error *err, const char *key, const char *value, const char *expected) {
    return fl_error_set(err, FL_ECONFIG, "invalid value \"%s\" for \"%s\": expected %s", value,
                        key, expected);
}

int fl_config_get_int(const fl_config *c, const char *key, int64_t dflt, int64_t *out,
                      fl_error *err) {
    const char *v = fl_config_get(c, key);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (fl_parse_int(v, out) != 0) {
        *out = dflt;
        return bad_value(err, key, v, "an integer");
    }
    return 0;
}

int fl_config_get_bool(const fl_config *c, const char *key, bool dflt, bool *out,
                       fl_error *err) {
    const char *v = fl_config_get(c, key);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (fl_parse_bool(v, out) != 0) {
        *out = dflt;
        return bad_value(err, key, v, "true or false");
    }
    return 0;
}

int fl_config_get_double(const fl_config *c, const char *key, double dflt, double *out,
                         fl_error *err) {
    const char *v = fl_config_get(c, key);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (fl_parse_double(v, out) != 0) {
        *out = dflt;
        return bad_value(err, key, v, "a number");
    }
    return 0;
}

int fl_config_get_duration_ms(const fl_config *c, const char *key, int64_t dflt,
                              int64_t *out, fl_error *err) {
    const char *v = fl_config_get(c, key);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (fl_parse_duration_ms(v, out) != 0) {
        *out = dflt;
        return bad_value(err, key, v, "a duration such as \"100 ms\"");
    }
    return 0;
}

int fl_config_get_size(const fl_config *c, const char *key, int64_t dflt, int64_t *out,
                       fl_error *err) {
    const char *v = fl_config_get(c, key);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (fl_parse_size(v, out) != 0) {
        *out = dflt;
        return bad_value(err, key, v, "a memory size such as \"32kb\"");
    }
    return 0;
}
