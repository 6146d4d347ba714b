/*
 * metadata_json.c - the bytes of a _metadata file and back.
 *
 * The file is one JSON document whose first line is a fixed header and whose
 * body is the checkpoint:
 *
 *     {"format": "flinc-checkpoint-metadata", "version": 1,
 *      "checksum": "xxh64:<16 hex>", "checkpoint":        (one line in the file)
 *     <body: indented JSON object>
 *     }
 *
 * The checksum is XXH64 of the body's bytes exactly as they are in the file,
 * so the reader checks it before it parses anything: a truncated file lacks
 * the closing line, a changed byte changes the checksum. The body is
 * self-describing (names, not positions), and the version in the header is
 * what a later flinc looks at to read an older file. Decoding trusts nothing:
 * every field is checked for presence, type and range, and a failure names
 * the field by its path (`operators[0].subtasks[1].files[0].size`).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_int.h"
#include "hash.h"
#include "log.h"
#include "mem.h"

#define FORMAT_NAME     "flinc-checkpoint-metadata"
#define FORMAT_VERSION  1
#define HEADER_START    "{\"format\": \"" FORMAT_NAME "\", \"version\": "
#define HEADER_CHECKSUM ", \"checksum\": \"" FL__CKPT_CHECKSUM_PREFIX
#define HEADER_END      "\", \"checkpoint\":\n"
#define TRAILER         "\n}\n"
#define PATH_LEN        160

/* ---- encoding -------------------------------------------------------------------------------- */

static json_t *checksum_json(uint64_t h) {
    char buf[32];
    snprintf(buf, sizeof buf, FL__CKPT_CHECKSUM_PREFIX "%016" PRIx64, h);
    return json_string(buf);
}

static json_t *nullable_string(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *subtask_json(const fl_checkpoint_subtask *s) {
    json_t *files = json_array();
    for (int f = 0; f < s->n_files; f++) {
        const fl_state_file *h = &s->files[f];
        json_t *o = json_object();
        json_object_set_new(o, "path", json_string(h->path));
        json_object_set_new(o, "role", json_string(h->role));
        json_object_set_new(o, "size", json_integer((json_int_t)h->size));
        json_object_set_new(o, "checksum", checksum_json(h->checksum));
        json_array_append_new(files, o);
    }
    json_t *values = json_object();
    for (size_t v = 0; s->values && v < fl_kv_count(s->values); v++)
        json_object_set_new(values, fl_kv_key(s->values, v),
                            json_string(fl_kv_value(s->values, v)));
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(s->index));
    json_object_set_new(o, "key_groups", json_pack("[ii]", s->key_group_first, s->key_group_last));
    json_object_set_new(o, "files", files);
    json_object_set_new(o, "values", values);
    return o;
}

char *fl_checkpoint_metadata_encode(const fl_checkpoint_metadata *md, size_t *len) {
    json_t *body = json_object();
    json_object_set_new(body, "id", json_integer(md->checkpoint_id));
    json_object_set_new(body, "kind", json_string(fl_checkpoint_kind_name(md->kind)));
    json_object_set_new(body, "job_id", json_string(md->job_id));
    json_object_set_new(body, "job_name", nullable_string(md->job_name));
    json_object_set_new(body, "timestamp", json_integer(md->timestamp_ms));
    json_t *ops = json_array();
    for (int o = 0; o < md->n_operators; o++) {
        const fl_checkpoint_operator *op = md->operators[o];
        json_t *subtasks = json_array();
        for (int i = 0; i < op->parallelism; i++)
            json_array_append_new(subtasks, subtask_json(&op->subtasks[i]));
        json_t *jo = json_object();
        json_object_set_new(jo, "uid", json_string(op->uid));
        json_object_set_new(jo, "name", nullable_string(op->name));
        json_object_set_new(jo, "parallelism", json_integer(op->parallelism));
        json_object_set_new(jo, "max_parallelism", json_integer(op->max_parallelism));
        json_object_set_new(jo, "subtasks", subtasks);
        json_array_append_new(ops, jo);
    }
    json_object_set_new(body, "operators", ops);
    char *text = json_dumps(body, JSON_INDENT(1));
    json_decref(body);
    if (text == NULL) {
        /* Only when md was not validated (a string that is not UTF-8). */
        fl_errlog(FL__CKPT_LOG, "checkpoint metadata could not be encoded");
        abort();
    }
    char *out =
        fl_xasprintf(HEADER_START "%d" HEADER_CHECKSUM "%016" PRIx64 HEADER_END "%s" TRAILER,
                     FORMAT_VERSION, fl_hash_bytes(text, strlen(text)), text);
    free(text);
    *len = strlen(out);
    return out;
}

