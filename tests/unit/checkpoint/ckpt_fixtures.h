/*
 * ckpt_fixtures.h - helpers shared by the checkpoint storage tests: a
 * temporary directory per test (removed with nftw, independently of the
 * module's own deletion code), a configuration pointing into it, state file
 * contents generated from a seed (so the expected bytes are regenerated, not
 * remembered), writing a whole state file, damaging files, and capturing the
 * log to check warnings.
 */
#ifndef FL_TEST_CKPT_FIXTURES_H
#define FL_TEST_CKPT_FIXTURES_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "storage.h"

#define TEST_JOB_ID "0123456789abcdef0123456789abcdef"

typedef struct test_dir {
    char root[64];
    char path[512]; /* scratch for join() */
} test_dir;

static inline int test_dir_make(test_dir *t) {
    snprintf(t->root, sizeof t->root, "/tmp/flinc-ckpt-XXXXXX");
    return mkdtemp(t->root) == NULL ? -1 : 0;
}

static inline int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void rm_rf(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static inline void test_dir_remove(test_dir *t) {
    /* A test may have made something unwritable: give it back first. */
    chmod(t->root, 0755);
    rm_rf(t->root);
}

/* cmocka set-up and tear-down: a fresh test_dir in *state per test. */
static inline int test_dir_setup(void **state) {
    test_dir *t = calloc(1, sizeof *t);
    if (!t || test_dir_make(t) != 0) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static inline int test_dir_teardown(void **state) {
    test_dir *t = *state;
    test_dir_remove(t);
    free(t);
    return 0;
}

/* root/rel in a static buffer of t (valid until the next call). */
static inline const char *join(test_dir *t, const char *rel) {
    snprintf(t->path, sizeof t->path, "%s/%s", t->root, rel);
    return t->path;
}

static inline int path_exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

static inline int dir_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Number of entries (without . and ..) in a directory, -1 if missing. */
static inline int count_entries(const char *p) {
    DIR *d = opendir(p);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static inline void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) return;
    fputs(text, f);
    fclose(f);
}

static inline char *read_text(const char *path, size_t *len) {
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    if (len) *len = got;
    return buf;
}

/* Flips the bits of one byte of a file. */
static inline void flip_byte(const char *path, long offset) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return;
    unsigned char c;
    if (pread(fd, &c, 1, offset) == 1) {
        c ^= 0xff;
        if (pwrite(fd, &c, 1, offset) != 1) c = 0;
    }
    close(fd);
}

static inline long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ---- configuration --------------------------------------------------------------------------- */

static inline fl_config *test_config(test_dir *t, int num_retained, const char *retention) {
    fl_config *c = fl_config_create();
    char buf[600];
    snprintf(buf, sizeof buf, "%s/checkpoints", t->root);
    fl_config_set(c, FL_CONF_CHECKPOINTS_DIR, buf);
    snprintf(buf, sizeof buf, "%s/savepoints", t->root);
    fl_config_set(c, FL_CONF_SAVEPOINTS_DIR, buf);
    if (num_retained > 0) {
        snprintf(buf, sizeof buf, "%d", num_retained);
        fl_config_set(c, FL_CONF_NUM_RETAINED, buf);
    }
    if (retention) fl_config_set(c, FL_CONF_CHECKPOINT_RETENTION, retention);
    return c;
}

/* ---- state file contents --------------------------------------------------------------------- */

/* xorshift64*: the same bytes for the same seed everywhere. */
static inline uint64_t rng_step(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/* The bytes of a state file identified by seed: size from the seed too
 * (0 to ~200 KiB, so some files are empty and some cross the writer's
 * 64 KiB buffer). *len is set; returns new. */
static inline unsigned char *content_for(uint64_t seed, size_t *len) {
    uint64_t s = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
    size_t n = (size_t)(rng_step(&s) % 5 == 0 ? 0 : rng_step(&s) % 200000);
    unsigned char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(rng_step(&s) >> 56);
    *len = n;
    return b;
}

/* Writes content_for(seed) through a state file writer in uneven chunks;
 * returns 0 and fills *out, or the error. */
static inline int write_state(fl_checkpoint_writer *w, const char *uid, int subtask,
                              const char *role, uint64_t seed, fl_state_file *out, fl_error *err) {
    fl_state_file_writer *f = fl_checkpoint_writer_open_file(w, uid, subtask, role, err);
    if (f == NULL) return err ? err->code : -1;
    size_t len;
    unsigned char *b = content_for(seed, &len);
    uint64_t s = seed + 7;
    size_t off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        size_t chunk = (size_t)(rng_step(&s) % 70000) + 1;
        if (chunk > len - off) chunk = len - off;
        rc = fl_state_file_writer_write(f, b + off, chunk);
        off += chunk;
    }
    free(b);
    return fl_state_file_writer_close(f, out, err);
}

/* ---- log capture ----------------------------------------------------------------------------- */

static inline void log_to(test_dir *t) {
    char p[600];
    snprintf(p, sizeof p, "%s/test.log", t->root);
    unlink(p);
    fl_log_set_file(p, NULL);
}

/* The captured log (new), and the log back to stderr. */
static inline char *log_take(test_dir *t) {
    char p[600];
    snprintf(p, sizeof p, "%s/test.log", t->root);
    fl_log_set_file(NULL, NULL);
    char *s = read_text(p, NULL);
    unlink(p);
    return s ? s : strdup("");
}

#endif
