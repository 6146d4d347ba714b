/*
 * storage.c - one job's checkpoint storage: its configuration, the
 * directories a new checkpoint or savepoint goes to, and retention (which
 * completed checkpoints are kept while the job runs and when it ends).
 *
 * The storage remembers the ids of the retained complete checkpoints,
 * oldest first. It starts from what the job directory holds (a job started
 * again with the same id keeps subsuming its old checkpoints), adds a
 * checkpoint when its _metadata is durable, and then deletes the oldest
 * beyond num-retained: the newest complete checkpoint is never deleted
 * before a newer one is complete. Savepoints are the user's: never listed,
 * never deleted. A mutex guards the list, so begin and complete may come from
 * different threads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_int.h"
#include "log.h"
#include "mem.h"

/* Each option's current key, then its older names, read in that order when
 * the ones before are unset (Flink 1.x configurations). */
static const char *const option_keys[][4] = {
    {FL_CONF_CHECKPOINTS_DIR, "state.checkpoints.dir", "state.backend.fs.checkpointdir", NULL},
    {FL_CONF_SAVEPOINTS_DIR, "state.savepoints.dir", "savepoints.state.backend.fs.dir", NULL},
    {FL_CONF_NUM_RETAINED, "state.checkpoints.num-retained", NULL},
    {FL_CONF_CREATE_SUBDIR, "state.checkpoints.create-subdir", NULL},
};

static const char *const retention_names[] = {
    [FL_RETAIN_NO_EXTERNALIZED] = "NO_EXTERNALIZED_CHECKPOINTS",
    [FL_RETAIN_DELETE_ON_CANCELLATION] = "DELETE_ON_CANCELLATION",
    [FL_RETAIN_ON_CANCELLATION] = "RETAIN_ON_CANCELLATION",
};

struct fl_checkpoint_storage {
    char *job_id;
    char *job_dir;        /* NULL: no checkpoints directory configured */
    bool own_job_dir;     /* <dir>/<job-id> (create-subdir), not the configured dir itself */
    char *savepoints_dir; /* NULL: none configured */
    int num_retained;
    fl_checkpoint_retention retention;
    pthread_mutex_t lock; /* guards what follows */
    int64_t max_id;
    int64_t *retained; /* ascending ids of complete checkpoints */
    int n_retained, cap_retained;
};

const char *fl_checkpoint_retention_name(fl_checkpoint_retention r) {
    if ((unsigned)r > FL_RETAIN_ON_CANCELLATION) return "UNKNOWN";
    return retention_names[r];
}

int fl_checkpoint_retention_parse(const char *s, fl_checkpoint_retention *out) {
    for (int r = FL_RETAIN_NO_EXTERNALIZED; s && r <= FL_RETAIN_ON_CANCELLATION; r++) {
        if (strcasecmp(s, retention_names[r]) == 0) {
            *out = (fl_checkpoint_retention)r;
            return 0;
        }
    }
    return FL_ECONFIG;
}

/* ---- configuration --------------------------------------------------------------------------- */

const char *fl_checkpoint_config_get(const fl_config *conf, const char *key, const char **which) {
    const char *const *keys = NULL;
    for (size_t i = 0; i < sizeof option_keys / sizeof option_keys[0] && !keys; i++)
        if (strcmp(option_keys[i][0], key) == 0) keys = option_keys[i];
    const char *only[] = {key, NULL};
    if (keys == NULL) keys = only;
    if (which != NULL) *which = key;
    for (int i = 0; keys[i] != NULL; i++) {
        const char *v = fl_config_get(conf, keys[i]);
        if (v != NULL && v[0] != '\0') {
            if (which != NULL) *which = keys[i];
            return v;
        }
    }
    return NULL;
}

/* A directory option as a local path: "file:///x" and "file:/x" are "/x"; a
 * trailing '/' is dropped. *out is new, or NULL when the option is unset. */
static int config_dir(const fl_config *conf, const char *option, char **out, fl_error *err) {
    const char *key;
    const char *v = fl_checkpoint_config_get(conf, option, &key);
    *out = NULL;
    if (v == NULL) return 0;
    const char *path = v;
    if (strncmp(v, "file://", 7) == 0) {
        path = v + 7;
        if (strncmp(path, "localhost/", 10) == 0) path += 9;
        if (path[0] != '/')
            return fl_error_set(err, FL_ECONFIG,
                                "%s: \"%s\" is not a local path (write file:///path or /path)", key,
                                v);
    } else if (strncmp(v, "file:", 5) == 0) {
        path = v + 5;
    } else if (strstr(v, "://") != NULL) {
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "%s: \"%s\": only local file system directories are supported "
                            "(write file:///path or /path)",
                            key, v);
    }
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    if (n == 0) return fl_error_set(err, FL_ECONFIG, "%s: \"%s\" is not a path", key, v);
    *out = fl_xstrndup(path, n);
    return 0;
}

