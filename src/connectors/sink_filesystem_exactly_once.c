/*
 * sink_filesystem_exactly_once.c - the "filesystem-exactly-once" sink: rows
 * as text or CSV part files in the directory `path`, made visible only by
 * completed checkpoints (Flink's FileSink with a row format), through the
 * two-phase-commit calls of flinc/connector.h.
 *
 * Subtask i writes part files numbered by a counter c, in three states:
 *   .part-i-c.inprogress  being written (hidden: readers skip dot files)
 *   .part-i-c.pending     rolled: complete, waiting for its checkpoint
 *   part-i-c              finished: committed, never touched again
 * A part file rolls (in-progress -> pending) when it reaches
 * rolling.max-part-size bytes, when it has been open rolling.rollover-interval
 * or idle rolling.inactivity-interval (processing time, checked when rows
 * arrive and at checkpoints), at the end of input, and at every checkpoint
 * only with rolling.on-checkpoint=true. The default is Flink's
 * DefaultRollingPolicy for row formats, which does not roll on checkpoints:
 * the in-progress file is then synced and its length recorded instead.
 *
 * pre_commit(N) assigns N to the files rolled since the last checkpoint and
 * returns handles for every file not committed yet: PENDING (subtask,
 * counter, size, checkpoint) and, for the open file, IN-PROGRESS (subtask,
 * counter, recorded length). commit(N) renames the pending files of
 * checkpoints <= N to their final names; a rename whose source is gone but
 * whose target exists was done before, so commits are idempotent.
 *
 * recover() gets every subtask's handles (union state) and takes care of the
 * old subtask indexes j with j % parallelism == its own index, so no two
 * subtasks touch the same files: it finishes their PENDING files, truncates
 * their IN-PROGRESS files to the recorded length and finishes them (the rows
 * after it belong to the failed attempt), deletes every other hidden part
 * file of those indexes (work of failed attempts that no completed
 * checkpoint covers), and numbers its own new files after the highest
 * counter in the directory, so it never reuses a name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "connectors_int.h"
#include "mem.h"

#define NAME           "filesystem-exactly-once"
#define FLUSH_SIZE     ((size_t)64 << 10)
#define HANDLE_TAG     "FLfe"
#define HANDLE_VERSION 1
/* Checkpoint id of a file rolled since the last pre_commit. */
#define NOT_PRE_COMMITTED INT64_MIN

static const fl_option_def options[] = {
    {"path", NULL, true, "output directory (created); part files part-SUBTASK-COUNTER in it"},
    {"format", "text", false, "text or csv"},
    {"csv.field-delimiter", ",", false, "csv: one character between fields (\\t for a tab)"},
    {"rolling.max-part-size", "128mb", false, "roll a part file once it holds this many bytes"},
    {"rolling.rollover-interval", "60 s", false,
     "roll a part file open this long (processing time)"},
    {"rolling.inactivity-interval", "60 s", false,
     "roll a part file that received no row for this long (processing time)"},
    {"rolling.on-checkpoint", "false", false,
     "also roll at every checkpoint (default: keep writing, as Flink's row formats)"},
    {NULL, NULL, false, NULL},
};

enum { PART_IN_PROGRESS, PART_PENDING, PART_FINISHED };
enum { HANDLE_PENDING = 1, HANDLE_IN_PROGRESS = 2 };

typedef struct pending_part {
    uint64_t counter;
    uint64_t size;
    int64_t checkpoint_id; /* NOT_PRE_COMMITTED until a pre_commit covers it */
} pending_part;

typedef struct rolling_policy {
    int64_t max_part_size;
    int64_t rollover_ns, inactivity_ns;
    bool on_checkpoint;
} rolling_policy;

typedef struct eo_sink_state {
    fl__row_format format;
    rolling_policy rolling;
    char *dir;
    int subtask, parallelism;
    uint64_t next_counter;
    /* The open part file. */
    int fd; /* -1: none */
    uint64_t counter;
    uint64_t size;     /* bytes written to it, buffered ones included */
    uint64_t recorded; /* length the last pre_commit recorded; 0: none (uncommitted work only) */
    int64_t opened_ns, last_write_ns;
    bool failed;      /* a write failed: later calls fail too */
    fl__conn_buf out; /* formatted, not yet written */
    pending_part *pending;
    size_t n_pending, cap_pending;
} eo_sink_state;

/* ---- options ----------------------------------------------------------------------------- */

static int bad_option(const char *key, const char *value, const char *form, fl_error *err) {
    return fl_error_set(err, FL_ECONFIG, "connector \"" NAME "\": %s=\"%s\" is not %s", key, value,
                        form);
}

