/*
 * storage.h - checkpoint and savepoint storage on a file system directory:
 * the contract between the runtime's checkpoint coordinator and the disk.
 *
 * Layout (Flink's):
 *
 *     <execution.checkpointing.dir>/<job-id>/chk-<id>/_metadata
 *                                                    /op-<uid>-<subtask>-<role>-<n>
 *     <execution.checkpointing.savepoint-dir>/savepoint-<job-id[0..6]>-<12 hex>/...
 *
 * One directory per checkpoint, one file per state handle, and `_metadata`
 * written last and atomically (temp name, fsync, rename, fsync directory):
 * a directory without `_metadata` is an incomplete checkpoint and is never
 * taken for a complete one. `_metadata` is JSON that names every state file
 * by a path relative to its own directory, with its size and xxh64 checksum,
 * so a checkpoint or savepoint directory can be moved as a whole, and a
 * truncated or corrupted file is found before its bytes are used.
 *
 * Flow: fl_checkpoint_storage_begin -> every subtask (its own thread)
 * fl_checkpoint_writer_open_file / _write / _close -> the coordinator builds
 * an fl_checkpoint_metadata from the returned fl_state_file handles ->
 * fl_checkpoint_writer_complete (or _abort). Restore: fl_checkpoint_reader_open
 * (a chk-N or savepoint directory, a _metadata file, or a job's checkpoint
 * directory, whose latest usable checkpoint is taken) -> metadata ->
 * fl_checkpoint_reader_read per file.
 *
 * Errors follow flinc/error.h: FL_ENOENT (missing), FL_EIO (the system call
 * failed), FL_EFORMAT (truncated or corrupted bytes), FL_ECONFIG (bad
 * option), FL_ESTATE / FL_EINVAL (the caller broke the contract).
 */
#ifndef FL_CHECKPOINT_STORAGE_H
#define FL_CHECKPOINT_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "flinc/error.h"
#include "kv.h"

/* ---- configuration --------------------------------------------------------------------------- */

/* Flink's current keys; each older name in parentheses is read when the
 * current one is unset (Flink 1.x configurations keep working). An empty
 * value counts as unset:
 *   checkpoints dir    (state.checkpoints.dir, state.backend.fs.checkpointdir), unset: none
 *   savepoints dir     (state.savepoints.dir, savepoints.state.backend.fs.dir), unset: none
 *   num-retained       (state.checkpoints.num-retained), default 1
 *   create-subdir      (state.checkpoints.create-subdir), default true: <dir>/<job-id>/
 *   retention          NO_EXTERNALIZED_CHECKPOINTS (default) | DELETE_ON_CANCELLATION |
 *                      RETAIN_ON_CANCELLATION */
#define FL_CONF_CHECKPOINTS_DIR      "execution.checkpointing.dir"
#define FL_CONF_SAVEPOINTS_DIR       "execution.checkpointing.savepoint-dir"
#define FL_CONF_NUM_RETAINED         "execution.checkpointing.num-retained"
#define FL_CONF_CREATE_SUBDIR        "execution.checkpointing.create-subdir"
#define FL_CONF_CHECKPOINT_RETENTION "execution.checkpointing.externalized-checkpoint-retention"

#define FL_CHECKPOINT_METADATA_FILE "_metadata"

/* The value of option `key` (one of the FL_CONF_* keys above; any other key
 * is read alone), else of the first of its older names that is set: the one
 * lookup for every module that asks whether checkpoints or savepoints have a
 * directory. Borrowed from conf, or NULL when none is set (an empty value is
 * unset). *which, unless NULL, names the key the value came from (`key` when
 * none). */
const char *fl_checkpoint_config_get(const fl_config *conf, const char *key, const char **which);

/* What happens to the retained checkpoints when the job ends (Flink's
 * ExternalizedCheckpointRetention). The default is Flink's:
 * NO_EXTERNALIZED_CHECKPOINTS. */
typedef enum fl_checkpoint_retention {
    FL_RETAIN_NO_EXTERNALIZED = 0,    /* deleted whenever the job ends (finished, canceled,
                                         failed, suspended) */
    FL_RETAIN_DELETE_ON_CANCELLATION, /* kept when the job fails or is suspended */
    FL_RETAIN_ON_CANCELLATION,        /* kept whenever the job ends */
} fl_checkpoint_retention;

/* "NO_EXTERNALIZED_CHECKPOINTS", "DELETE_ON_CANCELLATION", "RETAIN_ON_CANCELLATION";
 * parse is case-insensitive. 0 or FL_ECONFIG. */
const char *fl_checkpoint_retention_name(fl_checkpoint_retention r);
int fl_checkpoint_retention_parse(const char *s, fl_checkpoint_retention *out);

