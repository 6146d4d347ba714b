/*
 * test_checkpoint_errors.c - the message for each way the file system can
 * get in the way: a path that does not exist, a directory that is not a
 * checkpoint, a file that is not metadata, and (since permissions do not
 * stop root) a regular file where a directory is expected - as the
 * checkpoints directory, under the savepoint parent, in place of a job's or
 * a checkpoint's directory - and a directory where _metadata's temp file or a
 * state file is expected. Each message names the path and the cause, in
 * lower case; a failed complete discards the checkpoint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ckpt_fixtures.h"

static void expect_msg(const fl_error *err, int code, const char *frag1, const char *frag2) {
    if (err->code != code)
        fail_msg("code %s, expected %s: %s", fl_strerror_name(err->code), fl_strerror_name(code),
                 err->message);
    if (strstr(err->message, frag1) == NULL) fail_msg("\"%s\" lacks \"%s\"", err->message, frag1);
    if (frag2 && strstr(err->message, frag2) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err->message, frag2);
    /* flinc's message style: starts lower case (or with a quoted path), no period at the end. */
    char c = err->message[0];
    assert_true((c >= 'a' && c <= 'z') || c == '"');
    assert_int_not_equal(err->message[strlen(err->message) - 1], '.');
}

static void test_open_missing(void **state) {
    test_dir *t = *state;
    fl_error err = {0};
    const char *p = join(t, "no/such/chk-1");
    assert_null(fl_checkpoint_reader_open(p, 0, &err));
    expect_msg(&err, FL_ENOENT, p, "no such file or directory");

    fl_error_clear(&err);
    p = join(t, "no-job");
    assert_null(fl_checkpoint_reader_open_latest(p, 0, &err));
    expect_msg(&err, FL_ENOENT, p, "no such directory");

    fl_error_clear(&err);
    assert_null(fl_checkpoint_reader_open("", 0, &err));
    assert_int_equal(err.code, FL_EINVAL);
}

static void test_open_not_a_checkpoint(void **state) {
    test_dir *t = *state;
    fl_error err = {0};
    assert_null(fl_checkpoint_reader_open(t->root, 0, &err));
    expect_msg(&err, FL_ENOENT, t->root, "is not a checkpoint or savepoint");

    const char *f = join(t, "notes.txt");
    write_text(f, "hello\n");
    fl_error_clear(&err);
    assert_null(fl_checkpoint_reader_open(f, 0, &err));
    expect_msg(&err, FL_EFORMAT, f, "not a flinc checkpoint metadata file");

    fl_error_clear(&err);
    assert_null(fl_checkpoint_reader_open_latest(f, 0, &err));
    expect_msg(&err, FL_EIO, f, "not a directory");
}

static void test_file_where_checkpoints_dir_expected(void **state) {
    test_dir *t = *state;
    write_text(join(t, "checkpoints"), "in the way\n");
    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    assert_null(fl_checkpoint_storage_create(c, TEST_JOB_ID, &err));
    char root[600];
    snprintf(root, sizeof root, "%s/checkpoints", t->root);
    expect_msg(&err, FL_EIO, "could not create checkpoint directory", root);
    assert_non_null(strstr(err.message, "is not a directory"));
    fl_config_destroy(c);
}

static void test_file_where_savepoint_parent_expected(void **state) {
    test_dir *t = *state;
    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    fl_config_destroy(c);
    char parent[600];
    snprintf(parent, sizeof parent, "%s/blocked", t->root);
    write_text(parent, "x");
    char target[700];
    snprintf(target, sizeof target, "%s/sub", parent);
    assert_null(fl_checkpoint_storage_begin(s, 1, FL_SAVEPOINT, target, &err));
    expect_msg(&err, FL_EIO, "could not create savepoint directory", parent);
    fl_checkpoint_storage_destroy(s);
}

static void test_file_where_job_dir_expected(void **state) {
    test_dir *t = *state;
    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    fl_config_destroy(c);
    /* Someone replaced the job's directory with a file while it ran. */
    const char *job = fl_checkpoint_storage_job_dir(s);
    assert_int_equal(rmdir(job), 0);
    write_text(job, "x");
    assert_null(fl_checkpoint_storage_begin(s, 1, FL_CHECKPOINT, NULL, &err));
    expect_msg(&err, FL_EIO, job, "is not a directory");
    fl_checkpoint_storage_destroy(s);
}