/* Reads the options; `format` is initialized either way (the caller finalizes it). */
static int read_config(const fl_options *o, const fl_schema *schema, fl__row_format *format,
                       rolling_policy *rolling, fl_error *err) {
    const char *path = fl_options_get(o, "path");
    memset(format, 0, sizeof *format);
    if (path == NULL || path[0] == '\0')
        return fl_error_set(err, FL_ECONFIG, "connector \"" NAME "\" needs the option path");
    int rc = fl__row_format_init(format, o, NAME, schema, err);
    if (rc < 0) return rc;
    const char *v = fl_options_get(o, "rolling.max-part-size");
    if (v != NULL &&
        (fl_parse_size(v, &rolling->max_part_size) != 0 || rolling->max_part_size <= 0))
        return bad_option("rolling.max-part-size", v, "a positive size such as \"128mb\"", err);
    if (v == NULL) rolling->max_part_size = (int64_t)128 << 20;
    static const char *const durations[] = {"rolling.rollover-interval",
                                            "rolling.inactivity-interval"};
    int64_t *targets[] = {&rolling->rollover_ns, &rolling->inactivity_ns};
    for (int i = 0; i < 2; i++) {
        int64_t ms = 60000;
        v = fl_options_get(o, durations[i]);
        if (v != NULL && (fl_parse_duration_ms(v, &ms) != 0 || ms <= 0 || ms > INT64_MAX / 1000000))
            return bad_option(durations[i], v, "a positive duration such as \"60 s\"", err);
        *targets[i] = ms * 1000000;
    }
    return fl_options_get_bool(o, "rolling.on-checkpoint", false, &rolling->on_checkpoint, err);
}

static int eo_validate(const fl_options *o, const fl_schema *input, fl_error *err) {
    fl__row_format format;
    rolling_policy rolling;
    int rc = read_config(o, input, &format, &rolling, err);
    fl__row_format_fini(&format);
    return rc;
}

/* ---- part file names --------------------------------------------------------------------- */

static char *part_path(const char *dir, int kind, uint64_t subtask, uint64_t counter) {
    switch (kind) {
    case PART_IN_PROGRESS:
        return fl_xasprintf("%s/.part-%" PRIu64 "-%" PRIu64 ".inprogress", dir, subtask, counter);
    case PART_PENDING:
        return fl_xasprintf("%s/.part-%" PRIu64 "-%" PRIu64 ".pending", dir, subtask, counter);
    default:
        return fl_xasprintf("%s/part-%" PRIu64 "-%" PRIu64, dir, subtask, counter);
    }
}

/* A decimal number without sign or leading zeros (so every name has one
 * spelling); advances *s. */
static bool parse_number(const char **s, uint64_t *out) {
    const char *p = *s;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9')) return false;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    *s = p;
    return true;
}

/* Whether a directory entry is one of this sink's part files, and which. */
static bool parse_part_name(const char *name, int *kind, uint64_t *subtask, uint64_t *counter) {
    const char *p = name;
    bool hidden = *p == '.';
    if (hidden) p++;
    if (strncmp(p, "part-", 5) != 0) return false;
    p += 5;
    if (!parse_number(&p, subtask) || *p++ != '-' || !parse_number(&p, counter)) return false;
    if (!hidden && *p == '\0')
        *kind = PART_FINISHED;
    else if (hidden && strcmp(p, ".inprogress") == 0)
        *kind = PART_IN_PROGRESS;
    else if (hidden && strcmp(p, ".pending") == 0)
        *kind = PART_PENDING;
    else
        return false;
    return true;
}

/* ---- files ------------------------------------------------------------------------------- */

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Renames the pending file (subtask, counter) to its final name; done
 * already (no pending file, a final one) is success. expect_size >= 0 checks
 * the pending file's size first. */
static int finish_pending(const char *dir, uint64_t subtask, uint64_t counter, int64_t expect_size,
                          fl_error *err) {
    char *pending = part_path(dir, PART_PENDING, subtask, counter);
    char *final = part_path(dir, PART_FINISHED, subtask, counter);
    int rc = 0;
    struct stat st;
    if (expect_size >= 0 && stat(pending, &st) == 0 && (int64_t)st.st_size != expect_size) {
        rc = fl_error_set(err, FL_EFORMAT,
                          "part file \"%s\" has %lld bytes; the checkpoint recorded %" PRId64,
                          pending, (long long)st.st_size, expect_size);
    } else if (rename(pending, final) != 0) {
        if (errno != ENOENT)
            rc = fl__conn_io_error("commit part file", pending, errno, err);
        else if (!exists(final))
            rc = fl_error_set(err, FL_EIO,
                              "could not commit part file \"%s\": it is missing and \"%s\" does "
                              "not exist",
                              pending, final);
    }
    free(pending);
    free(final);
    return rc;
}

