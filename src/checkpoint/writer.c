/*
 * writer.c - writing one checkpoint or savepoint: the state files its
 * subtasks stream in from their own threads, and the _metadata that
 * completes it.
 *
 * A writer is shared by the coordinator (one reference, dropped by complete
 * or abort) and every open state file (one reference each), so the
 * coordinator can abort a checkpoint while slow subtasks are still writing:
 * their next write fails with FL_ECANCELED and the last reference removes the
 * directory. The writer records each closed file's path, size and checksum;
 * complete() accepts only metadata whose files match that record, so a
 * _metadata can never name bytes that were not fully written and fsynced.
 * State files are written in place (their names are unique); only _metadata
 * needs the temp-name-and-rename dance, because its presence is what makes
 * the checkpoint complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "checkpoint_int.h"
#include "log.h"
#include "mem.h"

#define FILE_BUFFER (64 * 1024)
#define UID_IN_NAME 48 /* characters of the uid kept in a file name */

typedef struct written_file {
    char *path;
    uint64_t size, checksum;
} written_file;

struct fl_checkpoint_writer {
    fl_checkpoint_storage *storage; /* borrowed: alive until complete/abort */
    int64_t id;
    fl_checkpoint_kind kind;
    char *job_id;
    char *dir;
    atomic_bool aborted;
    pthread_mutex_t lock; /* guards what follows */
    int refs;             /* the coordinator's + one per open state file */
    bool finishing;       /* complete or abort was called */
    uint64_t next_file;
    written_file *files;
    int n_files, cap_files;
};

struct fl_state_file_writer {
    fl_checkpoint_writer *w;
    int fd;
    char *name; /* relative to w->dir */
    char *full;
    char *role;
    XXH64_state_t *hash;
    uint64_t size;
    size_t buffered;
    fl_error err; /* the first failure, reported by close */
    unsigned char *buf;
};

fl_checkpoint_writer *fl__ckpt_writer_create(fl_checkpoint_storage *s, int64_t id,
                                             fl_checkpoint_kind kind, const char *job_id,
                                             char *dir) {
    fl_checkpoint_writer *w = fl_xcalloc(1, sizeof *w);
    w->storage = s;
    w->id = id;
    w->kind = kind;
    w->job_id = fl_xstrdup(job_id);
    w->dir = dir;
    atomic_init(&w->aborted, false);
    pthread_mutex_init(&w->lock, NULL);
    w->refs = 1;
    fl_debug(FL__CKPT_LOG, "%s %lld started in %s", fl_checkpoint_kind_name(kind), (long long)id,
             dir);
    return w;
}

int64_t fl_checkpoint_writer_id(const fl_checkpoint_writer *w) { return w->id; }
fl_checkpoint_kind fl_checkpoint_writer_kind(const fl_checkpoint_writer *w) { return w->kind; }
const char *fl_checkpoint_writer_dir(const fl_checkpoint_writer *w) { return w->dir; }

/* Drops one reference; the last one removes an aborted checkpoint's
 * directory and frees the writer. */
static void writer_unref(fl_checkpoint_writer *w) {
    pthread_mutex_lock(&w->lock);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->lock);
    if (!last) return;
    if (atomic_load(&w->aborted)) {
        fl_error e = {0};
        if (fl_fs_remove_tree(w->dir, &e) != 0)
            fl_warn(FL__CKPT_LOG, "could not delete aborted %s: %s",
                    fl_checkpoint_kind_name(w->kind), e.message);
    }
    for (int i = 0; i < w->n_files; i++) free(w->files[i].path);
    free(w->files);
    pthread_mutex_destroy(&w->lock);
    free(w->job_id);
    free(w->dir);
    free(w);
}

static int canceled(fl_checkpoint_writer *w, fl_error *err) {
    return fl_error_set(err, FL_ECANCELED, "%s %lld was aborted", fl_checkpoint_kind_name(w->kind),
                        (long long)w->id);
}

/* ---- state files ----------------------------------------------------------------------------- */

