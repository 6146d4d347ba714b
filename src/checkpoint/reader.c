/*
 * reader.c - opening a completed checkpoint or savepoint for a restore, and
 * reading its state files back.
 *
 * Nothing on disk is trusted. _metadata is checked (checksum, then every
 * field) before its contents are used; each state file is checked against
 * the size and checksum the metadata records before a single byte of it is
 * handed out; paths from the metadata must stay inside the checkpoint
 * directory. Finding the latest checkpoint of a job goes from the newest
 * chk-<id> down, skipping incomplete ones silently and broken ones with a
 * warning, so a restore falls back to the previous retained checkpoint and
 * never loads garbage. A reader is immutable once open: subtasks restore
 * from it in parallel.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "checkpoint_int.h"
#include "log.h"
#include "mem.h"

#define READ_CHUNK (64 * 1024)

struct fl_checkpoint_reader {
    char *dir;                  /* the checkpoint's directory */
    fl_checkpoint_metadata *md; /* owned */
};

/* Opens dir/f->path and checks its size; with `verify` or `data`, reads it
 * whole and checks the checksum, keeping the bytes in *data when asked. */
static int load_file(const char *dir, const fl_state_file *f, bool verify, void **data, size_t *len,
                     fl_error *err) {
    char why[128];
    if (!fl__ckpt_valid_rel_path(f->path))
        return fl_error_set(err, FL_EFORMAT,
                            "state file path \"%s\" does not stay inside the checkpoint directory "
                            "\"%s\"",
                            f->path ? f->path : "", dir);
    char *full = fl_xasprintf("%s/%s", dir, f->path);
    unsigned char *buf = NULL;
    int rc = 0;
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            rc = fl_error_set(err, FL_ENOENT, "state file \"%s\" is missing", full);
        else
            rc = fl_error_set(err, FL_EIO, "could not open state file \"%s\": %s", full,
                              fl_errno_text(e, why, sizeof why));
        free(full);
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = fl_error_set(err, FL_EIO, "could not read state file \"%s\": %s", full,
                          fl_errno_text(errno, why, sizeof why));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = fl_error_set(err, FL_EFORMAT, "state file \"%s\" is not a regular file", full);
        goto done;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size != f->size) {
        rc = fl_error_set(err, FL_EFORMAT,
                          "state file \"%s\" is %s: %" PRIu64
                          " bytes, the metadata records %" PRIu64,
                          full, size < f->size ? "truncated" : "corrupted", size, f->size);
        goto done;
    }
    if (!verify && data == NULL) goto done;
    if (f->size > SIZE_MAX / 2) {
        rc = fl_error_set(err, FL_EFORMAT, "state file \"%s\" is too large to read", full);
        goto done;
    }
    /* Into the caller's buffer, or through a chunk when only verifying. */
    size_t cap = data ? (size_t)f->size : READ_CHUNK;
    buf = fl_xmalloc(cap + 1); /* + 1: the probe for bytes past the recorded end */
    XXH64_state_t *h = XXH64_createState();
    if (h == NULL) {
        fl_errlog(FL__CKPT_LOG, "out of memory");
        abort();
    }
    XXH64_reset(h, 0);
    uint64_t got = 0;
    for (;;) {
        size_t want = data ? (size_t)(f->size - got) + 1 : cap + 1;
        size_t at = data ? (size_t)got : 0;
        ssize_t r = read(fd, buf + at, want);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = fl_error_set(err, FL_EIO, "could not read state file \"%s\": %s", full,
                              fl_errno_text(errno, why, sizeof why));
            break;
        }
        if (r == 0) break;
        if (got + (uint64_t)r > f->size) {
            rc = fl_error_set(err, FL_EFORMAT,
                              "state file \"%s\" is corrupted: it grew past the %" PRIu64
                              " bytes the metadata records",
                              full, f->size);
            break;
        }
        XXH64_update(h, buf + at, (size_t)r);
        got += (uint64_t)r;
    }
    uint64_t sum = XXH64_digest(h);
    XXH64_freeState(h);
    if (rc != 0) goto done;
    if (got != f->size) {
        rc = fl_error_set(err, FL_EFORMAT,
                          "state file \"%s\" is truncated: %" PRIu64
                          " bytes, the metadata records %" PRIu64,
                          full, got, f->size);
        goto done;
    }
    if (sum != f->checksum) {
        rc = fl_error_set(err, FL_EFORMAT,
                          "state file \"%s\" is corrupted: checksum mismatch (xxh64 of the "
                          "contents is %016" PRIx64 ", the metadata records %016" PRIx64 ")",
                          full, sum, f->checksum);
        goto done;
    }
    if (data != NULL) {
        *len = (size_t)f->size;
        if (f->size > 0) {
            *data = buf;
            buf = NULL;
        }
    }
