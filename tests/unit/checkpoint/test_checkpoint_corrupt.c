/*
 * test_checkpoint_corrupt.c - damaged checkpoints are found, never loaded:
 * a state file with a flipped byte, cut short, grown, or missing; a _metadata
 * with a changed byte (also one that leaves valid JSON, a size 1 larger),
 * cut short, empty, foreign, or of a newer format version. Opening such a
 * checkpoint by name fails with a message naming the file and the problem;
 * "latest" falls back to the previous retained checkpoint and logs a
 * warning naming the broken one; when every checkpoint is broken, the error
 * lists each of them. A quick open (sizes only) still refuses the bytes at
 * read time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ckpt_fixtures.h"

typedef struct fixture {
    test_dir dir;
    fl_checkpoint_storage *s;
    char job[600];
} fixture;

/* Checkpoint id: operator "a" (2 subtasks, a keyed file each) and "b" (1
 * subtask, an operator-state file); seeds id*10 + file. */
static void complete_one(fl_checkpoint_storage *s, int64_t id) {
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, id, FL_CHECKPOINT, NULL, &err);
    assert_non_null(w);
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(id, FL_CHECKPOINT, TEST_JOB_ID, "corrupt", id);
    fl_checkpoint_operator *a = fl_checkpoint_metadata_add_operator(md, "a", NULL, 2, 128, &err);
    fl_checkpoint_operator *b = fl_checkpoint_metadata_add_operator(md, "b", NULL, 1, 128, &err);
    fl_state_file h;
    for (int i = 0; i < 2; i++) {
        /* Seeds chosen so that every file has bytes (content_for may give 0). */
        uint64_t seed = (uint64_t)id * 10 + (uint64_t)i;
        for (;;) {
            size_t len;
            free(content_for(seed, &len));
            if (len > 0) break;
            seed += 1000;
        }
        assert_int_equal(write_state(w, "a", i, "keyed", seed, &h, &err), 0);
        fl_checkpoint_subtask_add_file(&a->subtasks[i], &h);
        fl_state_file_fini(&h);
    }
    fl_state_file_writer *f = fl_checkpoint_writer_open_file(w, "b", 0, "operator", &err);
    assert_int_equal(fl_state_file_writer_write(f, "offsets:1,2,3", 13), 0);
    assert_int_equal(fl_state_file_writer_close(f, &h, &err), 0);
    fl_checkpoint_subtask_add_file(&b->subtasks[0], &h);
    fl_state_file_fini(&h);
    if (fl_checkpoint_writer_complete(w, md, &err) != 0) fail_msg("%s", err.message);
    fl_checkpoint_metadata_destroy(md);
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    if (test_dir_make(&fx->dir) != 0) return -1;
    fl_config *c = test_config(&fx->dir, 3, NULL);
    fx->s = fl_checkpoint_storage_create(c, TEST_JOB_ID, NULL);
    fl_config_destroy(c);
    if (fx->s == NULL) return -1;
    snprintf(fx->job, sizeof fx->job, "%s", fl_checkpoint_storage_job_dir(fx->s));
    for (int64_t id = 1; id <= 3; id++) complete_one(fx->s, id);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    fl_checkpoint_storage_destroy(fx->s);
    test_dir_remove(&fx->dir);
    free(fx);
    return 0;
}

/* Path (static buffer) of the state file of operator uid, subtask i in chk-id. */
static const char *state_path(fixture *fx, int64_t id, const char *uid, int i) {
    static char path[900];
    char dir[700];
    snprintf(dir, sizeof dir, "%s/chk-%lld", fx->job, (long long)id);
    fl_error err = {0};
    fl_checkpoint_reader *r = fl_checkpoint_reader_open(dir, FL_CHECKPOINT_OPEN_QUICK, &err);
    if (r == NULL) fail_msg("%s", err.message);
    const fl_checkpoint_operator *op =
        fl_checkpoint_metadata_find(fl_checkpoint_reader_metadata(r), uid);
    snprintf(path, sizeof path, "%s/%s", dir, op->subtasks[i].files[0].path);
    fl_checkpoint_reader_close(r);
    return path;
}

static const char *metadata_path(fixture *fx, int64_t id) {
    static char path[800];
    snprintf(path, sizeof path, "%s/chk-%lld/_metadata", fx->job, (long long)id);
    return path;
}