static int config_options(fl_checkpoint_storage *s, const fl_config *conf, bool *create_subdir,
                          char **checkpoints_dir, fl_error *err) {
    const char *key;
    int rc = config_dir(conf, FL_CONF_CHECKPOINTS_DIR, checkpoints_dir, err);
    if (rc == 0) rc = config_dir(conf, FL_CONF_SAVEPOINTS_DIR, &s->savepoints_dir, err);
    if (rc != 0) return rc;

    int64_t n = 1;
    fl_checkpoint_config_get(conf, FL_CONF_NUM_RETAINED, &key);
    if ((rc = fl_config_get_int(conf, key, 1, &n, err)) != 0) return rc;
    if (n < 1 || n > 1000000)
        return fl_error_set(err, FL_ECONFIG, "%s: %lld is not a number of checkpoints (1 or more)",
                            key, (long long)n);
    s->num_retained = (int)n;

    fl_checkpoint_config_get(conf, FL_CONF_CREATE_SUBDIR, &key);
    if ((rc = fl_config_get_bool(conf, key, true, create_subdir, err)) != 0) return rc;

    const char *r = fl_config_get(conf, FL_CONF_CHECKPOINT_RETENTION);
    s->retention = FL_RETAIN_NO_EXTERNALIZED;
    if (r != NULL && fl_checkpoint_retention_parse(r, &s->retention) != 0)
        return fl_error_set(err, FL_ECONFIG,
                            "%s: unknown value \"%s\" (expected NO_EXTERNALIZED_CHECKPOINTS, "
                            "DELETE_ON_CANCELLATION or RETAIN_ON_CANCELLATION)",
                            FL_CONF_CHECKPOINT_RETENTION, r);
    return 0;
}

/* ---- create / destroy ------------------------------------------------------------------------ */

static void retained_insert(fl_checkpoint_storage *s, int64_t id) {
    if (s->n_retained == s->cap_retained) {
        s->cap_retained = s->cap_retained ? s->cap_retained * 2 : 8;
        s->retained = fl_xrealloc(s->retained, (size_t)s->cap_retained * sizeof *s->retained);
    }
    int i = s->n_retained;
    while (i > 0 && s->retained[i - 1] > id) {
        s->retained[i] = s->retained[i - 1];
        i--;
    }
    s->retained[i] = id;
    s->n_retained++;
}

void fl_checkpoint_storage_destroy(fl_checkpoint_storage *s) {
    if (s == NULL) return;
    pthread_mutex_destroy(&s->lock);
    free(s->job_id);
    free(s->job_dir);
    free(s->savepoints_dir);
    free(s->retained);
    free(s);
}

fl_checkpoint_storage *fl_checkpoint_storage_create(const fl_config *conf, const char *job_id,
                                                    fl_error *err) {
    if (!fl__ckpt_valid_job_id(job_id)) {
        fl_error_set(err, FL_EINVAL,
                     "checkpoint storage: \"%s\" is not a job id ([A-Za-z0-9_-], 1 to %d "
                     "characters)",
                     job_id ? job_id : "", FL__CKPT_JOB_ID_MAX);
        return NULL;
    }
    fl_checkpoint_storage *s = fl_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->job_id = fl_xstrdup(job_id);
    bool subdir = true;
    char *root = NULL;
    fl__ckpt_entry *entries = NULL;
    int n = 0;
    if (config_options(s, conf, &subdir, &root, err) != 0) goto fail;
    if (root != NULL) {
        s->job_dir = subdir ? fl_xasprintf("%s/%s", root, job_id) : fl_xstrdup(root);
        s->own_job_dir = subdir;
        if (fl__ckpt_mkdirs(s->job_dir, "checkpoint directory", err) != 0) goto fail;
        if (fl__ckpt_scan(s->job_dir, &entries, &n, err) != 0) goto fail;
        for (int i = 0; i < n; i++) {
            if (entries[i].id > s->max_id) s->max_id = entries[i].id;
            if (entries[i].complete) retained_insert(s, entries[i].id);
        }
        if (s->n_retained > 0)
            fl_info(FL__CKPT_LOG,
                    "found %d complete checkpoint(s) of job %s in %s, latest chk-%lld",
                    s->n_retained, job_id, s->job_dir, (long long)s->retained[s->n_retained - 1]);
    }
    free(entries);
    free(root);
    return s;
fail:
    free(entries);
    free(root);
    fl_checkpoint_storage_destroy(s);
    return NULL;
}

/* ---- accessors ------------------------------------------------------------------------------- */

