/*
 * sink_filesystem.c - the "filesystem" sink: rows as text or CSV files, one
 * file per subtask inside the directory `path` (created with its parents).
 *
 * Files are named by the 1-based subtask index, "1", "2", ..., as Flink's
 * writeAsText names them when the sink's parallelism is above 1. Unlike
 * Flink, a sink of parallelism 1 also writes a directory holding "1" rather
 * than a single file at `path`, so that the output layout does not depend on
 * the parallelism a job happens to run with.
 *
 * text: each line is the row as print() shows it without the parentheses.
 * csv:  RFC 4180 quoting (a field holding the delimiter, a quote, CR or LF is
 *       quoted, quotes doubled), nulls as empty fields, BYTES as base64,
 *       DOUBLE in the shortest form that reads back exactly; lines end in LF.
 * Rows are formatted into a 64 KiB buffer written with write(2); errors name
 * the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "connectors_int.h"
#include "mem.h"

#define NAME "filesystem"
#define FLUSH_SIZE ((size_t)64 << 10)

static const fl_option_def options[] = {
    {"path", NULL, true, "output directory (created); subtask i writes the file i+1 in it"},
    {"format", "text", false, "text or csv"},
    {"csv.field-delimiter", ",", false, "csv: one character between fields (\\t for a tab)"},
    {"write-mode", "no_overwrite", false,
     "overwrite or no_overwrite (an existing output file is an error)"},
    {NULL, NULL, false, NULL},
};

typedef struct fs_sink_config {
    bool csv;
    bool overwrite;
    char delimiter;
} fs_sink_config;

typedef struct fs_sink_state {
    fs_sink_config conf;
    const fl_schema *schema; /* borrowed from the sink context */
    char *file;              /* "DIR/N" */
    int fd;
    bool failed;       /* a write failed: later flushes do not retry */
    fl__conn_buf out;  /* formatted, not yet written */
    fl__conn_buf field; /* one CSV field before quoting */
} fs_sink_state;

static int read_config(const fl_options *o, fs_sink_config *c, fl_error *err) {
    const char *path = fl_options_get(o, "path");
    if (path == NULL || path[0] == '\0')
        return fl_error_set(err, FL_ECONFIG, "connector \"" NAME "\" needs the option path");
    const char *format = fl_options_get(o, "format");
    if (format == NULL || strcmp(format, "text") == 0)
        c->csv = false;
    else if (strcmp(format, "csv") == 0)
        c->csv = true;
    else
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": format must be text or csv, not \"%s\"",
                            format);
    const char *mode = fl_options_get(o, "write-mode");
    if (mode == NULL || strcmp(mode, "no_overwrite") == 0)
        c->overwrite = false;
    else if (strcmp(mode, "overwrite") == 0)
        c->overwrite = true;
    else
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": write-mode must be overwrite or "
                            "no_overwrite, not \"%s\"",
                            mode);
    const char *delim = fl_options_get(o, "csv.field-delimiter");
    if (delim == NULL)
        delim = ",";
    if (strcmp(delim, "\\t") == 0)
        delim = "\t";
    if (strlen(delim) != 1 || delim[0] == '"' || delim[0] == '\r' || delim[0] == '\n')
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": csv.field-delimiter must be one character "
                            "other than a quote, CR or LF, not \"%s\"",
                            delim);
    c->delimiter = delim[0];
    return 0;
}

static int fs_validate(const fl_options *o, const fl_schema *input, fl_error *err) {
    fs_sink_config c;
    return read_config(o, &c, err);
}

static int io_error(const char *verb, const char *path, int errnum, fl_error *err) {
    char text[128];
    return fl_error_set(err, FL_EIO, "could not %s \"%s\": %s", verb, path,
                        fl__conn_errno_text(errnum, text, sizeof text));
}

/* mkdir -p; several subtasks may race to create the same directories. */
static int make_dirs(const char *path, fl_error *err) {
    char *p = fl_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        struct stat st;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            rc = io_error("create directory", p, errno, err);
            break;
        }
        if (saved == '\0') {
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
                rc = fl_error_set(err, FL_EIO,
                                  "could not create directory \"%s\": a file of that name exists",
                                  p);
            break;
        }
        *s = saved;
    }
    free(p);
    return rc;
}

static int fs_open(fl_sink_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    fs_sink_config c;
    int rc = read_config(o, &c, err);
    if (rc < 0)
        return rc;
    const char *dir = fl_options_get(o, "path");
    rc = make_dirs(dir, err);
    if (rc < 0)
        return rc;
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    char *file = fl_xasprintf("%.*s/%d", (int)dlen, dir, fl_sink_subtask_index(ctx) + 1);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (c.overwrite ? O_TRUNC : O_EXCL);
    int fd = open(file, flags, 0666);
    if (fd < 0) {
        if (errno == EEXIST)
            rc = fl_error_set(err, FL_EIO,
                              "output file \"%s\" exists; delete it or set write-mode=overwrite",
                              file);
        else
            rc = io_error("open", file, errno, err);
        free(file);
        return rc;
    }
    fs_sink_state *st = fl_xcalloc(1, sizeof *st);
    st->conf = c;
    st->schema = fl_sink_schema(ctx);
    st->file = file;
    st->fd = fd;
    *state = st;
    return 0;
}