/* Recovers an IN-PROGRESS handle: the file (still in progress, or rolled to
 * pending after the checkpoint) is cut to the recorded length and finished. */
static int finish_in_progress(const char *dir, uint64_t subtask, uint64_t counter, uint64_t length,
                              fl_error *err) {
    char *final = part_path(dir, PART_FINISHED, subtask, counter);
    char *path = NULL;
    int rc = 0;
    for (int kind = PART_IN_PROGRESS; kind <= PART_PENDING && rc == 0; kind++) {
        path = part_path(dir, kind, subtask, counter);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT) rc = fl__conn_io_error("open", path, errno, err);
            free(path);
            path = NULL;
            continue;
        }
        struct stat st;
        if (fstat(fd, &st) != 0)
            rc = fl__conn_io_error("stat", path, errno, err);
        else if ((uint64_t)st.st_size < length)
            rc = fl_error_set(err, FL_EFORMAT,
                              "part file \"%s\" has %lld bytes; the checkpoint recorded %" PRIu64,
                              path, (long long)st.st_size, length);
        else if (ftruncate(fd, (off_t)length) != 0 || fsync(fd) != 0)
            rc = fl__conn_io_error("truncate", path, errno, err);
        close(fd);
        break;
    }
    if (rc == 0 && path != NULL) {
        if (length == 0 ? unlink(path) != 0 : rename(path, final) != 0)
            rc = fl__conn_io_error("commit part file", path, errno, err);
    } else if (rc == 0 && !exists(final)) {
        /* Neither hidden name: committed before, or lost. */
        rc = fl_error_set(err, FL_EIO,
                          "could not recover part file %" PRIu64 "-%" PRIu64
                          " in \"%s\": neither its in-progress, pending nor final file exists",
                          subtask, counter, dir);
    }
    free(path);
    free(final);
    return rc;
}

/* ---- writing ----------------------------------------------------------------------------- */

static int flush(eo_sink_state *st, fl_error *err) {
    if (st->failed)
        return fl_error_set(err, FL_EIO, "connector \"" NAME "\": an earlier write failed");
    int w = fl_fs_write_all(st->fd, st->out.data, st->out.len);
    if (w < 0) {
        st->failed = true;
        char *path = part_path(st->dir, PART_IN_PROGRESS, (uint64_t)st->subtask, st->counter);
        int rc = fl__conn_io_error("write", path, -w, err);
        free(path);
        return rc;
    }
    st->out.len = 0;
    return 0;
}

static int open_part(eo_sink_state *st, int64_t now, fl_error *err) {
    char *path = part_path(st->dir, PART_IN_PROGRESS, (uint64_t)st->subtask, st->next_counter);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        int rc = fl__conn_io_error("create part file", path, errno, err);
        free(path);
        return rc;
    }
    free(path);
    st->fd = fd;
    st->counter = st->next_counter++;
    st->size = st->recorded = 0;
    st->opened_ns = st->last_write_ns = now;
    return 0;
}

/* Closes the open part file as pending: synced, renamed, listed for the next
 * pre_commit. */
static int roll(eo_sink_state *st, fl_error *err) {
    int rc = flush(st, err);
    char *from = part_path(st->dir, PART_IN_PROGRESS, (uint64_t)st->subtask, st->counter);
    if (rc == 0 && fsync(st->fd) != 0) rc = fl__conn_io_error("sync", from, errno, err);
    if (rc == 0) {
        char *to = part_path(st->dir, PART_PENDING, (uint64_t)st->subtask, st->counter);
        if (rename(from, to) != 0) rc = fl__conn_io_error("roll part file", from, errno, err);
        free(to);
    }
    free(from);
    if (rc < 0) {
        st->failed = true;
        return rc;
    }
    close(st->fd);
    st->fd = -1;
    if (st->n_pending == st->cap_pending) {
        st->cap_pending = st->cap_pending ? st->cap_pending * 2 : 8;
        st->pending = fl_xrealloc(st->pending, st->cap_pending * sizeof *st->pending);
    }
    st->pending[st->n_pending++] = (pending_part){st->counter, st->size, NOT_PRE_COMMITTED};
    return 0;
}