/* ---- decoding -------------------------------------------------------------------------------- */

typedef struct decoder {
    const char *where;
    fl_error *err;
} decoder;

static int fail(decoder *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(decoder *d, const char *path, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fl_error_set(d->err, FL_EFORMAT, "malformed checkpoint metadata \"%s\": %s%s%s",
                        d->where, path, path[0] ? ": " : "", msg);
}

/* A field path such as operators[1].subtasks[0].files[2] into buf[PATH_LEN]; a
 * path too long ends in "..." (the message stays readable). */
static void pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void pathf(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATH_LEN, fmt, ap);
    va_end(ap);
    if (n >= PATH_LEN) memcpy(buf + PATH_LEN - 4, "...", 4);
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

static json_t *member(decoder *d, const json_t *obj, const char *parent, const char *key,
                      json_type type, bool nullable, int *rc) {
    char path[PATH_LEN];
    pathf(path, "%s%s%s", parent, parent[0] ? "." : "", key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL || (json_is_null(v) && !nullable)) {
        *rc = fail(d, path, "missing");
        return NULL;
    }
    if (json_is_null(v)) return v;
    if (json_typeof(v) != type) {
        const char *want = type == JSON_OBJECT    ? "an object"
                           : type == JSON_ARRAY   ? "an array"
                           : type == JSON_STRING  ? "a string"
                           : type == JSON_INTEGER ? "an integer"
                                                  : "a value";
        *rc = fail(d, path, "expected %s, found %s", want, type_name(v));
        return NULL;
    }
    return v;
}

static int get_int(decoder *d, const json_t *obj, const char *parent, const char *key, int64_t min,
                   int64_t max, int64_t *out) {
    int rc = 0;
    json_t *v = member(d, obj, parent, key, JSON_INTEGER, false, &rc);
    if (v == NULL) return rc;
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        char path[PATH_LEN];
        pathf(path, "%s%s%s", parent, parent[0] ? "." : "", key);
        return fail(d, path, "%lld is out of range %lld..%lld", (long long)x, (long long)min,
                    (long long)max);
    }
    *out = x;
    return 0;
}

/* A string member copied into *out (new), or NULL when nullable and null. */
static int get_str(decoder *d, const json_t *obj, const char *parent, const char *key,
                   bool nullable, char **out) {
    int rc = 0;
    json_t *v = member(d, obj, parent, key, JSON_STRING, nullable, &rc);
    if (v == NULL) return rc;
    *out = json_is_null(v) ? NULL : fl_xstrdup(json_string_value(v));
    return 0;
}

/* The 16 lower-case hex digits at p (the caller checked they are there) as
 * a checksum; false when one is not a hex digit. */
static bool parse_hex16(const char *p, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = p[i];
        int x = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (x < 0) return false;
        v = v << 4 | (uint64_t)x;
    }
    *out = v;
    return true;
}

static int parse_checksum(decoder *d, const char *path, const char *s, uint64_t *out) {
    size_t pl = strlen(FL__CKPT_CHECKSUM_PREFIX);
    if (strncmp(s, FL__CKPT_CHECKSUM_PREFIX, pl) != 0 || strlen(s) != pl + 16 ||
        !parse_hex16(s + pl, out))
        return fail(d, path, "\"%s\" is not an xxh64:<16 hex digits> checksum", s);
    return 0;
}