static int flush(fs_sink_state *st, fl_error *err) {
    if (st->failed)
        return FL_EIO;
    size_t done = 0;
    while (done < st->out.len) {
        ssize_t n = write(st->fd, st->out.data + done, st->out.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st->failed = true;
            return io_error("write", st->file, errno, err);
        }
        done += (size_t)n;
    }
    st->out.len = 0;
    return 0;
}

/* Shortest decimal form that reads back as exactly d. */
static void format_double(double d, char *buf, size_t size) {
    if (isnan(d)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, size, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static void append_base64(fl__conn_buf *b, const unsigned char *p, uint32_t len) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = fl__conn_buf_reserve(b, ((size_t)len + 2) / 3 * 4);
    size_t o = 0;
    for (uint32_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    b->len += o;
}

/* The text of field i (not quoted) into st->field. */
static void csv_field_text(fs_sink_state *st, const fl_row *r, int i) {
    fl__conn_buf *f = &st->field;
    char tmp[64];
    f->len = 0;
    switch (fl_schema_field_type(st->schema, i)) {
    case FL_BOOLEAN:
        snprintf(tmp, sizeof tmp, "%s", fl_row_get_bool(r, i) ? "true" : "false");
        break;
    case FL_INT:
        snprintf(tmp, sizeof tmp, "%" PRId32, fl_row_get_int(r, i));
        break;
    case FL_BIGINT:
        snprintf(tmp, sizeof tmp, "%" PRId64, fl_row_get_bigint(r, i));
        break;
    case FL_DOUBLE:
        format_double(fl_row_get_double(r, i), tmp, sizeof tmp);
        break;
    case FL_TIMESTAMP:
        fl_format_timestamp(fl_row_get_timestamp(r, i), tmp, sizeof tmp);
        break;
    case FL_STRING: {
        uint32_t len;
        const char *s = fl_row_get_string(r, i, &len);
        fl__conn_buf_append(f, s, len);
        return;
    }
    case FL_BYTES: {
        uint32_t len;
        const unsigned char *p = fl_row_get_bytes(r, i, &len);
        append_base64(f, p, len);
        return;
    }
    default:
        tmp[0] = '\0';
        break;
    }
    fl__conn_buf_append(f, tmp, strlen(tmp));
}

static void append_csv_row(fs_sink_state *st, const fl_row *r) {
    int n = fl_schema_num_fields(st->schema);
    char delim = st->conf.delimiter;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            fl__conn_buf_putc(&st->out, delim);
        if (fl_row_is_null(r, i))
            continue;
        csv_field_text(st, r, i);
        const char *text = st->field.data;
        size_t len = st->field.len;
        bool quote = false;
        for (size_t k = 0; k < len && !quote; k++)
            quote = text[k] == delim || text[k] == '"' || text[k] == '\r' || text[k] == '\n';
        if (!quote) {
            fl__conn_buf_append(&st->out, text, len);
            continue;
        }
        fl__conn_buf_putc(&st->out, '"');
        for (size_t k = 0; k < len; k++) {
            if (text[k] == '"')
                fl__conn_buf_putc(&st->out, '"');
            fl__conn_buf_putc(&st->out, text[k]);
        }
        fl__conn_buf_putc(&st->out, '"');
    }
    fl__conn_buf_putc(&st->out, '\n');
}

static int fs_write(void *state, const fl_row *const *rows, const int64_t *timestamps, size_t n,
                    fl_error *err) {
    fs_sink_state *st = state;
    for (size_t i = 0; i < n; i++) {
        if (st->conf.csv) {
            append_csv_row(st, rows[i]);
        } else {
            fl__conn_buf_append_row(&st->out, rows[i], st->schema, true);
            fl__conn_buf_putc(&st->out, '\n');
        }
        if (st->out.len >= FLUSH_SIZE) {
            int rc = flush(st, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int fs_finish(void *state, fl_error *err) {
    return flush(state, err);
}

static void fs_close(void *state) {
    fs_sink_state *st = state;
    if (st == NULL)
        return;
    /* Rows written after the last finish (a canceled job) still reach the file. */
    flush(st, NULL);
    close(st->fd);
    fl__conn_buf_free(&st->out);
    fl__conn_buf_free(&st->field);
    free(st->file);
    free(st);
}

const fl_sink_connector fl__sink_filesystem = {
    .name = NAME,
    .description = "Rows as text or CSV files, one per subtask named 1, 2, ... in the "
                   "directory path (writeAsText, writeAsCsv).",
    .options = options,
    .validate = fs_validate,
    .open = fs_open,
    .write = fs_write,
    .finish = fs_finish,
    .close = fs_close,
};
