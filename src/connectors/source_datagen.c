/*
 * source_datagen.c - the "datagen" source: random or sequential rows of any
 * schema, like Flink's datagen connector, for demos, tests and benchmarks.
 *
 * Per-field options ("fields.NAME.kind", ".min", ".max", ".length", ".start",
 * ".end", ".null-rate") choose how each field is generated; their combination
 * with the field's type is checked when the graph is built, so a mistake is
 * one clear error before the job runs.
 *
 * Every row has a global index, and row k is a pure function of (options,
 * seed, k): its xoshiro256** generator is seeded from the seed and k alone
 * (TIMESTAMP fields without min or max draw from the day before an anchor
 * time, the wall clock when the subtask first opened, which travels with the
 * row's split). So the rows do not depend on the parallelism or on restarts.
 *
 * Rows are split over the subtasks: subtask i produces the contiguous global
 * rows [i*N/p, (i+1)*N/p), N being the row count (number-of-rows, or the
 * length of the shortest sequence field) or 2^64 when unbounded, so sequence
 * values are produced exactly once; rows-per-second is the total rate, each
 * subtask producing its share and going idle (FL_SOURCE_IDLE) while ahead of
 * its schedule.
 *
 * Checkpoints: a split is one such range of global rows, the next row to
 * emit in it and its anchor time. A restored subtask reads the ranges it
 * receives, a batch from each in turn, from their next rows; because rows
 * depend only on their index, the union of what runs before and after a
 * restore is exactly the rows of an uninterrupted run, for the same or any
 * other parallelism (with another parallelism the ranges keep their old
 * boundaries; a subtask that receives none ends at once, and the rate of
 * each subtask stays rows-per-second / parallelism).
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "connectors_int.h"
#include "mem.h"
#include "kv.h"
#include "options.h"

#define NAME "datagen"
#define FIELD_PREFIX "fields."
#define DAY_MS INT64_C(86400000)
#define MAX_LENGTH (INT64_C(1) << 24)
#define SPLIT_TAG "FLdg"
#define SPLIT_VERSION 1

static const fl_option_def options[] = {
    {"rows-per-second", "10000", false, "rows per second over all subtasks; 0 = unthrottled"},
    {"number-of-rows", NULL, false, "rows over all subtasks; unset or 0 = unbounded"},
    {"seed", "0", false, "seed of the generators (mixed with each row's global index)"},
    {"fields.#.kind", "random", false, "random or sequence"},
    {"fields.#.min", NULL, false,
     "smallest random value of an INT, BIGINT, DOUBLE or TIMESTAMP (epoch ms) field; "
     "default: the type's minimum, 0 for DOUBLE, max minus one day for TIMESTAMP"},
    {"fields.#.max", NULL, false,
     "largest random value; default: the type's maximum, 1 for DOUBLE, the time the "
     "source first opens for TIMESTAMP"},
    {"fields.#.length", "100", false, "length of random STRING and BYTES values"},
    {"fields.#.start", NULL, false,
     "first value of a sequence field (INT, BIGINT, STRING, TIMESTAMP)"},
    {"fields.#.end", NULL, false, "last value of a sequence field, inclusive"},
    {"fields.#.null-rate", "0", false, "fraction of null values of a random field, 0..1"},
    {NULL, NULL, false, NULL},
};

/* The per-field option names, as they follow "fields.NAME.". */
static const char *const field_options[] = {
    "kind", "min", "max", "length", "start", "end", "null-rate", NULL,
};

enum { KIND_RANDOM, KIND_SEQUENCE };

typedef struct field_spec {
    fl_type type;
    int kind;
    int64_t min, max; /* random INT, BIGINT, TIMESTAMP */
    bool min_from_anchor, max_from_anchor; /* TIMESTAMP bound not given: from the anchor time */
    double dmin, dmax; /* random DOUBLE */
    uint32_t length;   /* random STRING, BYTES */
    double null_rate;
    int64_t start, end; /* sequence */
} field_spec;

