/*
 * checkpoint_int.h - what the files of src/checkpoint share and nothing
 * outside it sees: file system helpers (fs_util.c, on top of core/fs.h),
 * the scan of a job's checkpoint directory, name rules, and the hand-over
 * between the storage (storage.c) and the writer of one checkpoint
 * (writer.c).
 */
#ifndef FL_CHECKPOINT_INT_H
#define FL_CHECKPOINT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "storage.h"

#define FL__CKPT_LOG             "checkpoint"
#define FL__CKPT_METADATA_TMP    "_metadata.inprogress"
#define FL__CKPT_CHECKSUM_PREFIX "xxh64:"
#define FL__CKPT_ROLE_MAX        32
#define FL__CKPT_JOB_ID_MAX      64
#define FL__CKPT_METADATA_MAX    ((size_t)64 << 20) /* a _metadata larger than this is garbage */

/* ---- fs_util.c ------------------------------------------------------------------------------- */

/* The operations other modules share (errno texts, rm -rf, fsync of a
 * directory, write-all, random names) are core/fs.h's. */

/* mkdir -p. `what` names the directory in messages ("checkpoint directory").
 * 0 or FL_EIO (`could not create <what> "path": "prefix" is not a directory`). */
int fl__ckpt_mkdirs(const char *path, const char *what, fl_error *err);
/* Writes dir/name atomically: dir/name.inprogress, fsync, rename, fsync dir.
 * 0 or FL_EIO; the temp file is removed on failure. */
int fl__ckpt_write_atomic(const char *dir, const char *name, const void *p, size_t n,
                          fl_error *err);
/* Reads a whole small file (at most max bytes, else FL_EFORMAT). *data is new
 * and NUL-terminated. FL_ENOENT, FL_EIO naming `what` and path. */
int fl__ckpt_read_small(const char *path, const char *what, size_t max, char **data, size_t *len,
                        fl_error *err);

/* ---- names ----------------------------------------------------------------------------------- */

bool fl__ckpt_valid_job_id(const char *s); /* [A-Za-z0-9_-]{1,64} */
bool fl__ckpt_valid_role(const char *s);   /* [a-z0-9-]{1,32} */
/* A state file path as the metadata may hold it: relative, components
 * non-empty, none "." or "..", none starting with '_' (reserved for the
 * storage's own files), no control characters, at most 1024 bytes. */
bool fl__ckpt_valid_rel_path(const char *s);
/* "chk-<digits>" -> 1 and *id (>= 1); anything else 0. */
int fl__ckpt_parse_chk_name(const char *name, int64_t *id);

/* One chk-<id> directory of a job's checkpoint directory. */
typedef struct fl__ckpt_entry {
    int64_t id;
    bool complete; /* holds a _metadata file */
} fl__ckpt_entry;

/* The chk-<id> directories of job_dir, ascending by id (*out new, free()).
 * FL_ENOENT / FL_EIO naming job_dir. */
int fl__ckpt_scan(const char *job_dir, fl__ckpt_entry **out, int *n, fl_error *err);

/* ---- storage <-> writer ---------------------------------------------------------------------- */

/* A writer for a directory that begin() has just created (takes dir). */
fl_checkpoint_writer *fl__ckpt_writer_create(fl_checkpoint_storage *s, int64_t id,
                                             fl_checkpoint_kind kind, const char *job_id,
                                             char *dir);
/* Checkpoint id has completed: retain it, delete the oldest beyond
 * num-retained. Called by complete() after _metadata is durable. */
void fl__ckpt_storage_completed(fl_checkpoint_storage *s, int64_t id);

#endif
