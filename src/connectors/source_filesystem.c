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

typedef struct filesystem_state {
    text_files in;
    uint64_t lo, hi;   /* this subtask's range in the end-to-end sequence */
    size_t cur;        /* file being read; in.n when done */
    int fd;            /* its descriptor, or -1 before it is opened */
    uint64_t end;      /* range end within the current file */
    bool skipping;     /* discarding the partial line the range starts in */
    bool eof;          /* read() returned 0 */
    uint64_t pos;      /* file offset of buf[0] */
    char *buf;
    size_t cap, len, off; /* unread bytes are buf[off, len) */
    /* The position a checkpoint records is (cur, pos + off): the next line. */
} filesystem_state;

static int open_error(const char *path, int errnum, fl_error *err) {
    char text[128];
    fl__conn_errno_text(errnum, text, sizeof text);
    return fl_error_set(err, errnum == ENOENT ? FL_ENOENT : FL_EIO, "could not open \"%s\": %s",
                        path, text);
}

static void files_fini(text_files *f) {
    for (size_t i = 0; i < f->n; i++)
        free(f->files[i].path);
    free(f->files);
    memset(f, 0, sizeof *f);
}

static int add_file(text_files *f, const char *path, fl_error *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return open_error(path, errno, err);
    /* Checking that it opens now gives the error at graph build time. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return open_error(path, errno, err);
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
        return open_error(path, errno, err);
    if (!S_ISDIR(st.st_mode))
        return add_file(f, path, err);

    DIR *dir = opendir(path);
    if (dir == NULL)
        return open_error(path, errno, err);
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

static int filesystem_open(fl_source_ctx *ctx, const fl_options *o, void **state,
                           fl_error *err) {
    int rc = check_format(o, err);
    if (rc < 0)
        return rc;
    filesystem_state *st = fl_xcalloc(1, sizeof *st);
    st->fd = -1;
    rc = list_files(fl_options_get(o, "path"), &st->in, err);
    if (rc < 0) {
        files_fini(&st->in);
        free(st);
        return rc;
    }
    unsigned __int128 total = st->in.total;
    unsigned i = (unsigned)fl_source_subtask_index(ctx), p = (unsigned)fl_source_parallelism(ctx);
    st->lo = (uint64_t)(total * i / p);
    st->hi = (uint64_t)(total * (i + 1) / p);
    st->cap = READ_SIZE;
    st->buf = fl_xmalloc(st->cap);
    *state = st;
    return 0;
}

/* Moves to the next file that overlaps the range and positions the buffer
 * at the range start (one byte before it, to see whether a line starts there).
 * Returns 0, or 1 when no file is left. */
static int next_file(filesystem_state *st, fl_error *err) {
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
        st->cur++;
    }
    for (; st->cur < st->in.n; st->cur++) {
        const text_file *f = &st->in.files[st->cur];
        uint64_t first = st->lo > f->base ? st->lo - f->base : 0;
        uint64_t end = st->hi < f->base + f->size ? st->hi - f->base : f->size;
        if (st->hi <= f->base || first >= end)
            continue;
        st->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (st->fd < 0)
            return open_error(f->path, errno, err);
        st->end = end;
        st->skipping = first > 0;
        st->pos = first > 0 ? first - 1 : 0;
        st->len = st->off = 0;
        st->eof = false;
        return 0;
    }
    return 1;
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
        const char *path = st->in.files[st->cur].path;
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
            return fl_error_set(err, FL_EIO, "could not read \"%s\": %s",
                                st->in.files[st->cur].path,
                                fl__conn_errno_text(errno, text, sizeof text));
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
            int rc = next_file(st, err);
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
        if (line_start >= st->end || (st->eof && avail == 0)) {
            int rc = next_file(st, err);
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
                                (unsigned long long)line_start, st->in.files[st->cur].path);
        int rc = emit_line(ctx, data, line_len);
        if (rc < 0)
            return rc;
        st->off += line_len + (nl ? 1 : 0);
        emitted++;
    }
    return FL_SOURCE_MORE;
}

static void filesystem_close(void *state) {
    filesystem_state *st = state;
    if (st == NULL)
        return;
    if (st->fd >= 0)
        close(st->fd);
    files_fini(&st->in);
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
};
