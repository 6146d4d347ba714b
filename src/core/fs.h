/*
 * fs.h - the few file system operations several modules build on (the
 * checkpoint storage, the file connectors, the configuration loader, the
 * mini-cluster): errno texts in flinc's message style, mkdir -p, rm -rf
 * without following links, fsync of a directory, write(2) until done, and
 * random names for new files and directories.
 *
 * Each caller words its own messages; where a function fills an fl_error the
 * message is the one every caller shares. Nothing here keeps state, so all
 * of it is safe from any thread.
 */
#ifndef FL_CORE_FS_H
#define FL_CORE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "flinc/error.h"

/* strerror(e) with a lower-case first letter (unless the text starts with an
 * acronym), written into buf; returns buf. Thread-safe. */
const char *fl_errno_text(int e, char *buf, size_t size);

bool fl_fs_is_dir(const char *path);  /* follows links */
bool fl_fs_is_file(const char *path); /* a regular file; follows links */

/* mkdir -p: makes every prefix of path that ends before a '/' (the root
 * aside), then path itself, each with mode; prefixes that are directories
 * already are fine. Returns 0, or -errno for the first prefix that could not
 * be made, its length in *failed. A prefix that exists but is not a
 * directory is -EEXIST: every prefix when check_parents, else only path
 * itself (a file among the parents then fails the next mkdir, -ENOTDIR). */
int fl_fs_mkdirs(const char *path, mode_t mode, bool check_parents, size_t *failed);

/* rm -rf that never follows symbolic links; a missing path is fine. 0 or
 * FL_EIO `could not delete "path": "entry": <cause>` naming the first entry
 * that could not be removed. err may be NULL. */
int fl_fs_remove_tree(const char *path, fl_error *err);

/* fsync of a directory, so that the entries in it (creations, renames,
 * deletions) are durable. 0 or FL_EIO `could not open directory "path": ...`
 * / `could not sync directory "path": ...`. */
int fl_fs_sync_dir(const char *path, fl_error *err);

/* write(2) until all n bytes are written (EINTR retried). 0 or -errno. */
int fl_fs_write_all(int fd, const void *p, size_t n);

/* n random lower-case hex digits and a NUL into out[n + 1] (at most 128
 * digits); for names of new files and directories, not for secrets. */
void fl_fs_random_hex(char *out, int n);

#endif
