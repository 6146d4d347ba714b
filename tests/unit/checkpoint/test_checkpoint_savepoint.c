/*
 * test_checkpoint_savepoint.c - savepoints: a directory of their own named
 * savepoint-<job-id[0..6]>-<12 hex> under the configured or the given
 * parent, self-contained (relative file names only), so that the directory
 * can be moved elsewhere and still restored byte for byte; untouched by
 * checkpoint retention; readable by any job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ckpt_fixtures.h"

#define N_SUBTASKS 3

/* Completes savepoint `id` under parent (NULL: configured) with a keyed file
 * per subtask (seed id*10+i) and a source position; returns its dir (new). */
static char *take_savepoint(fl_checkpoint_storage *s, int64_t id, const char *parent) {
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, id, FL_SAVEPOINT, parent, &err);
    if (w == NULL) fail_msg("%s", err.message);
    assert_int_equal(fl_checkpoint_writer_kind(w), FL_SAVEPOINT);
    assert_int_equal(fl_checkpoint_writer_id(w), id);
    char *dir = strdup(fl_checkpoint_writer_dir(w));
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(id, FL_SAVEPOINT, TEST_JOB_ID, "savepoint job", 5);
    fl_checkpoint_operator *op =
        fl_checkpoint_metadata_add_operator(md, "window-agg", "Window", N_SUBTASKS, 64, &err);
    for (int i = 0; i < N_SUBTASKS; i++) {
        fl_state_file h;
        assert_int_equal(
            write_state(w, "window-agg", i, "keyed", (uint64_t)(id * 10 + i), &h, &err), 0);
        fl_checkpoint_subtask_add_file(&op->subtasks[i], &h);
        fl_state_file_fini(&h);
        fl_kv_set(op->subtasks[i].values, "split", "file-0:1234");
    }
    if (fl_checkpoint_writer_complete(w, md, &err) != 0) fail_msg("%s", err.message);
    fl_checkpoint_metadata_destroy(md);
    return dir;
}

static void check_savepoint(const char *path, int64_t id) {
    fl_error err = {0};
    fl_checkpoint_reader *r = fl_checkpoint_reader_open(path, 0, &err);
    if (r == NULL) fail_msg("%s", err.message);
    const fl_checkpoint_metadata *md = fl_checkpoint_reader_metadata(r);
    assert_int_equal(md->kind, FL_SAVEPOINT);
    assert_int_equal(md->checkpoint_id, id);
    const fl_checkpoint_operator *op = fl_checkpoint_metadata_find(md, "window-agg");
    assert_non_null(op);
    for (int i = 0; i < N_SUBTASKS; i++) {
        size_t want_len, len;
        unsigned char *want = content_for((uint64_t)(id * 10 + i), &want_len);
        void *data;
        if (fl_checkpoint_reader_read(r, &op->subtasks[i].files[0], &data, &len, &err) != 0)
            fail_msg("%s", err.message);
        assert_int_equal(len, want_len);
        if (len) assert_memory_equal(data, want, len);
        assert_string_equal(fl_kv_get(op->subtasks[i].values, "split"), "file-0:1234");
        free(data);
        free(want);
    }
    fl_checkpoint_reader_close(r);
}

static bool is_savepoint_name(const char *base) {
    /* savepoint-<first 6 of the job id>-<12 lower-case hex> */
    if (strncmp(base, "savepoint-012345-", 17) != 0 || strlen(base) != 17 + 12) return false;
    for (const char *c = base + 17; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return false;
    return true;
}

static void test_naming_and_location(void **state) {
    test_dir *t = *state;
    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    fl_config_destroy(c);
    char *a = take_savepoint(s, 1, NULL);
    char *b = take_savepoint(s, 1, NULL);
    assert_string_not_equal(a, b);
    char parent[600];
    snprintf(parent, sizeof parent, "%s/savepoints/", t->root);
    assert_int_equal(strncmp(a, parent, strlen(parent)), 0);
    assert_true(is_savepoint_name(a + strlen(parent)));
    assert_true(is_savepoint_name(b + strlen(parent)));

    /* A given parent, created when missing. */
    snprintf(parent, sizeof parent, "%s/elsewhere/deeper", t->root);
    char *d = take_savepoint(s, 9, parent);
    assert_int_equal(strncmp(d, parent, strlen(parent)), 0);
    assert_true(is_savepoint_name(d + strlen(parent) + 1));
    check_savepoint(d, 9);

    /* Savepoints are not checkpoints: none retained, none in the job directory. */
    int64_t ids[2];
    assert_int_equal(fl_checkpoint_storage_retained(s, ids, 2), 0);
    assert_int_equal(count_entries(fl_checkpoint_storage_job_dir(s)), 0);
    free(a);
    free(b);
    free(d);
    fl_checkpoint_storage_destroy(s);
}

static void test_relocated_savepoint(void **state) {
    test_dir *t = *state;
    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    fl_config_destroy(c);
    char *dir = take_savepoint(s, 4, NULL);
    fl_checkpoint_storage_destroy(s);

    /* Nothing in _metadata mentions where it was written. */
    char md_path[800];
    snprintf(md_path, sizeof md_path, "%s/_metadata", dir);
    char *text = read_text(md_path, NULL);
    assert_null(strstr(text, t->root));
    free(text);

    /* Moved to another directory tree. */
    char moved[600];
    snprintf(moved, sizeof moved, "%s/archive", t->root);
    assert_int_equal(mkdir(moved, 0755), 0);
    snprintf(moved, sizeof moved, "%s/archive/my-savepoint", t->root);
    assert_int_equal(rename(dir, moved), 0);
    assert_false(path_exists(dir));
    check_savepoint(moved, 4);
    char moved_md[700];
    snprintf(moved_md, sizeof moved_md, "%s/_metadata", moved);
    check_savepoint(moved_md, 4);
    char slash[700];
    snprintf(slash, sizeof slash, "%s/", moved);
    check_savepoint(slash, 4);

    /* Opened through a relative path from inside the archive as well. */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(join(t, "archive")), 0);
    check_savepoint("my-savepoint", 4);
    assert_int_equal(chdir("my-savepoint"), 0);
    check_savepoint("_metadata", 4);
    assert_int_equal(chdir(cwd), 0);
    free(dir);
}

static void test_savepoint_kind_must_match(void **state) {
    test_dir *t = *state;
    fl_config *c = test_config(t, 0, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(c, TEST_JOB_ID, &err);
    fl_config_destroy(c);
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 2, FL_SAVEPOINT, NULL, &err);
    char *dir = strdup(fl_checkpoint_writer_dir(w));
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(2, FL_CHECKPOINT, TEST_JOB_ID, NULL, 0);
    assert_int_equal(fl_checkpoint_writer_complete(w, md, &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "savepoint 2"));
    assert_false(path_exists(dir));
    fl_checkpoint_metadata_destroy(md);
    free(dir);
    fl_checkpoint_storage_destroy(s);
}

int main(void) {
    fl_log_set_level(FL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_naming_and_location, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_relocated_savepoint, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_savepoint_kind_must_match, test_dir_setup,
                                        test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
