/*
 * fs.c - the shared file system operations of fs.h: errno texts, mkdir -p,
 * rm -rf without following links, fsync of a directory, write-all, and
 * random hex names.
 *
 * The checkpoint storage and the file connectors may not depend on each
 * other, so what both need lives here; each wraps it in the messages its
 * users see.
 */
#include "fs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "mem.h"

#define REMOVE_DEPTH_MAX 32

const char *fl_errno_text(int e, char *buf, size_t size) {
    if (size == 0) return buf;
    /* The GNU strerror_r may return a static string instead of filling buf. */
    const char *msg = strerror_r(e, buf, size);
    if (msg != buf) snprintf(buf, size, "%s", msg);
    if (buf[0] != '\0' && isupper((unsigned char)buf[0]) &&
        !(buf[1] != '\0' && isupper((unsigned char)buf[1])))
        buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
}

bool fl_fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool fl_fs_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- creating and removing directories ------------------------------------------- */

int fl_fs_mkdirs(const char *path, mode_t mode, bool check_parents, size_t *failed) {
    size_t len = strlen(path);
    char *p = fl_xstrdup(path);
    int rc = 0;
    for (size_t i = 1; i <= len && rc == 0; i++) {
        if (i < len && p[i] != '/') continue;
        p[i] = '\0'; /* the prefix p[0, i) */
        if (mkdir(p, mode) != 0) {
            int e = errno;
            if (e != EEXIST)
                rc = -e;
            else if ((i == len || check_parents) && !fl_fs_is_dir(p))
                rc = -EEXIST;
        }
        if (rc != 0) *failed = i;
        if (i < len) p[i] = '/';
    }
    free(p);
    return rc;
}

/* Removes name (relative to the directory parent_fd) and everything under
 * it; returns 0 or -errno, and the path of the entry that failed in *failed
 * (new) for the first failure. */
static int remove_at(int parent_fd, const char *name, const char *shown, int depth, char **failed) {
    if (unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT) return 0;
    if (errno != EISDIR && errno != EPERM) {
        int e = errno;
        if (*failed == NULL) *failed = fl_xstrdup(shown);
        return -e;
    }
    if (depth >= REMOVE_DEPTH_MAX) {
        if (*failed == NULL) *failed = fl_xstrdup(shown);
        return -ELOOP;
    }
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) return 0;
        if (*failed == NULL) *failed = fl_xstrdup(shown);
        return -e;
    }
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        if (*failed == NULL) *failed = fl_xstrdup(shown);
        return -e;
    }
    int rc = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
        char *child = fl_xasprintf("%s/%s", shown, ent->d_name);
        int r = remove_at(dirfd(d), ent->d_name, child, depth + 1, failed);
        free(child);
        if (r != 0 && rc == 0) rc = r;
    }
    closedir(d);
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT && rc == 0) {
        rc = -errno;
        if (*failed == NULL) *failed = fl_xstrdup(shown);
    }
    return rc;
}

int fl_fs_remove_tree(const char *path, fl_error *err) {
    char *failed = NULL;
    int r = remove_at(AT_FDCWD, path, path, 0, &failed);
    if (r == 0) return 0;
    char why[128];
    int rc = fl_error_set(err, FL_EIO, "could not delete \"%s\": \"%s\": %s", path,
                          failed ? failed : path, fl_errno_text(-r, why, sizeof why));
    free(failed);
    return rc;
}

int fl_fs_sync_dir(const char *path, fl_error *err) {
    char why[128];
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fl_error_set(err, FL_EIO, "could not open directory \"%s\": %s", path,
                            fl_errno_text(errno, why, sizeof why));
    int rc = 0;
    /* Some file systems cannot fsync a directory (EINVAL): nothing to do. */
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = fl_error_set(err, FL_EIO, "could not sync directory \"%s\": %s", path,
                          fl_errno_text(errno, why, sizeof why));
    close(fd);
    return rc;
}

/* ---- files ----------------------------------------------------------------------- */

int fl_fs_write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

void fl_fs_random_hex(char *out, int n) {
    static const char digits[] = "0123456789abcdef";
    unsigned char bytes[64];
    int need = (n + 1) / 2;
    if (need > (int)sizeof bytes) need = (int)sizeof bytes;
    ssize_t got = getrandom(bytes, (size_t)need, GRND_NONBLOCK);
    if (got != need) {
        /* No entropy yet (early boot): the time and address still differ
         * between two calls, which is all a name needs. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t seed[3] = {(uint64_t)ts.tv_sec, (uint64_t)ts.tv_nsec, (uint64_t)(uintptr_t)out};
        for (int i = 0; i < need; i++) {
            seed[2] += (uint64_t)i;
            bytes[i] = (unsigned char)(fl_hash_bytes(seed, sizeof seed) >> 8);
        }
    }
    for (int i = 0; i < n && i / 2 < need; i++)
        out[i] = digits[(i % 2 == 0 ? bytes[i / 2] >> 4 : bytes[i / 2]) & 15];
    out[n < 2 * need ? n : 2 * need] = '\0';
}