typedef enum fl_checkpoint_kind {
    FL_CHECKPOINT = 0, /* periodic, retained/subsumed by the storage */
    FL_SAVEPOINT,      /* on request, in a directory of its own, never deleted by flinc */
} fl_checkpoint_kind;

const char *fl_checkpoint_kind_name(fl_checkpoint_kind k); /* "checkpoint", "savepoint" */

/* ---- metadata: what a completed checkpoint holds --------------------------------------------- */

/* Well-known roles of a state file (any [a-z0-9-]{1,32} is accepted). */
#define FL_STATE_ROLE_KEYED     "keyed"             /* keyed state and timers */
#define FL_STATE_ROLE_OPERATOR  "operator"          /* operator (list) state */
#define FL_STATE_ROLE_SOURCE    "source"            /* source splits and positions */
#define FL_STATE_ROLE_SINK_TXN  "sink-transactions" /* pending two-phase commits */
#define FL_STATE_ROLE_CHANNEL   "channel-state"     /* in-flight data (unaligned) */
#define FL_STATE_ROLE_BROADCAST "broadcast"         /* an instance's copy of broadcast state */

/* One state file: a handle the metadata records. Owns its strings. */
typedef struct fl_state_file {
    char *path;        /* relative to the checkpoint directory */
    char *role;        /* FL_STATE_ROLE_* or another [a-z0-9-] name */
    uint64_t size;     /* bytes */
    uint64_t checksum; /* XXH64 (seed 0) of the bytes */
} fl_state_file;

void fl_state_file_fini(fl_state_file *f); /* frees the strings; f may be NULL */

/* One subtask of an operator at snapshot time. */
typedef struct fl_checkpoint_subtask {
    int index;                           /* 0..parallelism-1 */
    int key_group_first, key_group_last; /* inclusive; Flink's range for index */
    int n_files;
    fl_state_file *files;
    fl_kv *values; /* small inline key/values (never NULL), e.g. a source's
                      position; binary values go base64 (fl_base64_encode) */
} fl_checkpoint_subtask;

typedef struct fl_checkpoint_operator {
    char *uid;  /* fl_stream_node.uid: what a restore matches operators by */
    char *name; /* display name or NULL */
    int parallelism, max_parallelism;
    fl_checkpoint_subtask *subtasks; /* [parallelism] */
} fl_checkpoint_operator;

typedef struct fl_checkpoint_metadata {
    int64_t checkpoint_id; /* >= 1 */
    fl_checkpoint_kind kind;
    char *job_id;         /* [A-Za-z0-9_-]{1,64} */
    char *job_name;       /* or NULL */
    int64_t timestamp_ms; /* when the checkpoint was triggered */
    int n_operators;
    fl_checkpoint_operator **operators;
} fl_checkpoint_metadata;

/* Builds metadata (returns new); the coordinator fills it from the subtasks'
 * acknowledgements in one thread (not thread-safe). Strings are copied. */
fl_checkpoint_metadata *fl_checkpoint_metadata_create(int64_t checkpoint_id,
                                                      fl_checkpoint_kind kind, const char *job_id,
                                                      const char *job_name, int64_t timestamp_ms);
void fl_checkpoint_metadata_destroy(fl_checkpoint_metadata *md); /* NULL is fine */

/* Adds an operator with `parallelism` empty subtasks whose key-group ranges
 * are Flink's (fl_key_group_range). Returns it (owned by md), or NULL with
 * FL_EINVAL: empty or duplicate uid, parallelism outside 1..max_parallelism,
 * max_parallelism outside 1..32768. */
fl_checkpoint_operator *fl_checkpoint_metadata_add_operator(fl_checkpoint_metadata *md,
                                                            const char *uid, const char *name,
                                                            int parallelism, int max_parallelism,
                                                            fl_error *err);
/* Appends a copy of f to the subtask's files. */
void fl_checkpoint_subtask_add_file(fl_checkpoint_subtask *s, const fl_state_file *f);

/* The operator with this uid, or NULL (borrowed; writable through a
 * metadata the caller owns, as strchr's result is). */
fl_checkpoint_operator *fl_checkpoint_metadata_find(const fl_checkpoint_metadata *md,
                                                    const char *uid);

/* Checks everything a reader relies on: id >= 1, a valid job id, unique
 * non-empty uids, parallelisms, one subtask per index with a key-group range
 * inside 0..max_parallelism-1, safe relative file paths (no "..", not
 * absolute, no component starting with '_', which the storage
 * reserves), each referenced once, valid roles, UTF-8 strings. 0 or
 * FL_EFORMAT naming the field, e.g. `operators[1].subtasks[0].files[2].path`. */
int fl_checkpoint_metadata_validate(const fl_checkpoint_metadata *md, fl_error *err);