typedef struct datagen_spec {
    int n_fields;
    field_spec *fields;
    int64_t rows_per_second; /* 0: unthrottled */
    bool bounded;
    uint64_t total_rows; /* over all subtasks, when bounded */
    uint64_t seed;
} datagen_spec;

/* A range of global rows with rows left: next is in [first, last]. */
typedef struct datagen_split {
    uint64_t first, last, next;
    int64_t anchor_ms; /* wall time the range's subtask first opened, for TIMESTAMP defaults */
} datagen_split;

typedef struct datagen_state {
    datagen_spec spec;
    uint64_t seed_key;     /* the seed, mixed once */
    uint64_t rng[4];       /* xoshiro256**, seeded again for every row */
    datagen_split *splits; /* unfinished ones: the position a checkpoint records */
    size_t n_splits, cur;  /* cur: the split the next batch comes from */
    uint64_t emitted;      /* rows emitted by this subtask since open or restore */
    double rate;           /* this subtask's rows per second; 0: unthrottled */
    int64_t start_ns;      /* monotonic time of the first read (rate schedule origin) */
    bool started;
    char *scratch; /* random STRING/BYTES values are built here */
} datagen_state;

/* ---- random numbers ---------------------------------------------------------------------- */

/* The generator of global row `row`: splitmix64 from a hash of (seed, row),
 * so that the rows' generators start far apart. */
static void rng_seed_row(uint64_t rng[4], uint64_t seed_key, uint64_t row) {
    uint64_t x = seed_key ^ row;
    x = fl__splitmix64(&x);
    for (int i = 0; i < 4; i++)
        rng[i] = fl__splitmix64(&x);
}

/* Uniform in [lo, hi] (inclusive), without modulo bias. */
static int64_t rng_range(uint64_t s[4], int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1; /* 0: the full 64-bit range */
    uint64_t r = fl__rng_next(s);
    if (span != 0) {
        uint64_t limit = -span % span; /* values below are over-represented */
        while (r < limit)
            r = fl__rng_next(s);
        r %= span;
    }
    return (int64_t)((uint64_t)lo + r);
}

/* ---- options ----------------------------------------------------------------------------- */

static const char *field_opt(const fl_options *o, const char *field, const char *opt,
                             char *key, size_t size) {
    snprintf(key, size, FIELD_PREFIX "%s.%s", field, opt);
    return fl_options_get(o, key);
}

static int field_int(const fl_options *o, const char *field, const char *opt, int64_t *out,
                     fl_error *err) {
    char key[512];
    snprintf(key, sizeof key, FIELD_PREFIX "%s.%s", field, opt);
    return fl_options_get_int64(o, key, 0, out, err);
}

static int field_double(const fl_options *o, const char *field, const char *opt, double *out,
                        fl_error *err) {
    char key[512];
    snprintf(key, sizeof key, FIELD_PREFIX "%s.%s", field, opt);
    return fl_options_get_double(o, key, 0, out, err);
}

static bool numeric_type(fl_type t) {
    return t == FL_INT || t == FL_BIGINT || t == FL_DOUBLE || t == FL_TIMESTAMP;
}

static int not_for(const char *field, const char *opt, const char *what, fl_error *err) {
    return fl_error_set(err, FL_ECONFIG,
                        "connector \"" NAME "\": option fields.%s.%s does not apply to %s",
                        field, opt, what);
}

/* The bounds of a random TIMESTAMP field for a split anchored at anchor_ms:
 * a bound not given is the anchor (max, or min when min is later) or max
 * minus a day (min). */
static void timestamp_bounds(const field_spec *f, int64_t anchor_ms, int64_t *lo, int64_t *hi) {
    int64_t max = f->max, min = f->min;
    if (f->max_from_anchor)
        max = !f->min_from_anchor && f->min > anchor_ms ? f->min : anchor_ms;
    if (f->min_from_anchor)
        min = max >= INT64_MIN + DAY_MS ? max - DAY_MS : INT64_MIN;
    *lo = min;
    *hi = max;
}