static void test_state_file_cannot_be_created(void **state) {
    test_dir *t = *state;
    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    fl_config_destroy(c);
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 1, FL_CHECKPOINT, NULL, &err);
    char dir[700];
    snprintf(dir, sizeof dir, "%s", fl_checkpoint_writer_dir(w));
    /* The checkpoint's directory is a file now. */
    assert_int_equal(rmdir(dir), 0);
    write_text(dir, "x");
    assert_null(fl_checkpoint_writer_open_file(w, "op", 0, "keyed", &err));
    expect_msg(&err, FL_EIO, "could not create state file", dir);
    assert_non_null(strstr(err.message, "not a directory"));
    unlink(dir);
    fl_checkpoint_writer_abort(w);

    /* A role that is not one. */
    fl_error_clear(&err);
    w = fl_checkpoint_storage_begin(s, 2, FL_CHECKPOINT, NULL, &err);
    assert_null(fl_checkpoint_writer_open_file(w, "op", 0, "Keyed State", &err));
    expect_msg(&err, FL_EINVAL, "\"Keyed State\" is not a state file role", NULL);
    fl_checkpoint_writer_abort(w);
    fl_checkpoint_storage_destroy(s);
}

static void test_metadata_cannot_be_written(void **state) {
    test_dir *t = *state;
    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    fl_config_destroy(c);
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 1, FL_CHECKPOINT, NULL, &err);
    char dir[700], tmp[800];
    snprintf(dir, sizeof dir, "%s", fl_checkpoint_writer_dir(w));
    snprintf(tmp, sizeof tmp, "%s/_metadata.inprogress", dir);
    assert_int_equal(mkdir(tmp, 0755), 0); /* a directory where the temp file goes */
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(1, FL_CHECKPOINT, TEST_JOB_ID, NULL, 0);
    assert_int_equal(fl_checkpoint_writer_complete(w, md, &err), FL_EIO);
    expect_msg(&err, FL_EIO, tmp, "is a directory");
    assert_false(path_exists(dir)); /* discarded */
    int64_t ids[1];
    assert_int_equal(fl_checkpoint_storage_retained(s, ids, 1), 0);
    fl_checkpoint_metadata_destroy(md);
    fl_checkpoint_storage_destroy(s);
}

static void test_state_path_is_a_directory(void **state) {
    test_dir *t = *state;
    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    fl_config_destroy(c);
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 1, FL_CHECKPOINT, NULL, &err);
    fl_state_file h;
    assert_int_equal(write_state(w, "op", 0, "keyed", 3, &h, &err), 0);
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(1, FL_CHECKPOINT, TEST_JOB_ID, NULL, 0);
    fl_checkpoint_operator *op = fl_checkpoint_metadata_add_operator(md, "op", NULL, 1, 1, &err);
    fl_checkpoint_subtask_add_file(&op->subtasks[0], &h);
    assert_int_equal(fl_checkpoint_writer_complete(w, md, &err), 0);
    char p[900];
    snprintf(p, sizeof p, "%s/chk-1/%s", fl_checkpoint_storage_job_dir(s), h.path);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_null(fl_checkpoint_reader_open(fl_checkpoint_storage_job_dir(s),
                                          FL_CHECKPOINT_OPEN_QUICK, &err));
    assert_int_equal(err.code, FL_EFORMAT);
    assert_non_null(strstr(err.message, "not a regular file"));
    fl_checkpoint_metadata_destroy(md);
    fl_state_file_fini(&h);
    fl_checkpoint_storage_destroy(s);
}

int main(void) {
    fl_log_set_level(FL_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_missing, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_not_a_checkpoint, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_file_where_checkpoints_dir_expected, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_file_where_savepoint_parent_expected, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_file_where_job_dir_expected, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_state_file_cannot_be_created, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_metadata_cannot_be_written, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_state_path_is_a_directory, test_dir_setup,
                                        test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