static bool due_by_time(const eo_sink_state *st, int64_t now) {
    return now - st->opened_ns >= st->rolling.rollover_ns ||
           now - st->last_write_ns >= st->rolling.inactivity_ns;
}

static int eo_write(void *state, const fl_row *const *rows, const int64_t *timestamps, size_t n,
                    fl_error *err) {
    eo_sink_state *st = state;
    if (st->failed) return flush(st, err);
    int64_t now = fl_clock_monotonic_ns();
    if (st->fd >= 0 && due_by_time(st, now)) {
        int rc = roll(st, err);
        if (rc < 0) return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (st->fd < 0) {
            int rc = open_part(st, now, err);
            if (rc < 0) return rc;
        }
        size_t before = st->out.len;
        fl__row_format_append(&st->format, &st->out, rows[i]);
        st->size += st->out.len - before;
        st->last_write_ns = now;
        int rc = 0;
        if (st->size >= (uint64_t)st->rolling.max_part_size)
            rc = roll(st, err);
        else if (st->out.len >= FLUSH_SIZE)
            rc = flush(st, err);
        if (rc < 0) return rc;
    }
    return 0;
}

static int eo_finish(void *state, fl_error *err) {
    eo_sink_state *st = state;
    return st->fd >= 0 ? roll(st, err) : 0;
}

/* ---- two-phase commit -------------------------------------------------------------------- */

static void add_handle(fl_split_list *out, uint64_t kind, uint64_t subtask, uint64_t counter,
                       uint64_t size, int64_t checkpoint_id) {
    uint64_t fields[] = {kind, subtask, counter, size, (uint64_t)checkpoint_id};
    fl__blob_add_u64s(out, HANDLE_TAG, HANDLE_VERSION, fields, 5);
}

static int eo_pre_commit(void *state, int64_t checkpoint_id, fl_split_list *out, fl_error *err) {
    eo_sink_state *st = state;
    int rc = st->failed ? flush(st, err) : 0;
    if (rc == 0 && st->fd >= 0) {
        if (st->rolling.on_checkpoint || st->size >= (uint64_t)st->rolling.max_part_size ||
            due_by_time(st, fl_clock_monotonic_ns())) {
            rc = roll(st, err);
        } else {
            rc = flush(st, err);
            if (rc == 0 && fsync(st->fd) != 0) {
                char *path =
                    part_path(st->dir, PART_IN_PROGRESS, (uint64_t)st->subtask, st->counter);
                rc = fl__conn_io_error("sync", path, errno, err);
                free(path);
            }
            if (rc == 0) st->recorded = st->size;
        }
    }
    /* The renames of roll() must survive a crash before the checkpoint can
     * name the pending files. */
    if (rc == 0) rc = fl_fs_sync_dir(st->dir, err);
    if (rc < 0) return rc;
    for (size_t i = 0; i < st->n_pending; i++) {
        pending_part *part = &st->pending[i];
        if (part->checkpoint_id == NOT_PRE_COMMITTED) part->checkpoint_id = checkpoint_id;
        add_handle(out, HANDLE_PENDING, (uint64_t)st->subtask, part->counter, part->size,
                   part->checkpoint_id);
    }
    if (st->fd >= 0)
        add_handle(out, HANDLE_IN_PROGRESS, (uint64_t)st->subtask, st->counter, st->recorded,
                   checkpoint_id);
    return 0;
}

static int eo_commit(void *state, int64_t checkpoint_id, fl_error *err) {
    eo_sink_state *st = state;
    size_t kept = 0;
    bool renamed = false;
    int rc = 0;
    for (size_t i = 0; i < st->n_pending; i++) {
        pending_part part = st->pending[i];
        if (rc == 0 && part.checkpoint_id != NOT_PRE_COMMITTED &&
            part.checkpoint_id <= checkpoint_id) {
            rc = finish_pending(st->dir, (uint64_t)st->subtask, part.counter, -1, err);
            if (rc == 0) {
                renamed = true;
                continue;
            }
        }
        st->pending[kept++] = part;
    }
    st->n_pending = kept;
    /* A finished name lost in a crash would be deleted as a leftover by a
     * recovery from a later checkpoint, which no longer names the file. */
    if (renamed) {
        int src = fl_fs_sync_dir(st->dir, err);
        if (rc == 0) rc = src;
    }
    return rc;
}

/* Discards what was written since the last pre_commit. An in-progress file a
 * pre_commit recorded stays for recover() to cut back; pending files stay. */