/* Reads and checks the options of one field. now_ms anchors TIMESTAMP defaults. */
static int parse_field(const fl_options *o, const fl_schema *s, int i, int64_t now_ms,
                       field_spec *f, fl_error *err) {
    const char *name = fl_schema_field_name(s, i);
    char key[512];
    char what[128];
    memset(f, 0, sizeof *f);
    f->type = fl_schema_field_type(s, i);
    const char *type_name = fl_type_name(f->type);
    snprintf(what, sizeof what, "%s %s field", type_name[0] == 'I' ? "an" : "a", type_name);

    const char *kind = field_opt(o, name, "kind", key, sizeof key);
    if (kind == NULL || strcmp(kind, "random") == 0) {
        f->kind = KIND_RANDOM;
    } else if (strcmp(kind, "sequence") == 0) {
        f->kind = KIND_SEQUENCE;
    } else {
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": option fields.%s.kind must be random or "
                            "sequence, not \"%s\"",
                            name, kind);
    }
    bool has_min = field_opt(o, name, "min", key, sizeof key) != NULL;
    bool has_max = field_opt(o, name, "max", key, sizeof key) != NULL;
    bool has_length = field_opt(o, name, "length", key, sizeof key) != NULL;
    bool has_start = field_opt(o, name, "start", key, sizeof key) != NULL;
    bool has_end = field_opt(o, name, "end", key, sizeof key) != NULL;
    bool has_null_rate = field_opt(o, name, "null-rate", key, sizeof key) != NULL;

    if (f->kind == KIND_SEQUENCE) {
        if (f->type != FL_INT && f->type != FL_BIGINT && f->type != FL_STRING &&
            f->type != FL_TIMESTAMP)
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": field %s of type %s cannot be a "
                                "sequence (INT, BIGINT, STRING and TIMESTAMP can)",
                                name, type_name);
        if (has_min || has_max)
            return not_for(name, has_min ? "min" : "max",
                           "a sequence field (use start and end)", err);
        if (has_length)
            return not_for(name, "length", "a sequence field", err);
        if (has_null_rate)
            return not_for(name, "null-rate", "a sequence field", err);
        if (!has_start || !has_end)
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": sequence field %s needs the options "
                                "fields.%s.start and fields.%s.end",
                                name, name, name);
        int rc = field_int(o, name, "start", &f->start, err);
        if (rc == 0)
            rc = field_int(o, name, "end", &f->end, err);
        if (rc < 0)
            return rc;
        if (f->start > f->end)
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": fields.%s.start=%" PRId64
                                " is greater than fields.%s.end=%" PRId64,
                                name, f->start, name, f->end);
        if (f->type == FL_INT && (f->start < INT32_MIN || f->end > INT32_MAX))
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": the sequence of INT field %s does not "
                                "fit in INT",
                                name);
        return 0;
    }

    if (has_start || has_end)
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": option fields.%s.%s applies to sequence "
                            "fields; set fields.%s.kind=sequence",
                            name, has_start ? "start" : "end", name);
    if ((has_min || has_max) && !numeric_type(f->type))
        return not_for(name, has_min ? "min" : "max", what, err);
    if (has_length && f->type != FL_STRING && f->type != FL_BYTES)
        return not_for(name, "length", what, err);

    int64_t length = 100;
    if (has_length) {
        int rc = field_int(o, name, "length", &length, err);
        if (rc < 0)
            return rc;
        if (length < 0 || length > MAX_LENGTH)
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": fields.%s.length=%" PRId64
                                " is out of range [0, %" PRId64 "]",
                                name, length, MAX_LENGTH);
    }
    f->length = (uint32_t)length;

    f->null_rate = 0;
    if (has_null_rate) {
        int rc = field_double(o, name, "null-rate", &f->null_rate, err);
        if (rc < 0)
            return rc;
        if (!(f->null_rate >= 0 && f->null_rate <= 1))
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": fields.%s.null-rate=%g is not within "
                                "[0, 1]",
                                name, f->null_rate);
    }

    char bounds[160] = "";
    switch (f->type) {
    case FL_INT:
    case FL_BIGINT:
    case FL_TIMESTAMP: {
        int64_t lo = f->type == FL_INT ? INT32_MIN : INT64_MIN;
        int64_t hi = f->type == FL_INT ? INT32_MAX : INT64_MAX;
        int rc = has_min ? field_int(o, name, "min", &f->min, err) : 0;
        if (rc == 0 && has_max)
            rc = field_int(o, name, "max", &f->max, err);
        if (rc < 0)
            return rc;
        if (f->type == FL_TIMESTAMP) {
            f->min_from_anchor = !has_min;
            f->max_from_anchor = !has_max;
            timestamp_bounds(f, now_ms, &f->min, &f->max);
        } else {
            if (!has_min)
                f->min = lo;
            if (!has_max)
                f->max = hi;
        }
        if ((has_min && (f->min < lo || f->min > hi)) || (has_max && (f->max < lo || f->max > hi)))
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": fields.%s.%s does not fit in %s", name,
                                has_min && (f->min < lo || f->min > hi) ? "min" : "max",
                                type_name);
        if (f->min > f->max)
            snprintf(bounds, sizeof bounds, "min=%" PRId64 " is greater than max=%" PRId64,
                     f->min, f->max);
        break;
    }
    case FL_DOUBLE: {
        int rc = has_min ? field_double(o, name, "min", &f->dmin, err) : 0;
        if (rc == 0 && has_max)
            rc = field_double(o, name, "max", &f->dmax, err);
        if (rc < 0)
            return rc;
        if (!has_min)
            f->dmin = has_max && f->dmax < 0 ? f->dmax : 0.0;
        if (!has_max)
            f->dmax = f->dmin > 1.0 ? f->dmin : 1.0;
        if (!isfinite(f->dmin) || !isfinite(f->dmax))
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": the bounds of field %s must be finite",
                                name);
        if (f->dmin > f->dmax)
            snprintf(bounds, sizeof bounds, "min=%g is greater than max=%g", f->dmin, f->dmax);
        break;
    }
    default:
        break;
    }
    if (bounds[0] != '\0')
        return fl_error_set(err, FL_ECONFIG, "connector \"" NAME "\": field %s: %s%s", name,
                            bounds, has_min && has_max ? "" : " (with the default bound)");
    return 0;
}