/* chk-3 is broken: opening it by name fails with `code` and a message
 * holding each fragment; "latest" falls back to chk-2 with a warning
 * naming chk-3. */
static void expect_broken_latest(fixture *fx, int code, const char *frag1, const char *frag2) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/chk-3", fx->job);
    fl_error err = {0};
    fl_checkpoint_reader *r = fl_checkpoint_reader_open(dir, 0, &err);
    if (r != NULL) fail_msg("a broken checkpoint was opened");
    assert_int_equal(err.code, code);
    if (strstr(err.message, frag1) == NULL) fail_msg("\"%s\" lacks \"%s\"", err.message, frag1);
    if (frag2 && strstr(err.message, frag2) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err.message, frag2);

    fl_log_set_level(FL_LOG_WARN);
    log_to(&fx->dir);
    fl_error_clear(&err);
    r = fl_checkpoint_reader_open(fx->job, 0, &err);
    char *log = log_take(&fx->dir);
    fl_log_set_level(FL_LOG_ERROR);
    if (r == NULL) fail_msg("no fallback: %s", err.message);
    assert_int_equal(fl_checkpoint_reader_metadata(r)->checkpoint_id, 2);
    fl_checkpoint_reader_close(r);
    if (strstr(log, "WARN") == NULL || strstr(log, dir) == NULL || strstr(log, frag1) == NULL)
        fail_msg("no warning naming %s: %s", dir, log);
    free(log);
}

static void test_state_file_flipped_byte(void **state) {
    fixture *fx = *state;
    const char *p = state_path(fx, 3, "a", 1);
    flip_byte(p, file_size(p) / 2);
    expect_broken_latest(fx, FL_EFORMAT, "checksum mismatch", p);
    /* The message also says which operator and subtask. */
    fl_error err = {0};
    char dir[700];
    snprintf(dir, sizeof dir, "%s/chk-3", fx->job);
    assert_null(fl_checkpoint_reader_open(dir, 0, &err));
    assert_non_null(strstr(err.message, "operator \"a\" subtask 1"));
}

static void test_state_file_truncated(void **state) {
    fixture *fx = *state;
    const char *p = state_path(fx, 3, "a", 0);
    assert_int_equal(truncate(p, file_size(p) - 1), 0);
    expect_broken_latest(fx, FL_EFORMAT, "is truncated", p);
}

static void test_state_file_grown(void **state) {
    fixture *fx = *state;
    const char *p = state_path(fx, 3, "b", 0);
    FILE *f = fopen(p, "a");
    fputc('x', f);
    fclose(f);
    expect_broken_latest(fx, FL_EFORMAT, "is corrupted: 14 bytes, the metadata records 13", p);
}

static void test_state_file_missing(void **state) {
    fixture *fx = *state;
    const char *p = state_path(fx, 3, "b", 0);
    char copy[900];
    snprintf(copy, sizeof copy, "%s", p);
    assert_int_equal(unlink(copy), 0);
    expect_broken_latest(fx, FL_ENOENT, "is missing", copy);
}

static void test_metadata_flipped_byte(void **state) {
    fixture *fx = *state;
    const char *p = metadata_path(fx, 3);
    flip_byte(p, file_size(p) / 2);
    expect_broken_latest(fx, FL_EFORMAT, "checksum mismatch", p);
}

/* A change that leaves the JSON valid and plausible: one size one larger. */
static void test_metadata_plausible_change(void **state) {
    fixture *fx = *state;
    const char *p = metadata_path(fx, 3);
    size_t len;
    char *text = read_text(p, &len);
    char *size = strstr(text, "\"size\": 13");
    assert_non_null(size);
    size[strlen("\"size\": 13") - 1] = '4';
    FILE *f = fopen(p, "w");
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    expect_broken_latest(fx, FL_EFORMAT, "checksum mismatch", p);
}

static void test_metadata_truncated(void **state) {
    fixture *fx = *state;
    const char *p = metadata_path(fx, 3);
    assert_int_equal(truncate(p, file_size(p) / 2), 0);
    expect_broken_latest(fx, FL_EFORMAT, "is truncated", p);
    /* Cut inside the header line too. */
    assert_int_equal(truncate(p, 20), 0);
    expect_broken_latest(fx, FL_EFORMAT, "is truncated", p);
}

static void test_metadata_last_newline_missing(void **state) {
    fixture *fx = *state;
    const char *p = metadata_path(fx, 3);
    assert_int_equal(truncate(p, file_size(p) - 1), 0);
    expect_broken_latest(fx, FL_EFORMAT, "is truncated", p);
}

