/*
 * metadata.c - the in-memory form of a checkpoint's _metadata: building it
 * (the coordinator, from the subtasks' acknowledgements), looking operators
 * up by uid (a restore), and the one validation that both the writer (before
 * committing) and the reader (after decoding) run, so that nothing a reader
 * hands out can point outside its directory or disagree with itself.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_int.h"
#include "hash.h"
#include "mem.h"

const char *fl_checkpoint_kind_name(fl_checkpoint_kind k) {
    return k == FL_SAVEPOINT ? "savepoint" : "checkpoint";
}

void fl_state_file_fini(fl_state_file *f) {
    if (f == NULL) return;
    free(f->path);
    free(f->role);
    f->path = f->role = NULL;
}

fl_checkpoint_metadata *fl_checkpoint_metadata_create(int64_t checkpoint_id,
                                                      fl_checkpoint_kind kind, const char *job_id,
                                                      const char *job_name, int64_t timestamp_ms) {
    fl_checkpoint_metadata *md = fl_xcalloc(1, sizeof *md);
    md->checkpoint_id = checkpoint_id;
    md->kind = kind;
    md->job_id = fl_xstrdup(job_id ? job_id : "");
    md->job_name = job_name ? fl_xstrdup(job_name) : NULL;
    md->timestamp_ms = timestamp_ms;
    return md;
}

static void operator_destroy(fl_checkpoint_operator *op) {
    if (op == NULL) return;
    if (op->subtasks != NULL) {
        for (int i = 0; i < op->parallelism; i++) {
            fl_checkpoint_subtask *s = &op->subtasks[i];
            for (int f = 0; f < s->n_files; f++) fl_state_file_fini(&s->files[f]);
            free(s->files);
            fl_kv_destroy(s->values);
        }
        free(op->subtasks);
    }
    free(op->uid);
    free(op->name);
    free(op);
}

void fl_checkpoint_metadata_destroy(fl_checkpoint_metadata *md) {
    if (md == NULL) return;
    for (int i = 0; i < md->n_operators; i++) operator_destroy(md->operators[i]);
    free(md->operators);
    free(md->job_id);
    free(md->job_name);
    free(md);
}

fl_checkpoint_operator *fl_checkpoint_metadata_find(const fl_checkpoint_metadata *md,
                                                    const char *uid) {
    if (uid == NULL) return NULL;
    for (int i = 0; i < md->n_operators; i++)
        if (strcmp(md->operators[i]->uid, uid) == 0) return md->operators[i];
    return NULL;
}

fl_checkpoint_operator *fl_checkpoint_metadata_add_operator(fl_checkpoint_metadata *md,
                                                            const char *uid, const char *name,
                                                            int parallelism, int max_parallelism,
                                                            fl_error *err) {
    if (uid == NULL || uid[0] == '\0') {
        fl_error_set(err, FL_EINVAL, "checkpoint metadata: an operator needs a uid");
        return NULL;
    }
    if (fl_checkpoint_metadata_find(md, uid) != NULL) {
        fl_error_set(err, FL_EINVAL, "checkpoint metadata: operator uid \"%s\" appears twice", uid);
        return NULL;
    }
    if (max_parallelism < 1 || max_parallelism > FL_MAX_PARALLELISM_LIMIT || parallelism < 1 ||
        parallelism > max_parallelism) {
        fl_error_set(err, FL_EINVAL,
                     "checkpoint metadata: operator \"%s\": parallelism %d and max parallelism %d "
                     "(need 1 <= parallelism <= max parallelism <= %d)",
                     uid, parallelism, max_parallelism, FL_MAX_PARALLELISM_LIMIT);
        return NULL;
    }
    fl_checkpoint_operator *op = fl_xcalloc(1, sizeof *op);
    op->uid = fl_xstrdup(uid);
    op->name = name ? fl_xstrdup(name) : NULL;
    op->parallelism = parallelism;
    op->max_parallelism = max_parallelism;
    op->subtasks = fl_xcalloc((size_t)parallelism, sizeof *op->subtasks);
    for (int i = 0; i < parallelism; i++) {
        fl_checkpoint_subtask *s = &op->subtasks[i];
        s->index = i;
        fl_key_group_range(i, max_parallelism, parallelism, &s->key_group_first,
                           &s->key_group_last);
        s->values = fl_kv_create();
    }
    md->operators =
        fl_xrealloc(md->operators, (size_t)(md->n_operators + 1) * sizeof *md->operators);
    md->operators[md->n_operators++] = op;
    return op;
}

void fl_checkpoint_subtask_add_file(fl_checkpoint_subtask *s, const fl_state_file *f) {
    s->files = fl_xrealloc(s->files, (size_t)(s->n_files + 1) * sizeof *s->files);
    fl_state_file *c = &s->files[s->n_files++];
    c->path = fl_xstrdup(f->path ? f->path : "");
    c->role = fl_xstrdup(f->role ? f->role : "");
    c->size = f->size;
    c->checksum = f->checksum;
}

/* ---- validation ------------------------------------------------------------------------------ */