/* Every "fields.NAME.OPTION" option must name a field of the schema and a
 * known per-field option. NAME may itself contain dots: OPTION is the part
 * after the last one. */
static int check_field_keys(const fl_options *o, const fl_schema *s, fl_error *err) {
    const fl_kv *kv = fl_options_kv(o);
    for (size_t i = 0; i < fl_kv_count(kv); i++) {
        const char *key = fl_kv_key(kv, i);
        if (strncmp(key, FIELD_PREFIX, strlen(FIELD_PREFIX)) != 0)
            continue;
        const char *field = key + strlen(FIELD_PREFIX);
        const char *dot = strrchr(field, '.');
        if (dot == NULL || dot == field)
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": option %s should be "
                                "fields.FIELD.OPTION",
                                key);
        bool known = false;
        for (const char *const *f = field_options; *f != NULL; f++)
            if (strcmp(dot + 1, *f) == 0)
                known = true;
        if (!known)
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": unknown per-field option %s (known: "
                                "kind, min, max, length, start, end, null-rate)",
                                key);
        char name[512];
        snprintf(name, sizeof name, "%.*s", (int)(dot - field), field);
        if (fl_schema_index_of(s, name) < 0) {
            char fields[512];
            fl_schema_format(s, fields, sizeof fields);
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": option %s names field \"%s\", which "
                                "the schema %s does not have",
                                key, name, fields);
        }
    }
    return 0;
}

static void spec_fini(datagen_spec *spec) {
    free(spec->fields);
    spec->fields = NULL;
}

