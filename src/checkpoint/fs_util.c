/*
 * fs_util.c - the file system operations checkpoint storage is built from,
 * beyond the shared ones of core/fs.h: mkdir -p with the storage's messages,
 * the atomic write of a small file, the read of one, the scan of a job's
 * chk-<id> directories, and the name rules that keep a path read from
 * metadata inside its checkpoint directory.
 *
 * Every failure becomes one message naming the path and the cause, lower
 * case (flinc/error.h). Nothing here keeps state, so all of it is safe from
 * any thread.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_int.h"
#include "mem.h"

/* mkdir -p with the storage's messages. */
int fl__ckpt_mkdirs(const char *path, const char *what, fl_error *err) {
    if (path[0] == '\0')
        return fl_error_set(err, FL_EINVAL, "could not create %s: the path is empty", what);
    size_t at = 0;
    int r = fl_fs_mkdirs(path, 0755, true, &at);
    if (r == 0) return 0;
    if (r == -EEXIST)
        return fl_error_set(err, FL_EIO, "could not create %s \"%s\": \"%.*s\" is not a directory",
                            what, path, (int)at, path);
    if (r == -ENOTDIR)
        return fl_error_set(err, FL_EIO,
                            "could not create %s \"%s\": a part of \"%.*s\" is not a directory",
                            what, path, (int)at, path);
    char why[128];
    return fl_error_set(err, FL_EIO, "could not create %s \"%s\": %s", what, path,
                        fl_errno_text(-r, why, sizeof why));
}

/* ---- whole files ----------------------------------------------------------------------------- */

int fl__ckpt_write_atomic(const char *dir, const char *name, const void *p, size_t n,
                          fl_error *err) {
    char why[128];
    char *tmp = fl_xasprintf("%s/%s.inprogress", dir, name);
    char *final = fl_xasprintf("%s/%s", dir, name);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = fl_error_set(err, FL_EIO, "could not create \"%s\": %s", tmp,
                          fl_errno_text(errno, why, sizeof why));
        goto done;
    }
    int w = fl_fs_write_all(fd, p, n);
    if (w == 0 && fsync(fd) != 0) w = -errno;
    if (close(fd) != 0 && w == 0) w = -errno;
    if (w != 0) {
        rc = fl_error_set(err, FL_EIO, "could not write \"%s\": %s", tmp,
                          fl_errno_text(-w, why, sizeof why));
        unlink(tmp);
        goto done;
    }
    /* The commit point: before the rename there is no `final`, after it the
     * whole file. */
    if (rename(tmp, final) != 0) {
        rc = fl_error_set(err, FL_EIO, "could not rename \"%s\" to \"%s\": %s", tmp, final,
                          fl_errno_text(errno, why, sizeof why));
        unlink(tmp);
        goto done;
    }
    rc = fl_fs_sync_dir(dir, err);
done:
    free(tmp);
    free(final);
    return rc;
}

int fl__ckpt_read_small(const char *path, const char *what, size_t max, char **data, size_t *len,
                        fl_error *err) {
    char why[128];
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return fl_error_set(err, FL_ENOENT, "%s \"%s\" does not exist", what, path);
        return fl_error_set(err, FL_EIO, "could not open %s \"%s\": %s", what, path,
                            fl_errno_text(e, why, sizeof why));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = fl_error_set(err, FL_EIO, "could not read %s \"%s\": %s", what, path,
                          fl_errno_text(errno, why, sizeof why));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = fl_error_set(err, FL_EIO, "could not read %s \"%s\": not a regular file", what, path);
        goto done;
    }
    if ((uint64_t)st.st_size > max) {
        rc = fl_error_set(err, FL_EFORMAT, "%s \"%s\" is corrupted: %lld bytes is too large", what,
                          path, (long long)st.st_size);
        goto done;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    char *buf = fl_xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            /* The file may have grown since fstat: look for more, bounded. */
            if (cap >= max) break;
            cap = cap * 2 + 4096 < max ? cap * 2 + 4096 : max;
            buf = fl_xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = fl_error_set(err, FL_EIO, "could not read %s \"%s\": %s", what, path,
                              fl_errno_text(errno, why, sizeof why));
            free(buf);
            goto done;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
done:
    close(fd);
    return rc;
}

/* ---- names ----------------------------------------------------------------------------------- */

bool fl__ckpt_valid_job_id(const char *s) {
    if (s == NULL || s[0] == '\0' || strlen(s) > FL__CKPT_JOB_ID_MAX) return false;
    for (const char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-') return false;
    return true;
}

bool fl__ckpt_valid_role(const char *s) {
    if (s == NULL || s[0] == '\0' || strlen(s) > FL__CKPT_ROLE_MAX) return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) return false;
    return true;
}

bool fl__ckpt_valid_rel_path(const char *s) {
    if (s == NULL || s[0] == '\0' || s[0] == '/' || strlen(s) > 1024) return false;
    const char *c = s;
    while (*c != '\0') {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 0 || c[0] == '_') return false;
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f) return false;
        if (end == NULL) break;
        c = end + 1;
        if (*c == '\0') return false; /* trailing '/' */
    }
    return true;
}

int fl__ckpt_parse_chk_name(const char *name, int64_t *id) {
    if (strncmp(name, "chk-", 4) != 0 || name[4] == '\0') return 0;
    int64_t v = 0;
    for (const char *c = name + 4; *c; c++) {
        if (*c < '0' || *c > '9') return 0;
        if (v > (INT64_MAX - 9) / 10) return 0;
        v = v * 10 + (*c - '0');
    }
    if (v < 1) return 0;
    *id = v;
    return 1;
}

static int cmp_entry(const void *a, const void *b) {
    int64_t x = ((const fl__ckpt_entry *)a)->id, y = ((const fl__ckpt_entry *)b)->id;
    return x < y ? -1 : x > y;
}

int fl__ckpt_scan(const char *job_dir, fl__ckpt_entry **out, int *n, fl_error *err) {
    char why[128];
    *out = NULL;
    *n = 0;
    DIR *d = opendir(job_dir);
    if (d == NULL) {
        int e = errno;
        if (e == ENOENT)
            return fl_error_set(err, FL_ENOENT,
                                "could not open checkpoint directory \"%s\": no such directory",
                                job_dir);
        return fl_error_set(err, FL_EIO, "could not open checkpoint directory \"%s\": %s", job_dir,
                            fl_errno_text(e, why, sizeof why));
    }
    fl__ckpt_entry *v = NULL;
    int count = 0, cap = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        int64_t id;
        if (!fl__ckpt_parse_chk_name(ent->d_name, &id)) continue;
        char *dir = fl_xasprintf("%s/%s", job_dir, ent->d_name);
        if (fl_fs_is_dir(dir)) {
            char *md = fl_xasprintf("%s/%s", dir, FL_CHECKPOINT_METADATA_FILE);
            if (count == cap) {
                cap = cap ? cap * 2 : 16;
                v = fl_xrealloc(v, (size_t)cap * sizeof *v);
            }
            v[count].id = id;
            v[count].complete = fl_fs_is_file(md);
            count++;
            free(md);
        }
        free(dir);
    }
    closedir(d);
    if (count > 1) qsort(v, (size_t)count, sizeof *v, cmp_entry);
    *out = v;
    *n = count;
    return 0;
}
