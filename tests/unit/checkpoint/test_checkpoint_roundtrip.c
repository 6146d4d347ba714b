/*
 * test_checkpoint_roundtrip.c - a checkpoint written by many subtask threads
 * at once, completed, and read back through every way of naming it (its
 * directory, its _metadata, the job's directory): the metadata must be what
 * the test put in, key-group ranges must follow Flink's formula (computed
 * here), and every state file must hold exactly the bytes the test
 * regenerates from its seed. Also: the layout on disk, _metadata being one
 * JSON document, and the snapshot-sink form of the writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "ckpt_fixtures.h"
#include "hash.h"

typedef struct op_spec {
    const char *uid;
    const char *name;
    int parallelism, max_parallelism;
    int files_per_subtask;
    const char *roles[2];
} op_spec;

static const op_spec OPS[] = {
    {"source-1", "Source: Sequence", 2, 128, 1, {FL_STATE_ROLE_SOURCE}},
    {"counts", "Keyed Aggregation", 4, 128, 2, {FL_STATE_ROLE_KEYED, FL_STATE_ROLE_OPERATOR}},
    {"sink/€ odd uid", NULL, 3, 10, 1, {FL_STATE_ROLE_SINK_TXN}},
};
#define N_OPS        ((int)(sizeof OPS / sizeof OPS[0]))
#define MAX_SUBTASKS 4
#define MAX_FILES    2

static uint64_t seed_of(int64_t ckpt, int op, int subtask, int file) {
    return (uint64_t)ckpt * 1000003u + (uint64_t)op * 10007u + (uint64_t)subtask * 101u +
           (uint64_t)file;
}

/* Flink's key-group range of a subtask, computed independently of the module. */
static void expected_range(int i, int maxp, int p, int *first, int *last) {
    *first = (i * maxp + p - 1) / p;
    *last = ((i + 1) * maxp + p - 1) / p - 1;
}

typedef struct subtask_job {
    fl_checkpoint_writer *w;
    int64_t ckpt;
    int op, subtask;
    fl_state_file files[MAX_FILES];
    int rc;
    fl_error err;
} subtask_job;

static void *subtask_thread(void *arg) {
    subtask_job *j = arg;
    const op_spec *o = &OPS[j->op];
    for (int f = 0; f < o->files_per_subtask && j->rc == 0; f++)
        j->rc = write_state(j->w, o->uid, j->subtask, o->roles[f],
                            seed_of(j->ckpt, j->op, j->subtask, f), &j->files[f], &j->err);
    return NULL;
}

/* Writes checkpoint or savepoint `id` with one thread per subtask and
 * completes it; returns its directory (new). */
static char *write_checkpoint(fl_checkpoint_storage *s, int64_t id, fl_checkpoint_kind kind,
                              const char *parent) {
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, id, kind, parent, &err);
    if (w == NULL) fail_msg("begin: %s", err.message);
    char *dir = strdup(fl_checkpoint_writer_dir(w));

    subtask_job jobs[N_OPS * MAX_SUBTASKS];
    pthread_t threads[N_OPS * MAX_SUBTASKS];
    int n = 0;
    memset(jobs, 0, sizeof jobs);
    for (int o = 0; o < N_OPS; o++) {
        for (int i = 0; i < OPS[o].parallelism; i++) {
            jobs[n] = (subtask_job){.w = w, .ckpt = id, .op = o, .subtask = i};
            assert_int_equal(pthread_create(&threads[n], NULL, subtask_thread, &jobs[n]), 0);
            n++;
        }
    }
    for (int k = 0; k < n; k++) pthread_join(threads[k], NULL);

    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(id, kind, TEST_JOB_ID, "round trip", 1700000000000 + id);
    int k = 0;
    for (int o = 0; o < N_OPS; o++) {
        fl_checkpoint_operator *op = fl_checkpoint_metadata_add_operator(
            md, OPS[o].uid, OPS[o].name, OPS[o].parallelism, OPS[o].max_parallelism, &err);
        assert_non_null(op);
        for (int i = 0; i < OPS[o].parallelism; i++, k++) {
            if (jobs[k].rc != 0) fail_msg("subtask: %s", jobs[k].err.message);
            for (int f = 0; f < OPS[o].files_per_subtask; f++) {
                fl_checkpoint_subtask_add_file(&op->subtasks[i], &jobs[k].files[f]);
                fl_state_file_fini(&jobs[k].files[f]);
            }
            char pos[32];
            snprintf(pos, sizeof pos, "%lld", (long long)(id * 100 + i));
            fl_kv_set(op->subtasks[i].values, "position", pos);
        }
    }
    if (fl_checkpoint_writer_complete(w, md, &err) != 0) fail_msg("complete: %s", err.message);
    fl_checkpoint_metadata_destroy(md);
    return dir;
}