/* Reads every option into spec (which the caller finalizes, also on error). */
static int parse_spec(const fl_options *o, const fl_schema *s, int64_t now_ms,
                      datagen_spec *spec, fl_error *err) {
    memset(spec, 0, sizeof *spec);
    int64_t rps, rows, seed;
    int rc = fl__conn_get_int_range(o, NAME, "rows-per-second", 10000, 0, INT64_MAX, &rps, err);
    if (rc == 0)
        rc = fl__conn_get_int_range(o, NAME, "number-of-rows", 0, 0, INT64_MAX, &rows, err);
    if (rc == 0)
        rc = fl_options_get_int64(o, "seed", 0, &seed, err);
    if (rc == 0)
        rc = check_field_keys(o, s, err);
    if (rc < 0)
        return rc;
    spec->rows_per_second = rps;
    spec->seed = (uint64_t)seed;
    spec->bounded = rows > 0;
    spec->total_rows = (uint64_t)rows;
    spec->n_fields = fl_schema_num_fields(s);
    spec->fields = fl_xcalloc((size_t)spec->n_fields, sizeof *spec->fields);
    for (int i = 0; i < spec->n_fields; i++) {
        field_spec *f = &spec->fields[i];
        rc = parse_field(o, s, i, now_ms, f, err);
        if (rc < 0)
            return rc;
        if (f->kind == KIND_SEQUENCE) {
            /* The sequence ends the source; 0 stands for the full 2^64 values. */
            uint64_t len = (uint64_t)f->end - (uint64_t)f->start + 1;
            if (len == 0)
                len = UINT64_MAX;
            if (!spec->bounded || len < spec->total_rows)
                spec->total_rows = len;
            spec->bounded = true;
        }
    }
    return 0;
}

static fl_schema *datagen_schema(const fl_options *o, const fl_schema *declared, fl_error *err) {
    if (declared == NULL) {
        fl_error_set(err, FL_ESCHEMA,
                     "connector \"" NAME "\" needs a declared schema (the fields to generate)");
        return NULL;
    }
    datagen_spec spec;
    int rc = parse_spec(o, declared, fl_clock_wall_ms(), &spec, err);
    spec_fini(&spec);
    if (rc < 0)
        return NULL;
    return fl_schema_ref((fl_schema *)declared);
}

static bool datagen_bounded(const fl_options *o) {
    int64_t rows = 0;
    if (fl_options_get_int64(o, "number-of-rows", 0, &rows, NULL) == 0 && rows > 0)
        return true;
    const fl_kv *kv = fl_options_kv(o);
    for (size_t i = 0; i < fl_kv_count(kv); i++) {
        const char *key = fl_kv_key(kv, i);
        size_t len = strlen(key);
        if (strncmp(key, FIELD_PREFIX, strlen(FIELD_PREFIX)) == 0 && len > 5 &&
            strcmp(key + len - 5, ".kind") == 0) {
            const char *kind = fl_options_get(o, key);
            if (kind != NULL && strcmp(kind, "sequence") == 0)
                return true;
        }
    }
    return false;
}

/* ---- running ----------------------------------------------------------------------------- */

static int datagen_open(fl_source_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    const fl_schema *s = fl_row_builder_schema(fl_source_builder(ctx));
    datagen_state *st = fl_xcalloc(1, sizeof *st);
    int64_t now_ms = fl_clock_wall_ms();
    int rc = parse_spec(o, s, now_ms, &st->spec, err);
    if (rc < 0) {
        spec_fini(&st->spec);
        free(st);
        return rc;
    }
    uint64_t x = st->spec.seed;
    st->seed_key = fl__splitmix64(&x);
    int index = fl_source_subtask_index(ctx);
    int p = fl_source_parallelism(ctx);
    /* Unbounded: 2^64 rows, which no subtask reaches. */
    unsigned __int128 n = st->spec.bounded ? st->spec.total_rows : (unsigned __int128)1 << 64;
    unsigned __int128 lo = n * (unsigned)index / (unsigned)p;
    unsigned __int128 hi = n * (unsigned)(index + 1) / (unsigned)p;
    st->splits = fl_xmalloc(sizeof *st->splits);
    if (hi > lo) {
        st->splits[0] = (datagen_split){(uint64_t)lo, (uint64_t)(hi - 1), (uint64_t)lo, now_ms};
        st->n_splits = 1;
    }
    if (st->spec.rows_per_second > 0)
        st->rate = (double)st->spec.rows_per_second / p;
    uint32_t longest = 0;
    for (int i = 0; i < st->spec.n_fields; i++)
        if (st->spec.fields[i].length > longest)
            longest = st->spec.fields[i].length;
    st->scratch = fl_xmalloc(longest > 24 ? longest : 24);
    *state = st;
    return 0;
}

