/*
 * test_checkpoint_retention.c - which checkpoints stay: exactly the newest
 * N complete ones while the job runs (savepoints untouched), checkpoints
 * found on disk adopted by a new storage of the same job, and what each
 * externalized-checkpoint-retention policy does for each way a job ends
 * (the table is Flink's CheckpointProperties, written out here). Also the
 * configuration: Flink's current and older key names (and the lookup that
 * reads them, shared with the mini-cluster), file:// URIs, create-subdir,
 * and the error for each bad value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ckpt_fixtures.h"

static void complete_one(fl_checkpoint_storage *s, int64_t id, fl_checkpoint_kind kind) {
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, id, kind, NULL, &err);
    if (w == NULL) fail_msg("begin %lld: %s", (long long)id, err.message);
    fl_state_file h;
    assert_int_equal(write_state(w, "op", 0, "keyed", (uint64_t)id, &h, &err), 0);
    fl_checkpoint_metadata *md = fl_checkpoint_metadata_create(id, kind, TEST_JOB_ID, NULL, id);
    fl_checkpoint_operator *op = fl_checkpoint_metadata_add_operator(md, "op", NULL, 1, 128, &err);
    fl_checkpoint_subtask_add_file(&op->subtasks[0], &h);
    if (fl_checkpoint_writer_complete(w, md, &err) != 0) fail_msg("complete: %s", err.message);
    fl_checkpoint_metadata_destroy(md);
    fl_state_file_fini(&h);
}

static fl_checkpoint_storage *storage_with(fl_config *conf) {
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(conf, TEST_JOB_ID, &err);
    if (s == NULL) fail_msg("%s", err.message);
    fl_config_destroy(conf);
    return s;
}

/* The chk-N directories on disk, as a bit set of N (N < 64). */
static uint64_t on_disk(const char *job_dir) {
    uint64_t set = 0;
    DIR *d = opendir(job_dir);
    if (d == NULL) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int n;
        char rest;
        if (sscanf(e->d_name, "chk-%d%c", &n, &rest) == 1 && n > 0 && n < 64)
            set |= UINT64_C(1) << n;
    }
    closedir(d);
    return set;
}

static void test_keeps_exactly_n(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage_with(test_config(t, 3, NULL));
    const char *job = fl_checkpoint_storage_job_dir(s);
    for (int64_t id = 1; id <= 7; id++) {
        complete_one(s, id, FL_CHECKPOINT);
        uint64_t want = 0;
        for (int64_t k = id > 3 ? id - 2 : 1; k <= id; k++) want |= UINT64_C(1) << k;
        assert_int_equal(on_disk(job), want);
        int64_t ids[8];
        int n = fl_checkpoint_storage_retained(s, ids, 8);
        assert_int_equal(n, id < 3 ? id : 3);
        assert_int_equal(ids[n - 1], id);
    }
    fl_checkpoint_storage_destroy(s);
}

static void test_default_keeps_one_and_savepoints_stay(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage_with(test_config(t, 0, NULL));
    const char *job = fl_checkpoint_storage_job_dir(s);
    complete_one(s, 1, FL_CHECKPOINT);
    complete_one(s, 2, FL_SAVEPOINT);
    complete_one(s, 3, FL_CHECKPOINT);
    complete_one(s, 4, FL_SAVEPOINT);
    complete_one(s, 5, FL_CHECKPOINT);
    assert_int_equal(on_disk(job), UINT64_C(1) << 5);
    assert_int_equal(count_entries(join(t, "savepoints")), 2);
    /* Even deleting everything at the end leaves the savepoints. */
    assert_int_equal(fl_checkpoint_storage_job_ended(s, FL_JOB_END_CANCELED, NULL), 0);
    assert_int_equal(count_entries(join(t, "savepoints")), 2);
    fl_checkpoint_storage_destroy(s);
}

static void test_adopts_existing(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage_with(test_config(t, 5, NULL));
    for (int64_t id = 1; id <= 4; id++) complete_one(s, id, FL_CHECKPOINT);
    fl_checkpoint_storage_destroy(s);

    /* The same job again, retaining 2: nothing is deleted until a newer one completes. */
    s = storage_with(test_config(t, 2, NULL));
    const char *job = fl_checkpoint_storage_job_dir(s);
    assert_int_equal(fl_checkpoint_storage_max_id(s), 4);
    assert_int_equal(on_disk(job), 0x1e);
    complete_one(s, fl_checkpoint_storage_max_id(s) + 1, FL_CHECKPOINT);
    assert_int_equal(on_disk(job), (UINT64_C(1) << 4) | (UINT64_C(1) << 5));
    fl_checkpoint_storage_destroy(s);
}