/* The bytes of a _metadata file (returns new, NUL-terminated, *len set):
 *     {"format": "flinc-checkpoint-metadata", "version": 1,
 *      "checksum": "xxh64:<16 hex>", "checkpoint":\n<body>\n}\n
 * where the checksum is XXH64 of <body>'s bytes. The whole is one JSON
 * document; md must be valid. */
char *fl_checkpoint_metadata_encode(const fl_checkpoint_metadata *md, size_t *len);
/* Reads and validates those bytes (returns new). `where` names the file in
 * messages. NULL with FL_EFORMAT (empty, truncated, checksum mismatch, a
 * field wrong) or FL_EUNSUPPORTED (a newer format version). */
fl_checkpoint_metadata *fl_checkpoint_metadata_decode(const void *bytes, size_t len,
                                                      const char *where, fl_error *err);

/* ---- storage: one job's checkpoints ---------------------------------------------------------- */

typedef struct fl_checkpoint_storage fl_checkpoint_storage;
typedef struct fl_checkpoint_writer fl_checkpoint_writer;
typedef struct fl_state_file_writer fl_state_file_writer;

/* Storage for job `job_id` ([A-Za-z0-9_-]{1,64}, e.g. 32 hex digits) from
 * the configuration keys above (a "file://" URI or a plain path; other
 * schemes are FL_EUNSUPPORTED). Creates <checkpoints dir>/<job-id>/ when a
 * checkpoints directory is configured and adopts the complete checkpoints
 * already in it (a restarted job with the same id keeps retaining and
 * numbering after them). Returns new, or NULL with FL_ECONFIG (bad value),
 * FL_EIO (the directory cannot be created: names the path and the cause). */
fl_checkpoint_storage *fl_checkpoint_storage_create(const fl_config *conf, const char *job_id,
                                                    fl_error *err);
/* Frees the storage; deletes nothing (see fl_checkpoint_storage_job_ended).
 * Every writer must be completed or aborted first. NULL is fine. */
void fl_checkpoint_storage_destroy(fl_checkpoint_storage *s);

/* <checkpoints dir>/<job-id> (borrowed), or NULL without a checkpoints dir. */
const char *fl_checkpoint_storage_job_dir(const fl_checkpoint_storage *s);
int fl_checkpoint_storage_num_retained(const fl_checkpoint_storage *s);
fl_checkpoint_retention fl_checkpoint_storage_retention(const fl_checkpoint_storage *s);
/* The highest checkpoint id begun or found on disk (complete or not), 0 when
 * none: the coordinator numbers its next checkpoint after it. */
int64_t fl_checkpoint_storage_max_id(const fl_checkpoint_storage *s);
/* Ids of the retained complete checkpoints, oldest first, into ids[0..max);
 * returns how many there are. */
int fl_checkpoint_storage_retained(const fl_checkpoint_storage *s, int64_t *ids, int max);

/* Starts checkpoint or savepoint `id` and creates its directory. A
 * checkpoint goes to <job dir>/chk-<id> (an incomplete leftover of the same
 * id is removed first; a complete one is FL_ESTATE, as is an id not newer
 * than the newest retained checkpoint). A savepoint goes to a new
 * savepoint-<job-id[0..6]>-<random> under `savepoint_parent`, or under the
 * configured savepoint directory when that is NULL (neither: FL_ECONFIG).
 * Returns a new writer (thread-safe), or NULL with the error. */
fl_checkpoint_writer *fl_checkpoint_storage_begin(fl_checkpoint_storage *s, int64_t id,
                                                  fl_checkpoint_kind kind,
                                                  const char *savepoint_parent, fl_error *err);

/* How a job ended, for fl_checkpoint_storage_job_ended. */
typedef enum fl_job_end {
    FL_JOB_END_FINISHED = 0,
    FL_JOB_END_CANCELED,
    FL_JOB_END_FAILED,    /* terminally: no more restarts */
    FL_JOB_END_SUSPENDED, /* the cluster shut down under it */
} fl_job_end;

/* Applies the retention policy when the job ends: deletes every checkpoint
 * of the job directory (and the directory when it is then empty), or keeps
 * the retained ones and logs where they are. Savepoints are never touched.
 * Call once no writer is in progress. 0, or FL_EIO naming what could not be
 * deleted (the rest is still deleted). */
int fl_checkpoint_storage_job_ended(fl_checkpoint_storage *s, fl_job_end how, fl_error *err);

/* ---- writing one checkpoint ------------------------------------------------------------------ */

int64_t fl_checkpoint_writer_id(const fl_checkpoint_writer *w);
fl_checkpoint_kind fl_checkpoint_writer_kind(const fl_checkpoint_writer *w);
const char *fl_checkpoint_writer_dir(const fl_checkpoint_writer *w); /* borrowed */