static void random_text(uint64_t rng[4], char *out, uint32_t len) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint32_t i = 0;
    while (i < len) {
        /* 36^12 < 2^64: twelve characters from one draw. */
        uint64_t r = fl__rng_next(rng);
        for (int k = 0; k < 12 && i < len; k++, i++) {
            out[i] = alphabet[r % 36];
            r /= 36;
        }
    }
}

static void random_bytes(uint64_t rng[4], char *out, uint32_t len) {
    uint32_t i = 0;
    while (i < len) {
        uint64_t r = fl__rng_next(rng);
        uint32_t n = len - i < 8 ? len - i : 8;
        memcpy(out + i, &r, n);
        i += n;
    }
}

static void build_row(datagen_state *st, fl_row_builder *b, uint64_t global_row,
                      int64_t anchor_ms) {
    rng_seed_row(st->rng, st->seed_key, global_row);
    for (int i = 0; i < st->spec.n_fields; i++) {
        const field_spec *f = &st->spec.fields[i];
        if (f->kind == KIND_SEQUENCE) {
            int64_t v = (int64_t)((uint64_t)f->start + global_row);
            switch (f->type) {
            case FL_INT:
                fl_row_builder_set_int(b, i, (int32_t)v);
                break;
            case FL_BIGINT:
                fl_row_builder_set_bigint(b, i, v);
                break;
            case FL_TIMESTAMP:
                fl_row_builder_set_timestamp(b, i, v);
                break;
            default: {
                int n = snprintf(st->scratch, 24, "%" PRId64, v);
                fl_row_builder_set_string(b, i, st->scratch, (uint32_t)n);
                break;
            }
            }
            continue;
        }
        if (f->null_rate > 0 && fl__rng_unit(st->rng) < f->null_rate)
            continue; /* fields not set are null */
        switch (f->type) {
        case FL_BOOLEAN:
            fl_row_builder_set_bool(b, i, (fl__rng_next(st->rng) >> 63) != 0);
            break;
        case FL_INT:
            fl_row_builder_set_int(b, i, (int32_t)rng_range(st->rng, f->min, f->max));
            break;
        case FL_BIGINT:
            fl_row_builder_set_bigint(b, i, rng_range(st->rng, f->min, f->max));
            break;
        case FL_TIMESTAMP: {
            int64_t lo, hi;
            timestamp_bounds(f, anchor_ms, &lo, &hi);
            fl_row_builder_set_timestamp(b, i, rng_range(st->rng, lo, hi));
            break;
        }
        case FL_DOUBLE: {
            double u = fl__rng_unit(st->rng);
            /* Written so that max - min never overflows. */
            double v = (1.0 - u) * f->dmin + u * f->dmax;
            if (v < f->dmin)
                v = f->dmin;
            if (v > f->dmax)
                v = f->dmax;
            fl_row_builder_set_double(b, i, v);
            break;
        }
        case FL_STRING:
            random_text(st->rng, st->scratch, f->length);
            fl_row_builder_set_string(b, i, st->scratch, f->length);
            break;
        case FL_BYTES:
            random_bytes(st->rng, st->scratch, f->length);
            fl_row_builder_set_bytes(b, i, st->scratch, f->length);
            break;
        }
    }
}