/* Flink's CheckpointProperties: does the checkpoint survive the job ending? */
static void test_job_end_policies(void **state) {
    test_dir *t = *state;
    static const char *const policies[] = {NULL, "NO_EXTERNALIZED_CHECKPOINTS",
                                           "delete_on_cancellation", "RETAIN_ON_CANCELLATION"};
    /* kept[policy][end]: FINISHED, CANCELED, FAILED, SUSPENDED */
    static const bool kept[4][4] = {
        {false, false, false, false}, /* default = NO_EXTERNALIZED_CHECKPOINTS */
        {false, false, false, false},
        {false, false, true, true},
        {true, true, true, true},
    };
    for (int p = 0; p < 4; p++) {
        for (int e = 0; e < 4; e++) {
            fl_checkpoint_storage *s = storage_with(test_config(t, 2, policies[p]));
            char job[600];
            snprintf(job, sizeof job, "%s", fl_checkpoint_storage_job_dir(s));
            complete_one(s, 1, FL_CHECKPOINT);
            complete_one(s, 2, FL_CHECKPOINT);
            complete_one(s, 3, FL_CHECKPOINT);
            /* A leftover incomplete checkpoint goes with the rest. */
            fl_error err = {0};
            fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 4, FL_CHECKPOINT, NULL, &err);
            fl_state_file h;
            assert_int_equal(write_state(w, "op", 0, "keyed", 9, &h, &err), 0);
            fl_state_file_fini(&h);

            assert_int_equal(fl_checkpoint_storage_job_ended(s, (fl_job_end)e, &err), 0);
            if (kept[p][e]) {
                assert_int_equal(on_disk(job), 0x1c); /* chk-2, chk-3 and the incomplete chk-4 */
            } else {
                assert_false(path_exists(job)); /* the job's directory is gone too */
                assert_true(dir_exists(join(t, "checkpoints")));
            }
            fl_checkpoint_writer_abort(w);
            fl_checkpoint_storage_destroy(s);
            rm_rf(join(t, "checkpoints"));
        }
    }
}

