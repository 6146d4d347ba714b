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
 * The text and CSV formats are row_format.c's (shared with the exactly-once
 * file sink). Rows are formatted into a 64 KiB buffer written with write(2);
 * errors name the file. This sink takes no part in checkpoints: after a
 * restart it starts its file over (overwrite) or refuses (no_overwrite); the
 * exactly-once sink is "filesystem-exactly-once".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

typedef struct fs_sink_state {
    fl__row_format format;
    char *file; /* "DIR/N" */
    int fd;
    bool failed;      /* a write failed: later flushes do not retry */
    fl__conn_buf out; /* formatted, not yet written */
} fs_sink_state;

/* Checks the options; `format` is initialized either way (the caller
 * finalizes it). */
static int read_config(const fl_options *o, const fl_schema *schema, fl__row_format *format,
                       bool *overwrite, fl_error *err) {
    const char *path = fl_options_get(o, "path");
    memset(format, 0, sizeof *format);
    if (path == NULL || path[0] == '\0')
        return fl_error_set(err, FL_ECONFIG, "connector \"" NAME "\" needs the option path");
    int rc = fl__row_format_init(format, o, NAME, schema, err);
    if (rc < 0)
        return rc;
    const char *mode = fl_options_get(o, "write-mode");
    if (mode == NULL || strcmp(mode, "no_overwrite") == 0)
        *overwrite = false;
    else if (strcmp(mode, "overwrite") == 0)
        *overwrite = true;
    else
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": write-mode must be overwrite or "
                            "no_overwrite, not \"%s\"",
                            mode);
    return 0;
}

static int fs_validate(const fl_options *o, const fl_schema *input, fl_error *err) {
    fl__row_format format;
    bool overwrite;
    int rc = read_config(o, input, &format, &overwrite, err);
    fl__row_format_fini(&format);
    return rc;
}

static int fs_open(fl_sink_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    fl__row_format format;
    bool overwrite;
    int rc = read_config(o, fl_sink_schema(ctx), &format, &overwrite, err);
    if (rc == 0)
        rc = fl__conn_make_dirs(fl_options_get(o, "path"), err);
    if (rc < 0) {
        fl__row_format_fini(&format);
        return rc;
    }
    char *dir = fl__conn_dir_name(fl_options_get(o, "path"));
    char *file = fl_xasprintf("%s/%d", dir, fl_sink_subtask_index(ctx) + 1);
    free(dir);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
    int fd = open(file, flags, 0666);
    if (fd < 0) {
        if (errno == EEXIST)
            rc = fl_error_set(err, FL_EIO,
                              "output file \"%s\" exists; delete it or set write-mode=overwrite",
                              file);
        else
            rc = fl__conn_io_error("open", file, errno, err);
        free(file);
        fl__row_format_fini(&format);
        return rc;
    }
    fs_sink_state *st = fl_xcalloc(1, sizeof *st);
    st->format = format;
    st->file = file;
    st->fd = fd;
    *state = st;
    return 0;
}

static int flush(fs_sink_state *st, fl_error *err) {
    if (st->failed)
        return FL_EIO;
    int w = fl_fs_write_all(st->fd, st->out.data, st->out.len);
    if (w < 0) {
        st->failed = true;
        return fl__conn_io_error("write", st->file, -w, err);
    }
    st->out.len = 0;
    return 0;
}

static int fs_write(void *state, const fl_row *const *rows, const int64_t *timestamps, size_t n,
                    fl_error *err) {
    fs_sink_state *st = state;
    for (size_t i = 0; i < n; i++) {
        fl__row_format_append(&st->format, &st->out, rows[i]);
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
    fl__row_format_fini(&st->format);
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
