/*
 * schema.c - field types and schemas.
 *
 * A schema is built once, never changed, and shared by reference between the
 * graph, the tasks of every subtask, and the rows' builders, so its
 * reference count is atomic and everything else in it is read-only.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flinc/row.h"
#include "mem.h"
#include "schema_int.h"
#include "schema_text.h"

const char *fl_type_name(fl_type t) {
    switch (t) {
    case FL_BOOLEAN:
        return "BOOLEAN";
    case FL_INT:
        return "INT";
    case FL_BIGINT:
        return "BIGINT";
    case FL_DOUBLE:
        return "DOUBLE";
    case FL_STRING:
        return "STRING";
    case FL_BYTES:
        return "BYTES";
    case FL_TIMESTAMP:
        return "TIMESTAMP(3)";
    }
    return NULL;
}

static const struct {
    const char *name;
    fl_type type;
} type_aliases[] = {
    {"BOOLEAN", FL_BOOLEAN},
    {"BOOL", FL_BOOLEAN},
    {"INT", FL_INT},
    {"INTEGER", FL_INT},
    {"BIGINT", FL_BIGINT},
    {"DOUBLE", FL_DOUBLE},
    {"DOUBLE PRECISION", FL_DOUBLE},
    {"STRING", FL_STRING},
    {"VARCHAR", FL_STRING},
    {"BYTES", FL_BYTES},
    {"VARBINARY", FL_BYTES},
    {"TIMESTAMP", FL_TIMESTAMP},
    {"TIMESTAMP(3)", FL_TIMESTAMP},
};

int fl_type_parse(const char *name, fl_type *out) {
    if (name == NULL)
        return FL_EINVAL;
    while (isspace((unsigned char)*name))
        name++;
    size_t len = strlen(name);
    while (len > 0 && isspace((unsigned char)name[len - 1]))
        len--;
    for (size_t i = 0; i < sizeof type_aliases / sizeof type_aliases[0]; i++) {
        if (strlen(type_aliases[i].name) == len &&
            strncasecmp(type_aliases[i].name, name, len) == 0) {
            *out = type_aliases[i].type;
            return 0;
        }
    }
    return FL_EINVAL;
}

fl_schema *fl_schema_create(const fl_field *fields, int n, fl_error *err) {
    if (n < 0 || n > FL_ROW_MAX_FIELDS) {
        fl_error_set(err, FL_ESCHEMA, "a schema has between 0 and %d fields, not %d",
                     FL_ROW_MAX_FIELDS, n);
        return NULL;
    }
    if (n > 0 && fields == NULL) {
        fl_error_set(err, FL_ESCHEMA, "schema of %d fields has no field list", n);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (fields[i].name == NULL || fields[i].name[0] == '\0') {
            fl_error_set(err, FL_ESCHEMA, "field %d has an empty name", i);
            return NULL;
        }
        if (fl_type_name(fields[i].type) == NULL) {
            fl_error_set(err, FL_ESCHEMA, "field %d (\"%s\") has an unknown type %d", i,
                         fields[i].name, (int)fields[i].type);
            return NULL;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(fields[i].name, fields[j].name) == 0) {
                fl_error_set(err, FL_ESCHEMA, "duplicate field name \"%s\" (fields %d and %d)",
                             fields[i].name, j, i);
                return NULL;
            }
        }
    }
    fl_schema *s = fl_xmalloc(sizeof *s);
    atomic_init(&s->refs, 1);
    s->n = n;
    s->fields = fl_xcalloc((size_t)(n > 0 ? n : 1), sizeof *s->fields);
    for (int i = 0; i < n; i++) {
        s->fields[i].name = fl_xstrdup(fields[i].name);
        s->fields[i].type = fields[i].type;
    }
    return s;
}

fl_schema *fl_schema_of(int n, ...) {
    if (n < 0 || n > FL_ROW_MAX_FIELDS) {
        fprintf(stderr, "flinc: fl_schema_of: a schema has between 0 and %d fields, not %d\n",
                FL_ROW_MAX_FIELDS, n);
        abort();
    }
    fl_field *fields = fl_xcalloc((size_t)(n > 0 ? n : 1), sizeof *fields);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        fields[i].name = va_arg(ap, const char *);
        fields[i].type = (fl_type)va_arg(ap, int);
    }
    va_end(ap);
    fl_error err;
    fl_error_clear(&err);
    fl_schema *s = fl_schema_create(fields, n, &err);
    free(fields);
    if (s == NULL) {
        fprintf(stderr, "flinc: fl_schema_of: %s\n", err.message);
        abort();
    }
    return s;
}

fl_schema *fl_schema_ref(fl_schema *s) {
    if (s != NULL)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void fl_schema_unref(fl_schema *s) {
    if (s == NULL)
        return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int i = 0; i < s->n; i++)
        free((char *)s->fields[i].name);
    free(s->fields);
    free(s);
}

int fl_schema_num_fields(const fl_schema *s) { return s->n; }

const char *fl_schema_field_name(const fl_schema *s, int i) {
    return i >= 0 && i < s->n ? s->fields[i].name : NULL;
}

fl_type fl_schema_field_type(const fl_schema *s, int i) {
    return i >= 0 && i < s->n ? s->fields[i].type : (fl_type)0;
}

int fl_schema_index_of(const fl_schema *s, const char *name) {
    if (name == NULL)
        return -1;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->fields[i].name, name) == 0)
            return i;
    return -1;
}

bool fl_schema_equals(const fl_schema *a, const fl_schema *b) {
    if (a == b)
        return true;
    if (a == NULL || b == NULL || a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++) {
        if (a->fields[i].type != b->fields[i].type ||
            strcmp(a->fields[i].name, b->fields[i].name) != 0)
            return false;
    }
    return true;
}

char *fl_schema_format(const fl_schema *s, char *buf, size_t size) {
    if (size == 0)
        return buf;
    size_t len = 0;
    buf[0] = '\0';
#define APPEND(...)                                                              \
    do {                                                                         \
        if (len < size) {                                                        \
            int w = snprintf(buf + len, size - len, __VA_ARGS__);                \
            len += w > 0 ? (size_t)w : 0;                                        \
        }                                                                        \
    } while (0)
    APPEND("(");
    for (int i = 0; i < s->n; i++)
        APPEND("%s%s %s", i ? ", " : "", s->fields[i].name, fl_type_name(s->fields[i].type));
    APPEND(")");
#undef APPEND
    return buf;
}

/* ---- as option text (schema_text.h) ---------------------------------------------------------- */