done:
    free(buf);
    close(fd);
    free(full);
    return rc;
}

static fl_checkpoint_reader *open_metadata(const char *dir, const char *md_path, unsigned flags,
                                           fl_error *err) {
    char *bytes = NULL;
    size_t len = 0;
    if (fl__ckpt_read_small(md_path, "checkpoint metadata", FL__CKPT_METADATA_MAX, &bytes, &len,
                            err) != 0)
        return NULL;
    fl_checkpoint_metadata *md = fl_checkpoint_metadata_decode(bytes, len, md_path, err);
    free(bytes);
    if (md == NULL) return NULL;
    bool verify = (flags & FL_CHECKPOINT_OPEN_QUICK) == 0;
    for (int o = 0; o < md->n_operators; o++) {
        const fl_checkpoint_operator *op = md->operators[o];
        for (int i = 0; i < op->parallelism; i++) {
            const fl_checkpoint_subtask *s = &op->subtasks[i];
            for (int k = 0; k < s->n_files; k++) {
                fl_error e = {0};
                if (load_file(dir, &s->files[k], verify, NULL, NULL, &e) != 0) {
                    fl_error_set(err, e.code, "%s \"%s\", operator \"%s\" subtask %d: %s",
                                 fl_checkpoint_kind_name(md->kind), dir, op->uid, i, e.message);
                    fl_checkpoint_metadata_destroy(md);
                    return NULL;
                }
            }
        }
    }
    fl_checkpoint_reader *r = fl_xcalloc(1, sizeof *r);
    r->dir = fl_xstrdup(dir);
    r->md = md;
    return r;
}

fl_checkpoint_reader *fl_checkpoint_reader_open_latest(const char *job_dir, unsigned flags,
                                                       fl_error *err) {
    fl__ckpt_entry *entries = NULL;
    int n = 0;
    if (fl__ckpt_scan(job_dir, &entries, &n, err) != 0) return NULL;
    char problems[FL_ERROR_MSG_MAX] = "";
    size_t used = 0;
    int incomplete = 0, broken = 0, broken_code = FL_EFORMAT;
    fl_checkpoint_reader *r = NULL;
    for (int i = n - 1; i >= 0 && r == NULL; i--) {
        char *dir = fl_xasprintf("%s/chk-%lld", job_dir, (long long)entries[i].id);
        if (!entries[i].complete) {
            incomplete++;
            fl_debug(FL__CKPT_LOG, "skipping incomplete checkpoint %s (no _metadata)", dir);
            free(dir);
            continue;
        }
        char *md_path = fl_xasprintf("%s/%s", dir, FL_CHECKPOINT_METADATA_FILE);
        fl_error e = {0};
        r = open_metadata(dir, md_path, flags, &e);
        if (r == NULL) {
            if (broken++ == 0) broken_code = e.code;
            fl_warn(FL__CKPT_LOG, "skipping unusable checkpoint %s: %s", dir, e.message);
            /* In the list, "chk-N: " already says which checkpoint. */
            char *lead = fl_xasprintf("checkpoint \"%s\", ", dir);
            const char *why = e.message;
            if (strncmp(why, lead, strlen(lead)) == 0) why += strlen(lead);
            free(lead);
            if (used < sizeof problems)
                used += (size_t)snprintf(problems + used, sizeof problems - used, "%schk-%lld: %s",
                                         used ? "; " : "", (long long)entries[i].id, why);
        } else if (broken > 0) {
            fl_warn(FL__CKPT_LOG, "restoring from the older checkpoint %s instead", dir);
        }
        free(md_path);
        free(dir);
    }
    free(entries);
    if (r != NULL) return r;
    if (broken > 0)
        fl_error_set(err, broken_code, "no usable checkpoint in \"%s\": %s", job_dir, problems);
    else if (incomplete > 0)
        fl_error_set(err, FL_ENOENT,
                     "no completed checkpoint in \"%s\" (%d incomplete: none has a _metadata file)",
                     job_dir, incomplete);
    else
        fl_error_set(err, FL_ENOENT, "no checkpoint in \"%s\"", job_dir);
    return NULL;
}