/* Every field and every byte of checkpoint `id` as read through r. */
static void check_reader(const fl_checkpoint_reader *r, int64_t id, fl_checkpoint_kind kind) {
    const fl_checkpoint_metadata *md = fl_checkpoint_reader_metadata(r);
    assert_int_equal(md->checkpoint_id, id);
    assert_int_equal(md->kind, kind);
    assert_string_equal(md->job_id, TEST_JOB_ID);
    assert_string_equal(md->job_name, "round trip");
    assert_int_equal(md->timestamp_ms, 1700000000000 + id);
    assert_int_equal(md->n_operators, N_OPS);
    for (int o = 0; o < N_OPS; o++) {
        const fl_checkpoint_operator *op = fl_checkpoint_metadata_find(md, OPS[o].uid);
        assert_non_null(op);
        if (OPS[o].name)
            assert_string_equal(op->name, OPS[o].name);
        else
            assert_null(op->name);
        assert_int_equal(op->parallelism, OPS[o].parallelism);
        assert_int_equal(op->max_parallelism, OPS[o].max_parallelism);
        for (int i = 0; i < op->parallelism; i++) {
            const fl_checkpoint_subtask *s = &op->subtasks[i];
            int first, last;
            expected_range(i, op->max_parallelism, op->parallelism, &first, &last);
            assert_int_equal(s->index, i);
            assert_int_equal(s->key_group_first, first);
            assert_int_equal(s->key_group_last, last);
            char pos[32];
            snprintf(pos, sizeof pos, "%lld", (long long)(id * 100 + i));
            assert_string_equal(fl_kv_get(s->values, "position"), pos);
            assert_int_equal(s->n_files, OPS[o].files_per_subtask);
            for (int f = 0; f < s->n_files; f++) {
                assert_string_equal(s->files[f].role, OPS[o].roles[f]);
                assert_null(strchr(s->files[f].path, '/')); /* relative, in the directory */
                size_t want_len;
                unsigned char *want = content_for(seed_of(id, o, i, f), &want_len);
                void *data = NULL;
                size_t len = 99;
                fl_error err = {0};
                if (fl_checkpoint_reader_read(r, &s->files[f], &data, &len, &err) != 0)
                    fail_msg("read: %s", err.message);
                assert_int_equal(len, want_len);
                assert_int_equal(s->files[f].size, want_len);
                if (want_len == 0)
                    assert_null(data);
                else
                    assert_memory_equal(data, want, want_len);
                free(data);
                free(want);
            }
        }
    }
}

static void test_parallel_write_and_read_back(void **state) {
    test_dir *t = *state;
    fl_config *conf = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(conf, TEST_JOB_ID, &err);
    if (s == NULL) fail_msg("%s", err.message);
    char job_dir[600];
    snprintf(job_dir, sizeof job_dir, "%s/checkpoints/%s", t->root, TEST_JOB_ID);
    assert_string_equal(fl_checkpoint_storage_job_dir(s), job_dir);
    assert_int_equal(fl_checkpoint_storage_num_retained(s), 1);
    assert_int_equal(fl_checkpoint_storage_retention(s), FL_RETAIN_NO_EXTERNALIZED);

    char *dir = write_checkpoint(s, 1, FL_CHECKPOINT, NULL);
    char want_dir[700];
    snprintf(want_dir, sizeof want_dir, "%s/chk-1", job_dir);
    assert_string_equal(dir, want_dir);

    /* Layout: _metadata and one file per handle (2 + 4*2 + 3), nothing else. */
    assert_int_equal(count_entries(dir), 1 + 2 + 8 + 3);
    char p[800];
    snprintf(p, sizeof p, "%s/_metadata", dir);
    assert_true(path_exists(p));
    snprintf(p, sizeof p, "%s/_metadata.inprogress", dir);
    assert_false(path_exists(p));

    /* Three ways to name it. */
    const char *paths[3];
    char md_path[800];
    snprintf(md_path, sizeof md_path, "%s/_metadata", dir);
    paths[0] = dir;
    paths[1] = md_path;
    paths[2] = job_dir;
    for (int i = 0; i < 3; i++) {
        fl_checkpoint_reader *r = fl_checkpoint_reader_open(paths[i], 0, &err);
        if (r == NULL) fail_msg("open %s: %s", paths[i], err.message);
        assert_string_equal(fl_checkpoint_reader_dir(r), dir);
        check_reader(r, 1, FL_CHECKPOINT);
        fl_checkpoint_reader_close(r);
    }
    /* The quick open reads the same. */
    fl_checkpoint_reader *r = fl_checkpoint_reader_open(dir, FL_CHECKPOINT_OPEN_QUICK, &err);
    assert_non_null(r);
    check_reader(r, 1, FL_CHECKPOINT);
    fl_checkpoint_reader_close(r);

    free(dir);
    fl_checkpoint_storage_destroy(s);
    fl_config_destroy(conf);
}