static void test_config_keys(void **state) {
    test_dir *t = *state;
    fl_error err = {0};
    char root[600], buf[700];
    snprintf(root, sizeof root, "%s/old", t->root);

    /* Flink 1.x names, a file: URI with a trailing slash, create-subdir off. */
    fl_config *c = fl_config_create();
    snprintf(buf, sizeof buf, "file://%s/", root);
    fl_config_set(c, "state.checkpoints.dir", buf);
    fl_config_set(c, "state.checkpoints.num-retained", "4");
    fl_config_set(c, "state.checkpoints.create-subdir", "false");
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    if (s == NULL) fail_msg("%s", err.message);
    assert_string_equal(fl_checkpoint_storage_job_dir(s), root);
    assert_int_equal(fl_checkpoint_storage_num_retained(s), 4);
    complete_one(s, 1, FL_CHECKPOINT);
    snprintf(buf, sizeof buf, "%s/chk-1/_metadata", root);
    assert_true(path_exists(buf));
    /* Deleting at the end keeps the configured directory itself. */
    assert_int_equal(fl_checkpoint_storage_job_ended(s, FL_JOB_END_FINISHED, &err), 0);
    assert_true(dir_exists(root));
    assert_int_equal(count_entries(root), 0);
    fl_checkpoint_storage_destroy(s);

    /* The current name wins over the older one. */
    snprintf(buf, sizeof buf, "%s/new", t->root);
    fl_config_set(c, FL_CONF_CHECKPOINTS_DIR, buf);
    fl_config_set(c, FL_CONF_NUM_RETAINED, "2");
    s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    assert_non_null(s);
    assert_string_equal(fl_checkpoint_storage_job_dir(s), buf);
    assert_int_equal(fl_checkpoint_storage_num_retained(s), 2);
    fl_checkpoint_storage_destroy(s);
    fl_config_destroy(c);

    /* No directory at all: a storage that can take neither. */
    c = fl_config_create();
    s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    assert_non_null(s);
    assert_null(fl_checkpoint_storage_job_dir(s));
    assert_null(fl_checkpoint_storage_begin(s, 1, FL_CHECKPOINT, NULL, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_non_null(strstr(err.message, "execution.checkpointing.dir"));
    fl_error_clear(&err);
    assert_null(fl_checkpoint_storage_begin(s, 1, FL_SAVEPOINT, NULL, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_non_null(strstr(err.message, "execution.checkpointing.savepoint-dir"));
    assert_int_equal(fl_checkpoint_storage_job_ended(s, FL_JOB_END_CANCELED, NULL), 0);
    fl_checkpoint_storage_destroy(s);
    fl_config_destroy(c);
}

/* The lookup the mini-cluster shares with the storage: current key first,
 * then each older name in order; an empty value is unset. */
static void test_config_lookup(void **state) {
    static const struct {
        const char *key, *older[2];
    } options[] = {
        {FL_CONF_CHECKPOINTS_DIR, {"state.checkpoints.dir", "state.backend.fs.checkpointdir"}},
        {FL_CONF_SAVEPOINTS_DIR, {"state.savepoints.dir", "savepoints.state.backend.fs.dir"}},
    };
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const char *key = options[i].key, *which = NULL;
        fl_config *c = fl_config_create();
        assert_null(fl_checkpoint_config_get(c, key, &which));
        assert_string_equal(which, key);
        fl_config_set(c, key, "");
        fl_config_set(c, options[i].older[0], "");
        assert_null(fl_checkpoint_config_get(c, key, NULL));
        fl_config_set(c, options[i].older[1], "/oldest");
        assert_string_equal(fl_checkpoint_config_get(c, key, &which), "/oldest");
        assert_string_equal(which, options[i].older[1]);
        fl_config_set(c, options[i].older[0], "/older");
        assert_string_equal(fl_checkpoint_config_get(c, key, &which), "/older");
        assert_string_equal(which, options[i].older[0]);
        fl_config_set(c, key, "/current");
        assert_string_equal(fl_checkpoint_config_get(c, key, &which), "/current");
        assert_string_equal(which, key);
        fl_config_destroy(c);
    }
    /* A key without older names is read alone. */
    fl_config *c = fl_config_create();
    fl_config_set(c, "state.checkpoints.dir", "/x");
    assert_null(fl_checkpoint_config_get(c, "state.checkpoints.di", NULL));
    assert_string_equal(fl_checkpoint_config_get(c, "state.checkpoints.dir", NULL), "/x");
    fl_config_destroy(c);
}

static void expect_config_error(test_dir *t, const char *key, const char *value, int code,
                                const char *fragment) {
    fl_config *c = test_config(t, 0, NULL);
    fl_config_set(c, key, value);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    if (s != NULL) fail_msg("%s=%s was accepted", key, value);
    assert_int_equal(err.code, code);
    if (strstr(err.message, fragment) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", err.message, fragment);
    fl_config_destroy(c);
}

static void test_config_errors(void **state) {
    test_dir *t = *state;
    expect_config_error(t, FL_CONF_NUM_RETAINED, "0", FL_ECONFIG,
                        "execution.checkpointing.num-retained: 0");
    expect_config_error(t, FL_CONF_NUM_RETAINED, "many", FL_ECONFIG, "num-retained");
    expect_config_error(t, FL_CONF_CHECKPOINT_RETENTION, "KEEP", FL_ECONFIG,
                        "RETAIN_ON_CANCELLATION");
    expect_config_error(t, FL_CONF_CHECKPOINTS_DIR, "hdfs://namenode/ckpt", FL_EUNSUPPORTED,
                        "hdfs://namenode/ckpt");
    expect_config_error(t, FL_CONF_SAVEPOINTS_DIR, "s3://bucket/sp", FL_EUNSUPPORTED,
                        "execution.checkpointing.savepoint-dir");
    expect_config_error(t, FL_CONF_CHECKPOINTS_DIR, "file://relative", FL_ECONFIG,
                        "not a local path");
    expect_config_error(t, FL_CONF_CREATE_SUBDIR, "maybe", FL_ECONFIG, "create-subdir");

    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    assert_null(fl_checkpoint_storage_create(c, "../etc", &err));
    assert_int_equal(err.code, FL_EINVAL);
    assert_non_null(strstr(err.message, "\"../etc\" is not a job id"));
    fl_config_destroy(c);

    fl_checkpoint_retention r;
    assert_int_equal(fl_checkpoint_retention_parse("retain_on_cancellation", &r), 0);
    assert_int_equal(r, FL_RETAIN_ON_CANCELLATION);
    assert_string_equal(fl_checkpoint_retention_name(FL_RETAIN_NO_EXTERNALIZED),
                        "NO_EXTERNALIZED_CHECKPOINTS");
}

int main(void) {
    fl_log_set_level(FL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keeps_exactly_n, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_default_keeps_one_and_savepoints_stay, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_adopts_existing, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_job_end_policies, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_config_keys, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, test_dir_setup, test_dir_teardown),
        cmocka_unit_test(test_config_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