char *fl__schema_encode(const fl_schema *s) {
    size_t cap = 64, len = 0;
    char *out = fl_xmalloc(cap);
    out[0] = '\0';
    int n = fl_schema_num_fields(s);
    for (int i = 0; i < n; i++) {
        const char *name = fl_schema_field_name(s, i),
                   *type = fl_type_name(fl_schema_field_type(s, i));
        size_t need = len + 3 * strlen(name) + strlen(type) + 4;
        if (need > cap) {
            while (cap < need) cap *= 2;
            out = fl_xrealloc(out, cap);
        }
        if (i) out[len++] = ',';
        for (const char *p = name; *p; p++) {
            if (*p == '%' || *p == ':' || *p == ',')
                len += (size_t)sprintf(out + len, "%%%02X", (unsigned char)*p);
            else
                out[len++] = *p;
        }
        len += (size_t)sprintf(out + len, ":%s", type);
    }
    out[len] = '\0';
    return out;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

fl_schema *fl__schema_decode(const char *text, const char *where, fl_error *err) {
    if (!text || !*text) {
        fl_error_set(err, FL_ESCHEMA, "an empty schema in %s", where);
        return NULL;
    }
    char *copy = fl_xstrdup(text);
    int n = 1;
    for (const char *p = text; *p; p++) n += *p == ',';
    fl_field *fields = fl_xcalloc((size_t)n, sizeof *fields);
    fl_schema *s = NULL;
    int i = 0;
    for (char *tok = copy, *next; tok && i < n; tok = next, i++) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        char *colon = strrchr(tok, ':');
        if (!colon || fl_type_parse(colon + 1, &fields[i].type) < 0) goto bad;
        *colon = '\0';
        char *w = tok;
        for (char *r = tok; *r; r++) {
            if (*r == '%') {
                int hi = hex_digit(r[1]), lo = hi < 0 ? -1 : hex_digit(r[2]);
                if (lo < 0) goto bad;
                *w++ = (char)(hi * 16 + lo);
                r += 2;
            } else {
                *w++ = *r;
            }
        }
        *w = '\0';
        fields[i].name = tok;
    }
    s = fl_schema_create(fields, n, err);
    free(fields);
    free(copy);
    return s;
bad:
    fl_error_set(err, FL_ESCHEMA, "malformed schema \"%s\" in %s", text, where);
    free(fields);
    free(copy);
    return NULL;
}