const char *fl_checkpoint_storage_job_dir(const fl_checkpoint_storage *s) { return s->job_dir; }

int fl_checkpoint_storage_num_retained(const fl_checkpoint_storage *s) { return s->num_retained; }

fl_checkpoint_retention fl_checkpoint_storage_retention(const fl_checkpoint_storage *s) {
    return s->retention;
}

int64_t fl_checkpoint_storage_max_id(const fl_checkpoint_storage *s) {
    fl_checkpoint_storage *m = (fl_checkpoint_storage *)s; /* the lock is not the value */
    pthread_mutex_lock(&m->lock);
    int64_t id = m->max_id;
    pthread_mutex_unlock(&m->lock);
    return id;
}

int fl_checkpoint_storage_retained(const fl_checkpoint_storage *s, int64_t *ids, int max) {
    fl_checkpoint_storage *m = (fl_checkpoint_storage *)s;
    pthread_mutex_lock(&m->lock);
    int n = m->n_retained;
    for (int i = 0; i < n && i < max; i++) ids[i] = m->retained[i];
    pthread_mutex_unlock(&m->lock);
    return n;
}

/* ---- begin ----------------------------------------------------------------------------------- */

static fl_checkpoint_writer *begin_checkpoint(fl_checkpoint_storage *s, int64_t id, fl_error *err) {
    char why[128];
    if (s->job_dir == NULL) {
        fl_error_set(err, FL_ECONFIG,
                     "no checkpoint directory: set %s (or state.checkpoints.dir) to take "
                     "checkpoints",
                     FL_CONF_CHECKPOINTS_DIR);
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    int64_t newest = s->n_retained ? s->retained[s->n_retained - 1] : 0;
    if (id <= newest) {
        pthread_mutex_unlock(&s->lock);
        fl_error_set(err, FL_ESTATE,
                     "checkpoint %lld is not newer than the latest completed checkpoint %lld of "
                     "job %s",
                     (long long)id, (long long)newest, s->job_id);
        return NULL;
    }
    if (id > s->max_id) s->max_id = id;
    pthread_mutex_unlock(&s->lock);

    /* The job directory may have been removed under a running job. */
    if (fl__ckpt_mkdirs(s->job_dir, "checkpoint directory", err) != 0) return NULL;
    char *dir = fl_xasprintf("%s/chk-%lld", s->job_dir, (long long)id);
    if (mkdir(dir, 0755) != 0) {
        int e = errno;
        if (e == EEXIST && fl_fs_is_dir(dir)) {
            char *md = fl_xasprintf("%s/%s", dir, FL_CHECKPOINT_METADATA_FILE);
            bool complete = fl_fs_is_file(md);
            free(md);
            if (complete) {
                fl_error_set(err, FL_ESTATE,
                             "checkpoint directory \"%s\" already holds a completed checkpoint",
                             dir);
                free(dir);
                return NULL;
            }
            /* An earlier attempt at this id that never completed. */
            fl_warn(FL__CKPT_LOG, "removing the incomplete checkpoint directory %s", dir);
            if (fl_fs_remove_tree(dir, err) != 0) {
                free(dir);
                return NULL;
            }
            e = mkdir(dir, 0755) == 0 ? 0 : errno;
        }
        if (e != 0) {
            fl_error_set(err, FL_EIO, "could not create checkpoint directory \"%s\": %s", dir,
                         fl_errno_text(e, why, sizeof why));
            free(dir);
            return NULL;
        }
    }
    return fl__ckpt_writer_create(s, id, FL_CHECKPOINT, s->job_id, dir);
}

static fl_checkpoint_writer *begin_savepoint(fl_checkpoint_storage *s, int64_t id,
                                             const char *parent, fl_error *err) {
    char why[128];
    if (parent == NULL) parent = s->savepoints_dir;
    if (parent == NULL) {
        fl_error_set(err, FL_ECONFIG,
                     "no savepoint directory: give a target directory or set %s (or "
                     "state.savepoints.dir)",
                     FL_CONF_SAVEPOINTS_DIR);
        return NULL;
    }
    if (fl__ckpt_mkdirs(parent, "savepoint directory", err) != 0) return NULL;
    for (int attempt = 0; attempt < 8; attempt++) {
        char rnd[13];
        fl_fs_random_hex(rnd, 12);
        char *dir = fl_xasprintf("%s/savepoint-%.6s-%s", parent, s->job_id, rnd);
        if (mkdir(dir, 0755) == 0)
            return fl__ckpt_writer_create(s, id, FL_SAVEPOINT, s->job_id, dir);
        int e = errno;
        if (e != EEXIST) {
            fl_error_set(err, FL_EIO, "could not create savepoint directory \"%s\": %s", dir,
                         fl_errno_text(e, why, sizeof why));
            free(dir);
            return NULL;
        }
        free(dir);
    }
    fl_error_set(err, FL_EIO, "could not create a savepoint directory in \"%s\": names in use",
                 parent);
    return NULL;
}

fl_checkpoint_writer *fl_checkpoint_storage_begin(fl_checkpoint_storage *s, int64_t id,
                                                  fl_checkpoint_kind kind,
                                                  const char *savepoint_parent, fl_error *err) {
    if (id < 1) {
        fl_error_set(err, FL_EINVAL, "%lld is not a checkpoint id (they start at 1)",
                     (long long)id);
        return NULL;
    }
    if (kind == FL_SAVEPOINT) return begin_savepoint(s, id, savepoint_parent, err);
    return begin_checkpoint(s, id, err);
}

/* ---- retention ------------------------------------------------------------------------------- */

void fl__ckpt_storage_completed(fl_checkpoint_storage *s, int64_t id) {
    pthread_mutex_lock(&s->lock);
    retained_insert(s, id);
    while (s->n_retained > s->num_retained) {
        int64_t old = s->retained[0];
        memmove(s->retained, s->retained + 1, (size_t)(s->n_retained - 1) * sizeof *s->retained);
        s->n_retained--;
        char *dir = fl_xasprintf("%s/chk-%lld", s->job_dir, (long long)old);
        fl_error e = {0};
        /* A checkpoint that cannot be deleted is left behind: the newer one
         * is complete either way. */
        if (fl_fs_remove_tree(dir, &e) != 0)
            fl_warn(FL__CKPT_LOG, "could not delete subsumed checkpoint %s: %s", dir, e.message);
        else
            fl_debug(FL__CKPT_LOG, "deleted subsumed checkpoint %s", dir);
        free(dir);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Whether the retained checkpoints go when the job ends `how` (Flink's
 * CheckpointProperties for each retention policy). */
static bool discard_on(fl_checkpoint_retention r, fl_job_end how) {
    switch (r) {
    case FL_RETAIN_NO_EXTERNALIZED:
        return true;
    case FL_RETAIN_DELETE_ON_CANCELLATION:
        return how == FL_JOB_END_FINISHED || how == FL_JOB_END_CANCELED;
    case FL_RETAIN_ON_CANCELLATION:
        return false;
    }
    return false;
}

static const char *job_end_name(fl_job_end how) {
    switch (how) {
    case FL_JOB_END_FINISHED:
        return "finished";
    case FL_JOB_END_CANCELED:
        return "was canceled";
    case FL_JOB_END_FAILED:
        return "failed";
    case FL_JOB_END_SUSPENDED:
        return "was suspended";
    }
    return "ended";
}

int fl_checkpoint_storage_job_ended(fl_checkpoint_storage *s, fl_job_end how, fl_error *err) {
    if (s->job_dir == NULL) return 0;
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (!discard_on(s->retention, how)) {
        if (s->n_retained > 0)
            fl_info(FL__CKPT_LOG,
                    "job %s %s: keeping %d checkpoint(s) in %s (%s), latest %s/chk-%lld", s->job_id,
                    job_end_name(how), s->n_retained, s->job_dir,
                    fl_checkpoint_retention_name(s->retention), s->job_dir,
                    (long long)s->retained[s->n_retained - 1]);
        goto done;
    }
    fl__ckpt_entry *entries = NULL;
    int n = 0;
    fl_error scan_err = {0};
    if (fl__ckpt_scan(s->job_dir, &entries, &n, &scan_err) != 0) {
        if (scan_err.code != FL_ENOENT)
            rc = fl_error_set(err, scan_err.code, "%s", scan_err.message);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        char *dir = fl_xasprintf("%s/chk-%lld", s->job_dir, (long long)entries[i].id);
        fl_error e = {0};
        if (fl_fs_remove_tree(dir, &e) != 0) {
            fl_warn(FL__CKPT_LOG, "%s", e.message);
            if (rc == 0) rc = fl_error_set(err, e.code, "%s", e.message);
        }
        free(dir);
    }
    free(entries);
    s->n_retained = 0;
    /* The job's own directory goes when nothing else is in it; the configured
     * directory itself (create-subdir off) stays. */
    if (s->own_job_dir && rmdir(s->job_dir) != 0 && errno != ENOENT)
        fl_debug(FL__CKPT_LOG, "kept %s: not empty", s->job_dir);
    fl_info(FL__CKPT_LOG, "job %s %s: deleted its checkpoints in %s (%s)", s->job_id,
            job_end_name(how), s->job_dir, fl_checkpoint_retention_name(s->retention));
done:
    pthread_mutex_unlock(&s->lock);
    return rc;
}
