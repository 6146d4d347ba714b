/*
 * source_filesystem.c - the "filesystem" source: the lines of a text file, or
 * of every file in a directory, as (line STRING); Flink's readTextFile.
 *
 * Parallel readers split the input by bytes. The files are laid end to end
 * (a directory's visible files in name order) and subtask i of p takes the
 * bytes [i*size/p, (i+1)*size/p) of that sequence. It emits exactly the lines
 * that START in its range: a line starting at the range's first byte is its
 * own (which it knows because the byte before is a newline or the file's
 * start); the partial line it lands in otherwise belongs to the subtask
 * before; and its last line is read past the range end to the newline. So
 * every line is read exactly once for any parallelism, and no line spans two
 * files.
 *
 * Splits: the part of a subtask's range inside one file is a split (path,
 * start, end, next): read the lines of that file that start in [next, end),
 * a line starting at offset x when x is 0 or byte x-1 is a newline. A split
 * starts with next = start; after each line, next is the offset of the line
 * after it, so the split is the position a checkpoint records. Restored, a
 * subtask reads the splits it receives in order, whatever subtask and
 * parallelism they came from, and every line is still read exactly once.
 *
 * Lines end at '\n'; a trailing '\r' is removed (CRLF files), the last line
 * needs no newline, empty lines are emitted as empty strings. Reads go through
 * a 1 MiB buffer that grows for longer lines.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors_int.h"
#include "mem.h"

#define NAME "filesystem"
#define SPLIT_TAG "FLfs"
#define SPLIT_VERSION 1
#define READ_SIZE ((size_t)1 << 20)
#define MAX_LINE ((size_t)1 << 30)
/* Buffer refills per read() call at most, so that a very long line does not
 * keep read() from returning. */
#define MAX_REFILLS 8

static const fl_option_def options[] = {
    {"path", NULL, true, "file, or directory whose files (not starting with . or _) are read"},
    {"format", "text", false, "text: one (line STRING) row per line"},
    {NULL, NULL, false, NULL},
};

typedef struct text_file {
    char *path;
    uint64_t size; /* at open */
    uint64_t base; /* offset of its first byte in the end-to-end sequence */
} text_file;

typedef struct text_files {
    text_file *files;
    size_t n;
    uint64_t total;
} text_files;

/* Lines of `path` that start in [next, end). */
typedef struct file_split {
    char *path;
    uint64_t start, end, next;
} file_split;

typedef struct filesystem_state {
    file_split *splits; /* from `cur` on: the position a checkpoint records */
    size_t n_splits, cur;
    int fd;            /* the current split's file, or -1 before it is opened */
    bool skipping;     /* discarding the partial line before the split's next */
    bool eof;          /* read() returned 0 */
    uint64_t pos;      /* file offset of buf[0] */
    char *buf;
    size_t cap, len, off; /* unread bytes are buf[off, len) */
} filesystem_state;

static void files_fini(text_files *f) {
    for (size_t i = 0; i < f->n; i++)
        free(f->files[i].path);
    free(f->files);
    memset(f, 0, sizeof *f);
}