static int decode_file(decoder *d, const json_t *jf, const char *path, fl_state_file *f) {
    char *checksum = NULL;
    int64_t size = 0;
    int rc = get_str(d, jf, path, "path", false, &f->path);
    if (rc == 0) rc = get_str(d, jf, path, "role", false, &f->role);
    if (rc == 0) rc = get_int(d, jf, path, "size", 0, INT64_MAX, &size);
    if (rc == 0) rc = get_str(d, jf, path, "checksum", false, &checksum);
    if (rc == 0) {
        char cpath[PATH_LEN];
        pathf(cpath, "%s.checksum", path);
        rc = parse_checksum(d, cpath, checksum, &f->checksum);
    }
    f->size = (uint64_t)size;
    free(checksum);
    return rc;
}

static int decode_subtask(decoder *d, const json_t *js, const char *path,
                          fl_checkpoint_subtask *s) {
    int rc = 0;
    int64_t index;
    char sub[PATH_LEN];
    if ((rc = get_int(d, js, path, "index", 0, INT32_MAX, &index)) != 0) return rc;
    s->index = (int)index;
    json_t *kg = member(d, js, path, "key_groups", JSON_ARRAY, false, &rc);
    if (kg == NULL) return rc;
    pathf(sub, "%s.key_groups", path);
    if (json_array_size(kg) != 2 || !json_is_integer(json_array_get(kg, 0)) ||
        !json_is_integer(json_array_get(kg, 1)))
        return fail(d, sub, "expected [first, last]");
    json_int_t first = json_integer_value(json_array_get(kg, 0));
    json_int_t last = json_integer_value(json_array_get(kg, 1));
    if (first < INT32_MIN || first > INT32_MAX || last < INT32_MIN || last > INT32_MAX)
        return fail(d, sub, "out of range");
    s->key_group_first = (int)first;
    s->key_group_last = (int)last;

    json_t *files = member(d, js, path, "files", JSON_ARRAY, false, &rc);
    if (files == NULL) return rc;
    size_t nf = json_array_size(files);
    if (nf > INT32_MAX) return fail(d, path, "too many files");
    s->files = fl_xcalloc(nf ? nf : 1, sizeof *s->files);
    for (size_t f = 0; f < nf; f++) {
        pathf(sub, "%s.files[%zu]", path, f);
        json_t *jf = json_array_get(files, f);
        if (!json_is_object(jf)) return fail(d, sub, "expected an object, found %s", type_name(jf));
        s->n_files++;
        if ((rc = decode_file(d, jf, sub, &s->files[f])) != 0) return rc;
    }

    json_t *values = member(d, js, path, "values", JSON_OBJECT, false, &rc);
    if (values == NULL) return rc;
    const char *key;
    json_t *v;
    json_object_foreach(values, key, v) {
        if (!json_is_string(v)) {
            pathf(sub, "%s.values", path);
            return fail(d, sub, "\"%s\": expected a string, found %s", key, type_name(v));
        }
        fl_kv_set(s->values, key, json_string_value(v));
    }
    return 0;
}