static void test_metadata_empty_or_foreign(void **state) {
    fixture *fx = *state;
    const char *p = metadata_path(fx, 3);
    assert_int_equal(truncate(p, 0), 0);
    expect_broken_latest(fx, FL_EFORMAT, "is empty", p);
    write_text(p, "{\"checkpointId\": 3}\n");
    expect_broken_latest(fx, FL_EFORMAT, "is not a flinc checkpoint metadata file", p);
}

static void test_metadata_newer_version(void **state) {
    fixture *fx = *state;
    const char *p = metadata_path(fx, 3);
    size_t len;
    char *text = read_text(p, &len);
    char *v = strstr(text, "\"version\": 1");
    assert_non_null(v);
    v[strlen("\"version\": 1") - 1] = '2';
    FILE *f = fopen(p, "w");
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    expect_broken_latest(fx, FL_EUNSUPPORTED, "format version 2", p);
}

static void test_all_broken(void **state) {
    fixture *fx = *state;
    flip_byte(state_path(fx, 1, "a", 0), 0);
    assert_int_equal(truncate(metadata_path(fx, 2), 10), 0);
    assert_int_equal(unlink(state_path(fx, 3, "b", 0)), 0);
    fl_error err = {0};
    fl_log_set_level(FL_LOG_OFF);
    assert_null(fl_checkpoint_reader_open_latest(fx->job, 0, &err));
    fl_log_set_level(FL_LOG_ERROR);
    assert_int_equal(err.code, FL_ENOENT); /* the newest one's problem */
    assert_non_null(strstr(err.message, "no usable checkpoint in"));
    assert_non_null(strstr(err.message, fx->job));
    char *c3 = strstr(err.message, "chk-3: "), *c2 = strstr(err.message, "chk-2: "),
         *c1 = strstr(err.message, "chk-1: ");
    assert_true(c3 && c2 && c1 && c3 < c2 && c2 < c1);
    assert_non_null(strstr(c3, "is missing"));
    assert_non_null(strstr(c2, "is truncated"));
    assert_non_null(strstr(c1, "checksum mismatch"));
}

static void test_quick_open_checks_at_read(void **state) {
    fixture *fx = *state;
    char dir[700];
    snprintf(dir, sizeof dir, "%s/chk-3", fx->job);
    const char *p = state_path(fx, 3, "b", 0);
    flip_byte(p, 3);
    fl_error err = {0};
    fl_checkpoint_reader *r = fl_checkpoint_reader_open(dir, FL_CHECKPOINT_OPEN_QUICK, &err);
    assert_non_null(r); /* same size: the quick open does not see it */
    const fl_checkpoint_operator *b =
        fl_checkpoint_metadata_find(fl_checkpoint_reader_metadata(r), "b");
    void *data = (void *)1;
    size_t len = 1;
    assert_int_equal(fl_checkpoint_reader_read(r, &b->subtasks[0].files[0], &data, &len, &err),
                     FL_EFORMAT);
    assert_null(data);
    assert_int_equal(len, 0);
    assert_non_null(strstr(err.message, "checksum mismatch"));

    /* Damage after a full open is caught by the read as well. */
    flip_byte(p, 3); /* repaired */
    fl_checkpoint_reader_close(r);
    r = fl_checkpoint_reader_open(dir, 0, &err);
    assert_non_null(r);
    b = fl_checkpoint_metadata_find(fl_checkpoint_reader_metadata(r), "b");
    assert_int_equal(fl_checkpoint_reader_read(r, &b->subtasks[0].files[0], &data, &len, &err), 0);
    assert_int_equal(len, 13);
    assert_memory_equal(data, "offsets:1,2,3", 13);
    free(data);
    assert_int_equal(truncate(p, 5), 0);
    fl_error_clear(&err);
    assert_int_equal(fl_checkpoint_reader_read(r, &b->subtasks[0].files[0], &data, &len, &err),
                     FL_EFORMAT);
    assert_non_null(strstr(err.message, "is truncated: 5 bytes, the metadata records 13"));
    fl_checkpoint_reader_close(r);
}

int main(void) {
    fl_log_set_level(FL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_file_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_file_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_file_grown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_file_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_plausible_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_last_newline_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_empty_or_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_newer_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quick_open_checks_at_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