static int invalid(fl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int invalid(fl_error *err, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fl_error_set(err, FL_EFORMAT, "invalid checkpoint metadata: %s", msg);
}

/* Strict UTF-8 (no overlong forms, no surrogates): what JSON can carry. */
static bool utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int n;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) return false;
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
        p += n + 1;
    }
    return true;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int fl_checkpoint_metadata_validate(const fl_checkpoint_metadata *md, fl_error *err) {
    if (md->checkpoint_id < 1)
        return invalid(err, "id: %lld is not a checkpoint id (they start at 1)",
                       (long long)md->checkpoint_id);
    if (md->kind != FL_CHECKPOINT && md->kind != FL_SAVEPOINT)
        return invalid(err, "kind: unknown kind %d", (int)md->kind);
    if (!fl__ckpt_valid_job_id(md->job_id))
        return invalid(err, "job_id: \"%s\" is not a job id ([A-Za-z0-9_-], 1 to %d characters)",
                       md->job_id ? md->job_id : "", FL__CKPT_JOB_ID_MAX);
    if (md->job_name != NULL && !utf8_valid(md->job_name))
        return invalid(err, "job_name: not UTF-8");
    if (md->n_operators < 0 || (md->n_operators > 0 && md->operators == NULL))
        return invalid(err, "operators: broken list");

    size_t n_paths = 0, cap = 0;
    const char **paths = NULL;
    int rc = 0;
    for (int o = 0; o < md->n_operators && rc == 0; o++) {
        const fl_checkpoint_operator *op = md->operators[o];
        if (op->uid == NULL || op->uid[0] == '\0' || !utf8_valid(op->uid)) {
            rc = invalid(err, "operators[%d].uid: empty or not UTF-8", o);
            break;
        }
        for (int p = 0; p < o; p++) {
            if (strcmp(md->operators[p]->uid, op->uid) == 0) {
                rc = invalid(err, "operators[%d].uid: \"%s\" appears twice", o, op->uid);
                break;
            }
        }
        if (rc != 0) break;
        if (op->name != NULL && !utf8_valid(op->name)) {
            rc = invalid(err, "operators[%d].name: not UTF-8", o);
            break;
        }
        if (op->max_parallelism < 1 || op->max_parallelism > FL_MAX_PARALLELISM_LIMIT ||
            op->parallelism < 1 || op->parallelism > op->max_parallelism || op->subtasks == NULL) {
            rc =
                invalid(err,
                        "operators[%d] (\"%s\"): parallelism %d, max parallelism %d (need 1 <= "
                        "parallelism <= max parallelism <= %d)",
                        o, op->uid, op->parallelism, op->max_parallelism, FL_MAX_PARALLELISM_LIMIT);
            break;
        }
        for (int i = 0; i < op->parallelism && rc == 0; i++) {
            const fl_checkpoint_subtask *s = &op->subtasks[i];
            if (s->index != i) {
                rc = invalid(err, "operators[%d].subtasks[%d].index: %d (expected %d)", o, i,
                             s->index, i);
                break;
            }
            if (s->key_group_first < 0 || s->key_group_first > s->key_group_last ||
                s->key_group_last >= op->max_parallelism) {
                rc = invalid(err,
                             "operators[%d].subtasks[%d].key_groups: [%d, %d] is not a range of "
                             "0..%d",
                             o, i, s->key_group_first, s->key_group_last, op->max_parallelism - 1);
                break;
            }
            for (int f = 0; f < s->n_files; f++) {
                const fl_state_file *h = &s->files[f];
                if (!fl__ckpt_valid_rel_path(h->path) || !utf8_valid(h->path)) {
                    rc = invalid(err,
                                 "operators[%d].subtasks[%d].files[%d].path: \"%s\" is not a "
                                 "relative path inside the checkpoint directory",
                                 o, i, f, h->path ? h->path : "");
                    break;
                }
                if (!fl__ckpt_valid_role(h->role)) {
                    rc = invalid(err,
                                 "operators[%d].subtasks[%d].files[%d].role: \"%s\" is not a "
                                 "role ([a-z0-9-], 1 to %d characters)",
                                 o, i, f, h->role ? h->role : "", FL__CKPT_ROLE_MAX);
                    break;
                }
                if (h->size > (uint64_t)INT64_MAX) {
                    rc = invalid(err, "operators[%d].subtasks[%d].files[%d].size: too large", o, i,
                                 f);
                    break;
                }
                if (n_paths == cap) {
                    cap = cap ? cap * 2 : 64;
                    paths = fl_xrealloc(paths, cap * sizeof *paths);
                }
                paths[n_paths++] = h->path;
            }
            if (rc != 0) break;
            size_t nv = s->values ? fl_kv_count(s->values) : 0;
            for (size_t v = 0; v < nv; v++) {
                const char *k = fl_kv_key(s->values, v), *val = fl_kv_value(s->values, v);
                if (k[0] == '\0' || !utf8_valid(k) || !utf8_valid(val)) {
                    rc = invalid(err,
                                 "operators[%d].subtasks[%d].values: key \"%s\": empty or not "
                                 "UTF-8 (encode binary values in base64)",
                                 o, i, k);
                    break;
                }
            }
        }
    }
    if (rc == 0 && n_paths > 1) {
        qsort(paths, n_paths, sizeof *paths, cmp_str);
        for (size_t i = 1; i < n_paths; i++) {
            if (strcmp(paths[i - 1], paths[i]) == 0) {
                rc = invalid(err, "state file \"%s\" is referenced twice", paths[i]);
                break;
            }
        }
    }
    free(paths);
    return rc;
}