static void eo_abort(void *state) {
    eo_sink_state *st = state;
    if (st->fd < 0) return;
    close(st->fd);
    st->fd = -1;
    st->out.len = 0;
    if (st->recorded == 0) {
        char *path = part_path(st->dir, PART_IN_PROGRESS, (uint64_t)st->subtask, st->counter);
        unlink(path);
        free(path);
    }
}

/* The hidden part files of old subtasks j with j % parallelism == subtask
 * that are still there are leftovers: deleted. Also finds the highest
 * counter of this subtask's files. */
static int sweep(eo_sink_state *st, bool delete_leftovers, fl_error *err) {
    DIR *d = opendir(st->dir);
    if (d == NULL) return fl__conn_io_error("open directory", st->dir, errno, err);
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int kind;
        uint64_t subtask, counter;
        if (!parse_part_name(e->d_name, &kind, &subtask, &counter)) continue;
        if (subtask == (uint64_t)st->subtask && counter >= st->next_counter)
            st->next_counter = counter + 1;
        if (!delete_leftovers || kind == PART_FINISHED ||
            subtask % (uint64_t)st->parallelism != (uint64_t)st->subtask)
            continue;
        char *path = fl_xasprintf("%s/%s", st->dir, e->d_name);
        if (unlink(path) != 0 && errno != ENOENT && rc == 0)
            rc = fl__conn_io_error("delete", path, errno, err);
        free(path);
    }
    closedir(d);
    return rc;
}

static int eo_recover(void *state, const fl_split *handles, size_t n, fl_error *err) {
    eo_sink_state *st = state;
    if (st->fd >= 0 || st->n_pending > 0)
        return fl_error_set(err, FL_ESTATE,
                            "connector \"" NAME "\": recover after rows were written");
    for (size_t i = 0; i < n; i++) {
        /* kind, subtask, counter, size, and the checkpoint, which recovery
         * does not need: it commits them all. */
        uint64_t fields[5];
        bool ok = fl__blob_read_u64s(handles[i], HANDLE_TAG, HANDLE_VERSION, fields, 5);
        uint64_t kind = fields[0], subtask = fields[1], counter = fields[2], size = fields[3];
        if (!ok || (kind != HANDLE_PENDING && kind != HANDLE_IN_PROGRESS) || size > INT64_MAX)
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": handle %zu is not a part file handle", i);
        if (subtask % (uint64_t)st->parallelism != (uint64_t)st->subtask)
            continue; /* another subtask's to recover */
        int rc = kind == HANDLE_PENDING
                     ? finish_pending(st->dir, subtask, counter, (int64_t)size, err)
                     : finish_in_progress(st->dir, subtask, counter, size, err);
        if (rc < 0) return rc;
    }
    int rc = sweep(st, true, err);
    if (rc == 0) rc = fl_fs_sync_dir(st->dir, err);
    return rc;
}

/* ---- life cycle -------------------------------------------------------------------------- */

static void eo_close(void *state) {
    eo_sink_state *st = state;
    if (st == NULL) return;
    eo_abort(st);
    fl__conn_buf_free(&st->out);
    fl__row_format_fini(&st->format);
    free(st->pending);
    free(st->dir);
    free(st);
}

static int eo_open(fl_sink_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    fl__row_format format;
    rolling_policy rolling;
    int rc = read_config(o, fl_sink_schema(ctx), &format, &rolling, err);
    if (rc == 0) rc = fl__conn_make_dirs(fl_options_get(o, "path"), err);
    if (rc < 0) {
        fl__row_format_fini(&format);
        return rc;
    }
    eo_sink_state *st = fl_xcalloc(1, sizeof *st);
    st->format = format;
    st->rolling = rolling;
    st->dir = fl__conn_dir_name(fl_options_get(o, "path"));
    st->subtask = fl_sink_subtask_index(ctx);
    st->parallelism = fl_sink_parallelism(ctx);
    st->fd = -1;
    /* New names come after every part file of this subtask already there. */
    rc = sweep(st, false, err);
    if (rc < 0) {
        eo_close(st);
        return rc;
    }
    *state = st;
    return 0;
}

const fl_sink_connector fl__sink_filesystem_exactly_once = {
    .name = NAME,
    .description = "Rows as text or CSV part files part-SUBTASK-COUNTER in the directory path, "
                   "visible once the checkpoint after them completes (two-phase commit, "
                   "Flink's FileSink).",
    .options = options,
    .validate = eo_validate,
    .open = eo_open,
    .write = eo_write,
    .finish = eo_finish,
    .close = eo_close,
    .pre_commit = eo_pre_commit,
    .commit = eo_commit,
    .abort = eo_abort,
    .recover = eo_recover,
};