static int decode_operator(decoder *d, const json_t *jo, const char *path,
                           fl_checkpoint_operator *op) {
    int rc = 0;
    int64_t p, maxp;
    if ((rc = get_str(d, jo, path, "uid", false, &op->uid)) != 0) return rc;
    if ((rc = get_str(d, jo, path, "name", true, &op->name)) != 0) return rc;
    if ((rc = get_int(d, jo, path, "max_parallelism", 1, FL_MAX_PARALLELISM_LIMIT, &maxp)) != 0)
        return rc;
    if ((rc = get_int(d, jo, path, "parallelism", 1, maxp, &p)) != 0) return rc;
    json_t *subtasks = member(d, jo, path, "subtasks", JSON_ARRAY, false, &rc);
    if (subtasks == NULL) return rc;
    if (json_array_size(subtasks) != (size_t)p)
        return fail(d, path, "%zu subtasks for parallelism %lld", json_array_size(subtasks),
                    (long long)p);
    op->max_parallelism = (int)maxp;
    op->subtasks = fl_xcalloc((size_t)p, sizeof *op->subtasks);
    op->parallelism = (int)p; /* from here on, destroy frees every subtask */
    for (int i = 0; i < op->parallelism; i++) op->subtasks[i].values = fl_kv_create();
    for (int i = 0; i < op->parallelism; i++) {
        char sub[PATH_LEN];
        pathf(sub, "%s.subtasks[%d]", path, i);
        json_t *js = json_array_get(subtasks, (size_t)i);
        if (!json_is_object(js)) return fail(d, sub, "expected an object, found %s", type_name(js));
        if ((rc = decode_subtask(d, js, sub, &op->subtasks[i])) != 0) return rc;
    }
    return 0;
}

static int decode_body(decoder *d, const json_t *body, fl_checkpoint_metadata *md) {
    int rc = 0;
    char *kind = NULL;
    if (!json_is_object(body))
        return fail(d, "checkpoint", "expected an object, found %s", type_name(body));
    if ((rc = get_int(d, body, "", "id", 1, INT64_MAX, &md->checkpoint_id)) != 0) return rc;
    if ((rc = get_str(d, body, "", "kind", false, &kind)) != 0) return rc;
    if (strcmp(kind, "checkpoint") == 0) {
        md->kind = FL_CHECKPOINT;
    } else if (strcmp(kind, "savepoint") == 0) {
        md->kind = FL_SAVEPOINT;
    } else {
        rc = fail(d, "kind", "unknown kind \"%s\" (expected checkpoint or savepoint)", kind);
    }
    free(kind);
    if (rc != 0) return rc;
    if ((rc = get_str(d, body, "", "job_id", false, &md->job_id)) != 0) return rc;
    if ((rc = get_str(d, body, "", "job_name", true, &md->job_name)) != 0) return rc;
    if ((rc = get_int(d, body, "", "timestamp", INT64_MIN, INT64_MAX, &md->timestamp_ms)) != 0)
        return rc;
    json_t *ops = member(d, body, "", "operators", JSON_ARRAY, false, &rc);
    if (ops == NULL) return rc;
    size_t n = json_array_size(ops);
    if (n > INT32_MAX) return fail(d, "operators", "too many operators");
    md->operators = fl_xcalloc(n ? n : 1, sizeof *md->operators);
    for (size_t o = 0; o < n; o++) {
        char path[PATH_LEN];
        pathf(path, "operators[%zu]", o);
        json_t *jo = json_array_get(ops, o);
        if (!json_is_object(jo))
            return fail(d, path, "expected an object, found %s", type_name(jo));
        md->operators[md->n_operators++] = fl_xcalloc(1, sizeof(fl_checkpoint_operator));
        if ((rc = decode_operator(d, jo, path, md->operators[o])) != 0) return rc;
    }
    return 0;
}