static int add_file(text_files *f, const char *path, fl_error *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return fl__conn_io_error("open", path, errno, err);
    /* Checking that it opens now gives the error at graph build time. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fl__conn_io_error("open", path, errno, err);
    close(fd);
    f->files = fl_xrealloc(f->files, (f->n + 1) * sizeof *f->files);
    f->files[f->n] = (text_file){fl_xstrdup(path), (uint64_t)st.st_size, f->total};
    f->n++;
    f->total += (uint64_t)st.st_size;
    return 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The input files of `path`, in reading order (caller finalizes on error too). */
static int list_files(const char *path, text_files *f, fl_error *err) {
    memset(f, 0, sizeof *f);
    struct stat st;
    if (stat(path, &st) != 0)
        return fl__conn_io_error("open", path, errno, err);
    if (!S_ISDIR(st.st_mode))
        return add_file(f, path, err);

    DIR *dir = opendir(path);
    if (dir == NULL)
        return fl__conn_io_error("open", path, errno, err);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        /* Hidden and "_"-prefixed files (markers, in-progress files) are skipped, as in Flink. */
        if (e->d_name[0] == '.' || e->d_name[0] == '_')
            continue;
        names = fl_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = fl_xasprintf("%s/%s", path, e->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof *names, compare_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat fst;
        if (rc == 0 && stat(names[i], &fst) == 0 && S_ISREG(fst.st_mode))
            rc = add_file(f, names[i], err);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int check_format(const fl_options *o, fl_error *err) {
    const char *format = fl_options_get(o, "format");
    if (format != NULL && strcmp(format, "text") != 0)
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": format \"%s\" cannot be read (supported: "
                            "text)",
                            format);
    if (fl_options_get(o, "path") == NULL || fl_options_get(o, "path")[0] == '\0')
        return fl_error_set(err, FL_ECONFIG, "connector \"" NAME "\" needs the option path");
    return 0;
}

static fl_schema *filesystem_schema(const fl_options *o, const fl_schema *declared,
                                    fl_error *err) {
    if (check_format(o, err) < 0)
        return NULL;
    text_files files;
    int rc = list_files(fl_options_get(o, "path"), &files, err);
    files_fini(&files);
    if (rc < 0)
        return NULL;
    fl_schema *own = fl__conn_line_schema();
    fl_schema *s = fl__conn_fixed_schema(NAME, own, declared, err);
    fl_schema_unref(own);
    return s;
}

static bool filesystem_bounded(const fl_options *o) {
    return true;
}

static void splits_free(file_split *splits, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(splits[i].path);
    free(splits);
}

static int filesystem_open(fl_source_ctx *ctx, const fl_options *o, void **state,
                           fl_error *err) {
    int rc = check_format(o, err);
    if (rc < 0)
        return rc;
    text_files in;
    rc = list_files(fl_options_get(o, "path"), &in, err);
    if (rc < 0) {
        files_fini(&in);
        return rc;
    }
    filesystem_state *st = fl_xcalloc(1, sizeof *st);
    st->fd = -1;
    /* This subtask's range of the files laid end to end, cut at file ends. */
    unsigned __int128 total = in.total;
    unsigned i = (unsigned)fl_source_subtask_index(ctx), p = (unsigned)fl_source_parallelism(ctx);
    uint64_t lo = (uint64_t)(total * i / p);
    uint64_t hi = (uint64_t)(total * (i + 1) / p);
    st->splits = fl_xmalloc((in.n ? in.n : 1) * sizeof *st->splits);
    for (size_t k = 0; k < in.n; k++) {
        const text_file *f = &in.files[k];
        uint64_t first = lo > f->base ? lo - f->base : 0;
        uint64_t end = hi < f->base + f->size ? hi - f->base : f->size;
        if (hi <= f->base || first >= end)
            continue;
        st->splits[st->n_splits++] = (file_split){fl_xstrdup(f->path), first, end, first};
    }
    files_fini(&in);
    st->cap = READ_SIZE;
    st->buf = fl_xmalloc(st->cap);
    *state = st;
    return 0;
}

/* Moves to the next split (the first one when none is open) and positions
 * the buffer one byte before its next offset, to see whether a line starts
 * there. Returns 0, or 1 when no split is left. */
static int next_split(filesystem_state *st, fl_error *err) {
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
        st->cur++;
    }
    if (st->cur >= st->n_splits)
        return 1;
    const file_split *sp = &st->splits[st->cur];
    st->fd = open(sp->path, O_RDONLY | O_CLOEXEC);
    if (st->fd < 0)
        return fl__conn_io_error("open", sp->path, errno, err);
    st->skipping = sp->next > 0;
    st->pos = sp->next > 0 ? sp->next - 1 : 0;
    st->len = st->off = 0;
    st->eof = false;
    return 0;
}

/* Reads more bytes after buf[len), keeping the unread part; grows the buffer
 * when one line fills it. */
static int refill(filesystem_state *st, fl_error *err) {
    if (st->off > 0) {
        memmove(st->buf, st->buf + st->off, st->len - st->off);
        st->pos += st->off;
        st->len -= st->off;
        st->off = 0;
    }
    if (st->cap - st->len < READ_SIZE / 2) {
        const char *path = st->splits[st->cur].path;
        if (st->len >= MAX_LINE)
            return fl_error_set(err, FL_EFORMAT,
                                "line at byte %llu of \"%s\" is longer than 1 GiB",
                                (unsigned long long)st->pos, path);
        st->cap *= 2;
        st->buf = fl_xrealloc(st->buf, st->cap);
    }
    for (;;) {
        ssize_t n = pread(st->fd, st->buf + st->len, st->cap - st->len,
                          (off_t)(st->pos + st->len));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            char text[128];
            return fl_error_set(err, FL_EIO, "could not read \"%s\": %s", st->splits[st->cur].path,
                                fl_errno_text(errno, text, sizeof text));
        }
        if (n == 0)
            st->eof = true;
        st->len += (size_t)n;
        return 0;
    }
}

static int emit_line(fl_source_ctx *ctx, const char *line, size_t len) {
    if (len > 0 && line[len - 1] == '\r')
        len--;
    fl_row_builder *b = fl_source_builder(ctx);
    fl_row_builder_set_string(b, 0, line, (uint32_t)len);
    return fl_source_emit(ctx, FL_NO_TIMESTAMP);
}