fl_state_file_writer *fl_checkpoint_writer_open_file(fl_checkpoint_writer *w, const char *uid,
                                                     int subtask, const char *role, fl_error *err) {
    char why[128];
    if (!fl__ckpt_valid_role(role)) {
        fl_error_set(err, FL_EINVAL,
                     "\"%s\" is not a state file role ([a-z0-9-], 1 to %d characters)",
                     role ? role : "", FL__CKPT_ROLE_MAX);
        return NULL;
    }
    if (uid == NULL || uid[0] == '\0' || subtask < 0) {
        fl_error_set(err, FL_EINVAL, "a state file needs an operator uid and a subtask index");
        return NULL;
    }
    pthread_mutex_lock(&w->lock);
    if (atomic_load(&w->aborted) || w->finishing) {
        bool aborted = atomic_load(&w->aborted);
        pthread_mutex_unlock(&w->lock);
        if (aborted)
            canceled(w, err);
        else
            fl_error_set(err, FL_ESTATE, "%s %lld is already being completed",
                         fl_checkpoint_kind_name(w->kind), (long long)w->id);
        return NULL;
    }
    uint64_t seq = w->next_file++;
    w->refs++;
    pthread_mutex_unlock(&w->lock);

    /* op-<uid>-<subtask>-<role>-<seq>: readable, and unique by seq whatever
     * the uid maps to. */
    char uid_part[UID_IN_NAME + 1];
    size_t n = 0;
    for (const char *c = uid; *c && n < UID_IN_NAME; c++) {
        char ch = *c;
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
        uid_part[n++] = keep ? ch : '_';
    }
    uid_part[n] = '\0';
    fl_state_file_writer *f = fl_xcalloc(1, sizeof *f);
    f->w = w;
    f->name = fl_xasprintf("op-%s-%d-%s-%llu", uid_part, subtask, role, (unsigned long long)seq);
    f->full = fl_xasprintf("%s/%s", w->dir, f->name);
    f->role = fl_xstrdup(role);
    f->fd = open(f->full, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int e = errno;
        if (atomic_load(&w->aborted))
            canceled(w, err);
        else
            fl_error_set(err, FL_EIO, "could not create state file \"%s\": %s", f->full,
                         fl_errno_text(e, why, sizeof why));
        free(f->name);
        free(f->full);
        free(f->role);
        free(f);
        writer_unref(w);
        return NULL;
    }
    f->hash = XXH64_createState();
    if (f->hash == NULL) {
        fl_errlog(FL__CKPT_LOG, "out of memory");
        abort();
    }
    XXH64_reset(f->hash, 0);
    f->buf = fl_xmalloc(FILE_BUFFER);
    return f;
}

static int flush(fl_state_file_writer *f, const void *p, size_t n) {
    char why[128];
    int r = fl_fs_write_all(f->fd, p, n);
    if (r != 0)
        return fl_error_set(&f->err, FL_EIO, "could not write state file \"%s\": %s", f->full,
                            fl_errno_text(-r, why, sizeof why));
    return 0;
}

int fl_state_file_writer_write(fl_state_file_writer *f, const void *p, size_t n) {
    if (f->err.code != 0) return f->err.code;
    if (atomic_load(&f->w->aborted)) return canceled(f->w, &f->err);
    if (n == 0) return 0;
    XXH64_update(f->hash, p, n);
    f->size += n;
    if (f->buffered + n <= FILE_BUFFER) {
        memcpy(f->buf + f->buffered, p, n);
        f->buffered += n;
        return 0;
    }
    if (f->buffered > 0) {
        int rc = flush(f, f->buf, f->buffered);
        f->buffered = 0;
        if (rc != 0) return rc;
    }
    if (n >= FILE_BUFFER) return flush(f, p, n);
    memcpy(f->buf, p, n);
    f->buffered = n;
    return 0;
}

int fl_state_file_writer_sink(void *f, const void *p, size_t n) {
    return fl_state_file_writer_write(f, p, n);
}

static void file_free(fl_state_file_writer *f, bool remove) {
    if (f->fd >= 0) close(f->fd);
    if (remove) unlink(f->full);
    fl_checkpoint_writer *w = f->w;
    XXH64_freeState(f->hash);
    free(f->buf);
    free(f->name);
    free(f->full);
    free(f->role);
    free(f);
    writer_unref(w);
}

int fl_state_file_writer_close(fl_state_file_writer *f, fl_state_file *out, fl_error *err) {
    char why[128];
    fl_checkpoint_writer *w = f->w;
    memset(out, 0, sizeof *out);
    if (f->err.code == 0 && atomic_load(&w->aborted)) canceled(w, &f->err);
    if (f->err.code == 0 && f->buffered > 0) flush(f, f->buf, f->buffered);
    f->buffered = 0;
    /* The metadata will vouch for these bytes: they must be on disk first. */
    if (f->err.code == 0 && fsync(f->fd) != 0)
        fl_error_set(&f->err, FL_EIO, "could not sync state file \"%s\": %s", f->full,
                     fl_errno_text(errno, why, sizeof why));
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0 && f->err.code == 0)
        fl_error_set(&f->err, FL_EIO, "could not write state file \"%s\": %s", f->full,
                     fl_errno_text(errno, why, sizeof why));
    if (f->err.code != 0) {
        int rc = fl_error_set(err, f->err.code, "%s", f->err.message);
        file_free(f, true);
        return rc;
    }
    uint64_t checksum = XXH64_digest(f->hash);
    pthread_mutex_lock(&w->lock);
    if (w->n_files == w->cap_files) {
        w->cap_files = w->cap_files ? w->cap_files * 2 : 16;
        w->files = fl_xrealloc(w->files, (size_t)w->cap_files * sizeof *w->files);
    }
    w->files[w->n_files++] = (written_file){fl_xstrdup(f->name), f->size, checksum};
    pthread_mutex_unlock(&w->lock);
    out->path = fl_xstrdup(f->name);
    out->role = fl_xstrdup(f->role);
    out->size = f->size;
    out->checksum = checksum;
    file_free(f, false);
    return 0;
}