/* Parses the fixed header line; returns the body's offset, or 0 with err. */
static size_t parse_header(decoder *d, const char *b, size_t len, int *version,
                           uint64_t *checksum) {
    size_t hs = strlen(HEADER_START), pos;
    if (len == 0) {
        fl_error_set(d->err, FL_EFORMAT, "checkpoint metadata \"%s\" is empty", d->where);
        return 0;
    }
    if (len < hs || memcmp(b, HEADER_START, hs) != 0) {
        /* A prefix of the header is a file cut short, anything else is not ours. */
        if (len < hs && memcmp(b, HEADER_START, len) == 0)
            fl_error_set(d->err, FL_EFORMAT, "checkpoint metadata \"%s\" is truncated", d->where);
        else
            fl_error_set(d->err, FL_EFORMAT,
                         "\"%s\" is not a flinc checkpoint metadata file (it does not start "
                         "with the \"%s\" header)",
                         d->where, FORMAT_NAME);
        return 0;
    }
    /* The header is the whole first line: a file without a newline was cut
     * inside it. */
    if (memchr(b, '\n', len) == NULL) {
        fl_error_set(d->err, FL_EFORMAT, "checkpoint metadata \"%s\" is truncated", d->where);
        return 0;
    }
    pos = hs;
    long v = 0;
    size_t digits = 0;
    while (pos < len && b[pos] >= '0' && b[pos] <= '9' && digits < 9) {
        v = v * 10 + (b[pos++] - '0');
        digits++;
    }
    if (digits == 0 || pos == len) goto bad_header;
    *version = (int)v;
    if (v != FORMAT_VERSION) return pos; /* the caller reports the version */
    size_t cs = strlen(HEADER_CHECKSUM), he = strlen(HEADER_END);
    if (len - pos < cs + 16 + he || memcmp(b + pos, HEADER_CHECKSUM, cs) != 0) goto bad_header;
    pos += cs;
    uint64_t h = 0;
    if (!parse_hex16(b + pos, &h)) goto bad_header;
    pos += 16;
    if (memcmp(b + pos, HEADER_END, he) != 0) goto bad_header;
    *checksum = h;
    return pos + he;
bad_header:
    fl_error_set(d->err, FL_EFORMAT, "checkpoint metadata \"%s\" is corrupted: bad header line",
                 d->where);
    return 0;
}

fl_checkpoint_metadata *fl_checkpoint_metadata_decode(const void *bytes, size_t len,
                                                      const char *where, fl_error *err) {
    decoder d = {.where = where ? where : "_metadata", .err = err};
    const char *b = bytes;
    int version = 0;
    uint64_t want = 0;
    size_t body = parse_header(&d, b, len, &version, &want);
    if (body == 0) return NULL;
    if (version != FORMAT_VERSION) {
        fl_error_set(err, FL_EUNSUPPORTED,
                     "checkpoint metadata \"%s\" has format version %d, which this flinc cannot "
                     "read (it reads version %d)",
                     d.where, version, FORMAT_VERSION);
        return NULL;
    }
    size_t tl = strlen(TRAILER);
    if (len < body + tl || memcmp(b + len - tl, TRAILER, tl) != 0) {
        fl_error_set(err, FL_EFORMAT,
                     "checkpoint metadata \"%s\" is truncated (it does not end with the closing "
                     "line)",
                     d.where);
        return NULL;
    }
    size_t body_len = len - tl - body;
    uint64_t got = fl_hash_bytes(b + body, body_len);
    if (got != want) {
        fl_error_set(err, FL_EFORMAT,
                     "checkpoint metadata \"%s\" is corrupted: checksum mismatch (xxh64 of the "
                     "contents is %016" PRIx64 ", the header records %016" PRIx64 ")",
                     d.where, got, want);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(b + body, body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* The checksum matched, so the writer produced this: report it plainly. */
        fl_error_set(err, FL_EFORMAT, "malformed checkpoint metadata \"%s\": line %d: %s", d.where,
                     jerr.line + 1, jerr.text);
        return NULL;
    }
    fl_checkpoint_metadata *md = fl_xcalloc(1, sizeof *md);
    int rc = decode_body(&d, root, md);
    json_decref(root);
    if (rc == 0) {
        fl_error verr = {0};
        rc = fl_checkpoint_metadata_validate(md, &verr);
        if (rc != 0) {
            const char *msg = verr.message, *prefix = "invalid checkpoint metadata: ";
            if (strncmp(msg, prefix, strlen(prefix)) == 0) msg += strlen(prefix);
            fl_error_set(err, rc, "invalid checkpoint metadata \"%s\": %s", d.where, msg);
        }
    }
    if (rc != 0) {
        fl_checkpoint_metadata_destroy(md);
        return NULL;
    }
    return md;
}