/* Opens a new state file for subtask `subtask` of operator `uid` in the role
 * `role` ([a-z0-9-]{1,32}); any thread, concurrently. Each call makes a new
 * file, so a subtask may write several of one role. Returns new, or NULL
 * with FL_EINVAL (bad role), FL_ECANCELED (the checkpoint was aborted),
 * FL_ESTATE (it is being completed) or FL_EIO. */
fl_state_file_writer *fl_checkpoint_writer_open_file(fl_checkpoint_writer *w, const char *uid,
                                                     int subtask, const char *role, fl_error *err);

/* Appends bytes (buffered; the checksum is computed as they pass). Returns
 * 0 or a negative code; the first error is kept and reported in full by
 * _close. After an abort: FL_ECANCELED. */
int fl_state_file_writer_write(fl_state_file_writer *f, const void *p, size_t n);
/* The same with the state module's fl_snapshot_write_fn signature, so a
 * snapshot can be written straight into a file: pass it with the writer
 * as arg. */
int fl_state_file_writer_sink(void *f, const void *p, size_t n);
/* Flushes, fsyncs and closes the file (takes f). On success fills *out
 * (caller owns it: fl_state_file_fini) with the relative path, role, size and
 * checksum to put into the metadata. On failure the file is removed and the
 * first error is returned. */
int fl_state_file_writer_close(fl_state_file_writer *f, fl_state_file *out, fl_error *err);
/* Gives up a file (error path; takes f): closed and removed. */
void fl_state_file_writer_discard(fl_state_file_writer *f);

/* Completes the checkpoint (takes w): checks md (valid, same id, kind and
 * job id, every file it names written and closed by this writer with the
 * same size and checksum), fsyncs the directory, writes _metadata atomically
 * (temp name, fsync, rename, fsync directory), then, for a checkpoint,
 * retains it and deletes the oldest beyond num-retained. Every state file
 * must be closed first (else FL_ESTATE). On any failure the checkpoint is
 * aborted (its directory removed) and the error returned. */
int fl_checkpoint_writer_complete(fl_checkpoint_writer *w, const fl_checkpoint_metadata *md,
                                  fl_error *err);
/* Abandons the checkpoint (takes w): its directory is removed at once, or,
 * when subtasks still have files open, by the last of them to close (their
 * writes then fail with FL_ECANCELED), so the coordinator need not wait. */
void fl_checkpoint_writer_abort(fl_checkpoint_writer *w);

/* ---- reading (restore, flinc run -s) --------------------------------------------------------- */

typedef struct fl_checkpoint_reader fl_checkpoint_reader;

enum {
    /* Open checks that every state file exists with its recorded size but
     * does not read it; the checksum is then verified by each read only
     * (a bad file is found later, and no fallback to an older checkpoint
     * happens for it). Default: every file is read and checksummed. */
    FL_CHECKPOINT_OPEN_QUICK = 1,
};

/* Opens a complete checkpoint or savepoint for restoring. `path` is a chk-N
 * or savepoint directory, its _metadata file, or a job's checkpoint
 * directory (<checkpoints dir>/<job-id>; then as fl_checkpoint_reader_open_latest).
 * _metadata is read and validated, and the state files verified (flags).
 * Returns new, or NULL with a message naming the path and the problem:
 * FL_ENOENT (no such path; a directory without _metadata: incomplete),
 * FL_EFORMAT (truncated or corrupted metadata or state file),
 * FL_EUNSUPPORTED (metadata of a newer format version), FL_EIO. */
fl_checkpoint_reader *fl_checkpoint_reader_open(const char *path, unsigned flags, fl_error *err);
/* The newest usable checkpoint in a job's checkpoint directory: chk-N dirs
 * without _metadata are skipped (incomplete); one whose metadata or files
 * are broken is skipped with a warning naming it and the problem, falling
 * back to the previous one. None usable: FL_ENOENT when none is complete,
 * else the newest broken one's code (FL_EFORMAT for damage) with a message
 * listing each broken checkpoint and why. */
fl_checkpoint_reader *fl_checkpoint_reader_open_latest(const char *job_dir, unsigned flags,
                                                       fl_error *err);
void fl_checkpoint_reader_close(fl_checkpoint_reader *r); /* NULL is fine */

const fl_checkpoint_metadata *fl_checkpoint_reader_metadata(const fl_checkpoint_reader *r);
const char *fl_checkpoint_reader_dir(const fl_checkpoint_reader *r); /* the chk-N/savepoint dir */

/* Reads one state file of the metadata whole (any thread, concurrently):
 * *data is new (free()), NULL when *len is 0. Nothing is returned before
 * the size and checksum are verified, so the bytes are those written: FL_EFORMAT
 * (truncated, larger, checksum mismatch) or FL_ENOENT/FL_EIO otherwise. */
int fl_checkpoint_reader_read(const fl_checkpoint_reader *r, const fl_state_file *f, void **data,
                              size_t *len, fl_error *err);

#endif