fl_checkpoint_reader *fl_checkpoint_reader_open(const char *path, unsigned flags, fl_error *err) {
    char why[128];
    if (path == NULL || path[0] == '\0') {
        fl_error_set(err, FL_EINVAL, "no checkpoint path given");
        return NULL;
    }
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    char *p = fl_xstrndup(path, n);
    fl_checkpoint_reader *r = NULL;
    struct stat st;
    if (stat(p, &st) != 0) {
        int e = errno;
        if (e == ENOENT)
            fl_error_set(err, FL_ENOENT,
                         "could not open checkpoint \"%s\": no such file or directory", p);
        else
            fl_error_set(err, FL_EIO, "could not open checkpoint \"%s\": %s", p,
                         fl_errno_text(e, why, sizeof why));
    } else if (S_ISREG(st.st_mode)) {
        /* A _metadata file: its directory is the checkpoint. */
        const char *slash = strrchr(p, '/');
        char *dir = slash == NULL ? fl_xstrdup(".")
                    : slash == p  ? fl_xstrdup("/")
                                  : fl_xstrndup(p, (size_t)(slash - p));
        r = open_metadata(dir, p, flags, err);
        free(dir);
    } else if (S_ISDIR(st.st_mode)) {
        char *md = fl_xasprintf("%s/%s", p, FL_CHECKPOINT_METADATA_FILE);
        char *tmp = fl_xasprintf("%s/%s", p, FL__CKPT_METADATA_TMP);
        const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
        fl__ckpt_entry *entries = NULL;
        int count = 0;
        int64_t id;
        if (access(md, F_OK) == 0) {
            r = open_metadata(p, md, flags, err);
        } else if (fl__ckpt_scan(p, &entries, &count, NULL) == 0 && count > 0) {
            r = fl_checkpoint_reader_open_latest(p, flags, err);
        } else if (access(tmp, F_OK) == 0 || fl__ckpt_parse_chk_name(base, &id)) {
            fl_error_set(err, FL_ENOENT,
                         "checkpoint \"%s\" is incomplete: it has no _metadata (it was "
                         "interrupted before it completed)",
                         p);
        } else {
            fl_error_set(err, FL_ENOENT,
                         "\"%s\" is not a checkpoint or savepoint: it has no _metadata (give a "
                         "chk-<id> or savepoint directory, its _metadata file, or a job's "
                         "checkpoint directory)",
                         p);
        }
        free(entries);
        free(md);
        free(tmp);
    } else {
        fl_error_set(err, FL_EINVAL, "could not open checkpoint \"%s\": not a file or directory",
                     p);
    }
    free(p);
    return r;
}

void fl_checkpoint_reader_close(fl_checkpoint_reader *r) {
    if (r == NULL) return;
    fl_checkpoint_metadata_destroy(r->md);
    free(r->dir);
    free(r);
}

const fl_checkpoint_metadata *fl_checkpoint_reader_metadata(const fl_checkpoint_reader *r) {
    return r->md;
}

const char *fl_checkpoint_reader_dir(const fl_checkpoint_reader *r) { return r->dir; }

int fl_checkpoint_reader_read(const fl_checkpoint_reader *r, const fl_state_file *f, void **data,
                              size_t *len, fl_error *err) {
    *data = NULL;
    *len = 0;
    return load_file(r->dir, f, true, data, len, err);
}