static void test_metadata_is_one_json_document(void **state) {
    test_dir *t = *state;
    fl_config *conf = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(conf, TEST_JOB_ID, &err);
    assert_non_null(s);
    char *dir = write_checkpoint(s, 7, FL_CHECKPOINT, NULL);
    char p[800];
    snprintf(p, sizeof p, "%s/_metadata", dir);
    json_error_t jerr;
    json_t *root = json_load_file(p, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) fail_msg("%s", jerr.text);
    assert_string_equal(json_string_value(json_object_get(root, "format")),
                        "flinc-checkpoint-metadata");
    assert_int_equal(json_integer_value(json_object_get(root, "version")), 1);
    json_t *body = json_object_get(root, "checkpoint");
    assert_int_equal(json_integer_value(json_object_get(body, "id")), 7);
    assert_string_equal(json_string_value(json_object_get(body, "kind")), "checkpoint");
    json_t *ops = json_object_get(body, "operators");
    assert_int_equal(json_array_size(ops), N_OPS);
    json_t *op1 = json_array_get(ops, 1);
    assert_string_equal(json_string_value(json_object_get(op1, "uid")), "counts");
    json_t *sub = json_array_get(json_object_get(op1, "subtasks"), 3);
    json_t *kg = json_object_get(sub, "key_groups");
    assert_int_equal(json_integer_value(json_array_get(kg, 0)), 96);
    assert_int_equal(json_integer_value(json_array_get(kg, 1)), 127);
    json_t *file = json_array_get(json_object_get(sub, "files"), 0);
    assert_string_equal(json_string_value(json_object_get(file, "role")), "keyed");
    assert_int_equal(strncmp(json_string_value(json_object_get(file, "checksum")), "xxh64:", 6), 0);
    json_decref(root);
    free(dir);
    fl_checkpoint_storage_destroy(s);
    fl_config_destroy(conf);
}

static void test_latest_of_several(void **state) {
    test_dir *t = *state;
    fl_config *conf = test_config(t, 3, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(conf, TEST_JOB_ID, &err);
    assert_non_null(s);
    for (int64_t id = 1; id <= 4; id++) free(write_checkpoint(s, id, FL_CHECKPOINT, NULL));
    fl_checkpoint_reader *r =
        fl_checkpoint_reader_open_latest(fl_checkpoint_storage_job_dir(s), 0, &err);
    if (r == NULL) fail_msg("%s", err.message);
    check_reader(r, 4, FL_CHECKPOINT);
    fl_checkpoint_reader_close(r);
    assert_int_equal(fl_checkpoint_storage_max_id(s), 4);
    fl_checkpoint_storage_destroy(s);
    fl_config_destroy(conf);
}

/* The writer used as the state module's snapshot sink (a function pointer
 * taking the writer as void *). */
typedef int (*sink_fn)(void *arg, const void *p, size_t n);

static void test_snapshot_sink(void **state) {
    test_dir *t = *state;
    fl_config *conf = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(conf, TEST_JOB_ID, &err);
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 1, FL_CHECKPOINT, NULL, &err);
    assert_non_null(w);
    fl_state_file_writer *f = fl_checkpoint_writer_open_file(w, "op", 0, "keyed", &err);
    assert_non_null(f);
    sink_fn sink = fl_state_file_writer_sink;
    assert_int_equal(sink(f, "hello ", 6), 0);
    assert_int_equal(sink(f, "world", 5), 0);
    assert_int_equal(sink(f, "", 0), 0);
    fl_state_file h;
    assert_int_equal(fl_state_file_writer_close(f, &h, &err), 0);
    assert_int_equal(h.size, 11);
    assert_int_equal(h.checksum, fl_hash_bytes("hello world", 11)); /* XXH64 seed 0 */

    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(1, FL_CHECKPOINT, TEST_JOB_ID, NULL, 0);
    fl_checkpoint_operator *op = fl_checkpoint_metadata_add_operator(md, "op", NULL, 1, 1, &err);
    fl_checkpoint_subtask_add_file(&op->subtasks[0], &h);
    assert_int_equal(fl_checkpoint_writer_complete(w, md, &err), 0);
    fl_checkpoint_metadata_destroy(md);

    fl_checkpoint_reader *r = fl_checkpoint_reader_open(join(t, "checkpoints"), 0, &err);
    /* The checkpoints root holds job directories, not chk-N: not a checkpoint. */
    assert_null(r);
    assert_int_equal(err.code, FL_ENOENT);
    fl_error_clear(&err);
    r = fl_checkpoint_reader_open(fl_checkpoint_storage_job_dir(s), 0, &err);
    assert_non_null(r);
    const fl_checkpoint_metadata *got = fl_checkpoint_reader_metadata(r);
    assert_null(got->job_name);
    void *data;
    size_t len;
    assert_int_equal(
        fl_checkpoint_reader_read(r, &got->operators[0]->subtasks[0].files[0], &data, &len, &err),
        0);
    assert_int_equal(len, 11);
    assert_memory_equal(data, "hello world", 11);
    free(data);
    fl_checkpoint_reader_close(r);
    fl_state_file_fini(&h);
    fl_checkpoint_storage_destroy(s);
    fl_config_destroy(conf);
}

int main(void) {
    fl_log_set_level(FL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parallel_write_and_read_back, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_metadata_is_one_json_document, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_latest_of_several, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_sink, test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