void fl_state_file_writer_discard(fl_state_file_writer *f) {
    if (f != NULL) file_free(f, true);
}

/* ---- complete / abort ------------------------------------------------------------------------ */

static int cmp_written(const void *a, const void *b) {
    return strcmp(((const written_file *)a)->path, ((const written_file *)b)->path);
}

/* Every file md names was written and closed by w, with the same size and
 * checksum. w->files is sorted (no file is being added any more). */
static int check_files(fl_checkpoint_writer *w, const fl_checkpoint_metadata *md, fl_error *err) {
    for (int o = 0; o < md->n_operators; o++) {
        const fl_checkpoint_operator *op = md->operators[o];
        for (int i = 0; i < op->parallelism; i++) {
            const fl_checkpoint_subtask *s = &op->subtasks[i];
            for (int k = 0; k < s->n_files; k++) {
                const fl_state_file *h = &s->files[k];
                written_file key = {.path = h->path};
                const written_file *wf = w->n_files == 0
                                             ? NULL
                                             : bsearch(&key, w->files, (size_t)w->n_files,
                                                       sizeof *w->files, cmp_written);
                if (wf == NULL)
                    return fl_error_set(err, FL_EINVAL,
                                        "%s %lld: operator \"%s\" subtask %d names state file "
                                        "\"%s\", which this %s did not write",
                                        fl_checkpoint_kind_name(w->kind), (long long)w->id, op->uid,
                                        i, h->path, fl_checkpoint_kind_name(w->kind));
                if (wf->size != h->size || wf->checksum != h->checksum)
                    return fl_error_set(err, FL_EINVAL,
                                        "%s %lld: operator \"%s\" subtask %d: state file \"%s\" "
                                        "has a different size or checksum than was written",
                                        fl_checkpoint_kind_name(w->kind), (long long)w->id, op->uid,
                                        i, h->path);
            }
        }
    }
    return 0;
}

int fl_checkpoint_writer_complete(fl_checkpoint_writer *w, const fl_checkpoint_metadata *md,
                                  fl_error *err) {
    const char *kind = fl_checkpoint_kind_name(w->kind);
    int rc = 0;
    pthread_mutex_lock(&w->lock);
    w->finishing = true;
    int open_files = w->refs - 1;
    if (w->n_files > 1) qsort(w->files, (size_t)w->n_files, sizeof *w->files, cmp_written);
    pthread_mutex_unlock(&w->lock);

    if (open_files > 0) {
        rc = fl_error_set(err, FL_ESTATE, "%s %lld cannot complete: %d state file(s) still open",
                          kind, (long long)w->id, open_files);
        goto fail;
    }
    if ((rc = fl_checkpoint_metadata_validate(md, err)) != 0) goto fail;
    if (md->checkpoint_id != w->id || md->kind != w->kind || strcmp(md->job_id, w->job_id) != 0) {
        rc = fl_error_set(err, FL_EINVAL,
                          "%s %lld of job %s cannot complete with the metadata of %s %lld of "
                          "job %s",
                          kind, (long long)w->id, w->job_id, fl_checkpoint_kind_name(md->kind),
                          (long long)md->checkpoint_id, md->job_id);
        goto fail;
    }
    if ((rc = check_files(w, md, err)) != 0) goto fail;
    /* The state files' directory entries are durable before _metadata names them. */
    if ((rc = fl_fs_sync_dir(w->dir, err)) != 0) goto fail;
    size_t len;
    char *bytes = fl_checkpoint_metadata_encode(md, &len);
    rc = fl__ckpt_write_atomic(w->dir, FL_CHECKPOINT_METADATA_FILE, bytes, len, err);
    free(bytes);
    if (rc != 0) goto fail;

    uint64_t total = 0;
    for (int i = 0; i < w->n_files; i++) total += w->files[i].size;
    fl_info(FL__CKPT_LOG, "completed %s %lld of job %s in %s (%d state files, %llu bytes)", kind,
            (long long)w->id, w->job_id, w->dir, w->n_files, (unsigned long long)total);
    if (w->kind == FL_CHECKPOINT) fl__ckpt_storage_completed(w->storage, w->id);
    writer_unref(w);
    return 0;
fail:
    fl_warn(FL__CKPT_LOG, "%s %lld failed and is discarded: %s", kind, (long long)w->id,
            err ? err->message : fl_strerror(rc));
    atomic_store(&w->aborted, true);
    writer_unref(w);
    return rc;
}

void fl_checkpoint_writer_abort(fl_checkpoint_writer *w) {
    if (w == NULL) return;
    pthread_mutex_lock(&w->lock);
    w->finishing = true;
    atomic_store(&w->aborted, true);
    pthread_mutex_unlock(&w->lock);
    fl_info(FL__CKPT_LOG, "%s %lld of job %s aborted", fl_checkpoint_kind_name(w->kind),
            (long long)w->id, w->job_id);
    writer_unref(w);
}