static int filesystem_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    filesystem_state *st = state;
    int emitted = 0, refills = 0;
    while (emitted < FL__CONN_BATCH_ROWS && refills < MAX_REFILLS) {
        if (st->fd < 0) {
            int rc = next_split(st, err);
            if (rc < 0)
                return rc;
            if (rc == 1)
                return FL_SOURCE_END;
        }
        char *data = st->buf + st->off;
        size_t avail = st->len - st->off;
        char *nl = avail ? memchr(data, '\n', avail) : NULL;
        if (st->skipping) {
            if (nl != NULL) {
                st->off += (size_t)(nl - data) + 1;
                st->skipping = false;
            } else if (st->eof) {
                st->off = st->len;
                st->skipping = false;
            } else {
                st->off = st->len; /* all of it is the previous subtask's line */
                int rc = refill(st, err);
                if (rc < 0)
                    return rc;
                refills++;
            }
            continue;
        }
        uint64_t line_start = st->pos + st->off;
        if (line_start >= st->splits[st->cur].end || (st->eof && avail == 0)) {
            int rc = next_split(st, err);
            if (rc < 0)
                return rc;
            if (rc == 1)
                return FL_SOURCE_END;
            continue;
        }
        if (nl == NULL && !st->eof) {
            int rc = refill(st, err);
            if (rc < 0)
                return rc;
            refills++;
            continue;
        }
        size_t line_len = nl ? (size_t)(nl - data) : avail;
        if (line_len >= MAX_LINE)
            return fl_error_set(err, FL_EFORMAT,
                                "line at byte %llu of \"%s\" is longer than 1 GiB",
                                (unsigned long long)line_start, st->splits[st->cur].path);
        int rc = emit_line(ctx, data, line_len);
        if (rc < 0)
            return rc;
        st->off += line_len + (nl ? 1 : 0);
        st->splits[st->cur].next = st->pos + st->off;
        emitted++;
    }
    return FL_SOURCE_MORE;
}

static int filesystem_snapshot(void *state, fl_split_list *out, fl_error *err) {
    filesystem_state *st = state;
    fl__conn_buf b = {0};
    for (size_t i = st->cur; i < st->n_splits; i++) {
        const file_split *sp = &st->splits[i];
        if (sp->next >= sp->end)
            continue; /* no line starts in what is left */
        b.len = 0;
        fl__blob_begin(&b, SPLIT_TAG, SPLIT_VERSION);
        fl__blob_put_str(&b, sp->path);
        fl__blob_put_u64(&b, sp->start);
        fl__blob_put_u64(&b, sp->end);
        fl__blob_put_u64(&b, sp->next);
        fl_split_list_add(out, b.data, b.len);
    }
    fl__conn_buf_free(&b);
    return 0;
}

static int filesystem_restore(void *state, const fl_split *splits, size_t n, fl_error *err) {
    filesystem_state *st = state;
    file_split *restored = fl_xcalloc(n ? n : 1, sizeof *restored);
    for (size_t i = 0; i < n; i++) {
        fl__blob_reader r;
        bool ok = fl__blob_open(&r, splits[i], SPLIT_TAG, SPLIT_VERSION);
        file_split *sp = &restored[i];
        sp->path = fl__blob_get_str(&r);
        sp->start = fl__blob_get_u64(&r);
        sp->end = fl__blob_get_u64(&r);
        sp->next = fl__blob_get_u64(&r);
        if (!ok || !fl__blob_done(&r) || sp->start > sp->next || sp->next > sp->end) {
            splits_free(restored, n);
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": split %zu is not a file split", i);
        }
    }
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
    splits_free(st->splits, st->n_splits);
    st->splits = restored;
    st->n_splits = n;
    st->cur = 0;
    return 0;
}

static void filesystem_close(void *state) {
    filesystem_state *st = state;
    if (st == NULL)
        return;
    if (st->fd >= 0)
        close(st->fd);
    splits_free(st->splits, st->n_splits);
    free(st->buf);
    free(st);
}

const fl_source_connector fl__source_filesystem = {
    .name = NAME,
    .description = "Lines of a text file or of a directory's files as (line STRING), split "
                   "over the subtasks by byte ranges; bounded.",
    .options = options,
    .parallel = true,
    .schema = filesystem_schema,
    .bounded = filesystem_bounded,
    .open = filesystem_open,
    .read = filesystem_read,
    .close = filesystem_close,
    .snapshot = filesystem_snapshot,
    .restore = filesystem_restore,
};