static int datagen_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    datagen_state *st = state;
    if (st->n_splits == 0)
        return FL_SOURCE_END;
    uint64_t batch = FL__CONN_BATCH_ROWS;
    if (st->rate > 0) {
        int64_t now = fl_clock_monotonic_ns();
        if (!st->started) {
            st->started = true;
            st->start_ns = now;
        }
        /* Row k is due at start + k / rate; rows 0..due-1 are due by now. */
        double due = floor((double)(now - st->start_ns) * st->rate / 1e9) + 1;
        if (due <= (double)st->emitted) {
            double next = (double)st->start_ns + (double)st->emitted * 1e9 / st->rate;
            fl_source_idle_until(ctx, (int64_t)ceil(next));
            return FL_SOURCE_IDLE;
        }
        if (due - (double)st->emitted < (double)batch)
            batch = (uint64_t)(due - (double)st->emitted);
    }
    /* One batch from the current split, then the next split's turn, so that
     * the splits of an unbounded source all advance. */
    datagen_split *sp = &st->splits[st->cur];
    bool finished = false;
    for (uint64_t k = 0; k < batch && !finished; k++) {
        fl_row_builder *b = fl_source_builder(ctx);
        build_row(st, b, sp->next, sp->anchor_ms);
        int rc = fl_source_emit(ctx, FL_NO_TIMESTAMP);
        if (rc < 0)
            return rc;
        st->emitted++;
        if (sp->next == sp->last)
            finished = true;
        else
            sp->next++;
    }
    fl__split_next_turn(st->splits, sizeof *st->splits, &st->n_splits, &st->cur, finished);
    return st->n_splits > 0 ? FL_SOURCE_MORE : FL_SOURCE_END;
}

static int datagen_snapshot(void *state, fl_split_list *out, fl_error *err) {
    datagen_state *st = state;
    for (size_t i = 0; i < st->n_splits; i++) {
        const datagen_split *sp = &st->splits[i];
        uint64_t fields[] = {sp->first, sp->last, sp->next, (uint64_t)sp->anchor_ms};
        fl__blob_add_u64s(out, SPLIT_TAG, SPLIT_VERSION, fields, 4);
    }
    return 0;
}

static int datagen_restore(void *state, const fl_split *splits, size_t n, fl_error *err) {
    datagen_state *st = state;
    datagen_split *restored = fl_xmalloc((n ? n : 1) * sizeof *restored);
    for (size_t i = 0; i < n; i++) {
        uint64_t fields[4];
        bool ok = fl__blob_read_u64s(splits[i], SPLIT_TAG, SPLIT_VERSION, fields, 4);
        datagen_split *sp = &restored[i];
        *sp = (datagen_split){fields[0], fields[1], fields[2], (int64_t)fields[3]};
        if (!ok || sp->first > sp->next || sp->next > sp->last) {
            free(restored);
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": split %zu is not a datagen split", i);
        }
        if (st->spec.bounded && sp->last >= st->spec.total_rows) {
            uint64_t last = sp->last;
            free(restored);
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": split %zu reaches row %" PRIu64
                                " of %" PRIu64 " rows; were the options changed?",
                                i, last, st->spec.total_rows);
        }
    }
    free(st->splits);
    st->splits = restored;
    st->n_splits = n;
    st->cur = 0;
    /* The rate schedule starts again from the restore. */
    st->emitted = 0;
    st->started = false;
    return 0;
}

static void datagen_close(void *state) {
    datagen_state *st = state;
    if (st == NULL)
        return;
    spec_fini(&st->spec);
    free(st->splits);
    free(st->scratch);
    free(st);
}

const fl_source_connector fl__source_datagen = {
    .name = NAME,
    .description = "Random or sequential rows of the declared schema, reproducible for a "
                   "seed; bounded with number-of-rows or a sequence field.",
    .options = options,
    .parallel = true,
    .schema = datagen_schema,
    .bounded = datagen_bounded,
    .open = datagen_open,
    .read = datagen_read,
    .close = datagen_close,
    .snapshot = datagen_snapshot,
    .restore = datagen_restore,
};
