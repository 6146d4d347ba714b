/*
 * test_checkpoint_crash.c - what a crash or an abort leaves behind is never
 * taken for a complete checkpoint: a chk-N directory with state files but no
 * _metadata, or with only a _metadata.inprogress (the process died before the
 * rename), is skipped by "latest" (which falls back to the previous complete
 * checkpoint) and refused by name with a message saying it is incomplete.
 * Aborting removes the directory, also when subtasks still have files open
 * (their writes then fail with FL_ECANCELED and the last close removes it);
 * completing with a file still open fails and discards; begin() reuses an
 * incomplete leftover of the same id but refuses a complete one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "ckpt_fixtures.h"

/* A complete checkpoint `id` with one 100-byte file of subtask 0 of "op". */
static void complete_one(fl_checkpoint_storage *s, int64_t id) {
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, id, FL_CHECKPOINT, NULL, &err);
    if (w == NULL) fail_msg("begin %lld: %s", (long long)id, err.message);
    fl_state_file_writer *f = fl_checkpoint_writer_open_file(w, "op", 0, "keyed", &err);
    assert_non_null(f);
    unsigned char bytes[100];
    memset(bytes, (int)id, sizeof bytes);
    assert_int_equal(fl_state_file_writer_write(f, bytes, sizeof bytes), 0);
    fl_state_file h;
    assert_int_equal(fl_state_file_writer_close(f, &h, &err), 0);
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(id, FL_CHECKPOINT, TEST_JOB_ID, "crash", id);
    fl_checkpoint_operator *op = fl_checkpoint_metadata_add_operator(md, "op", NULL, 1, 128, &err);
    fl_checkpoint_subtask_add_file(&op->subtasks[0], &h);
    if (fl_checkpoint_writer_complete(w, md, &err) != 0) fail_msg("complete: %s", err.message);
    fl_checkpoint_metadata_destroy(md);
    fl_state_file_fini(&h);
}

/* A checkpoint `id` whose state was written but that never completed (the
 * "process" died): the caller keeps the writer only to free it at the end. */
static fl_checkpoint_writer *crash_before_metadata(fl_checkpoint_storage *s, int64_t id) {
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, id, FL_CHECKPOINT, NULL, &err);
    assert_non_null(w);
    fl_state_file h;
    assert_int_equal(write_state(w, "op", 0, "keyed", 42, &h, &err), 0);
    fl_state_file_fini(&h);
    return w;
}

static fl_checkpoint_storage *storage(test_dir *t, int retained) {
    fl_config *conf = test_config(t, retained, NULL);
    fl_error err = {0};
    fl_checkpoint_storage *s = fl_checkpoint_storage_create(conf, TEST_JOB_ID, &err);
    if (s == NULL) fail_msg("%s", err.message);
    fl_config_destroy(conf);
    return s;
}

static int64_t latest_id(const char *job_dir) {
    fl_error err = {0};
    fl_checkpoint_reader *r = fl_checkpoint_reader_open_latest(job_dir, 0, &err);
    if (r == NULL) fail_msg("%s", err.message);
    int64_t id = fl_checkpoint_reader_metadata(r)->checkpoint_id;
    fl_checkpoint_reader_close(r);
    return id;
}

static void test_no_metadata_is_incomplete(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 3);
    complete_one(s, 1);
    fl_checkpoint_writer *w = crash_before_metadata(s, 2);
    const char *job = fl_checkpoint_storage_job_dir(s);

    /* "latest" skips chk-2 and takes chk-1. */
    assert_int_equal(latest_id(job), 1);

    /* chk-2 by name: incomplete, with a message saying so. */
    fl_error err = {0};
    char dir[700];
    snprintf(dir, sizeof dir, "%s/chk-2", job);
    assert_null(fl_checkpoint_reader_open(dir, 0, &err));
    assert_int_equal(err.code, FL_ENOENT);
    assert_non_null(strstr(err.message, dir));
    assert_non_null(strstr(err.message, "incomplete"));

    fl_checkpoint_writer_abort(w);
    assert_false(path_exists(dir));
    fl_checkpoint_storage_destroy(s);
}

static void test_temp_metadata_is_incomplete(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 3);
    complete_one(s, 1);
    complete_one(s, 2);
    const char *job = fl_checkpoint_storage_job_dir(s);
    char md[800], tmp[800];
    /* chk-2 as if the process died between writing the temp file and the
     * rename: a whole, valid metadata under the temp name. */
    snprintf(md, sizeof md, "%s/chk-2/_metadata", job);
    snprintf(tmp, sizeof tmp, "%s/chk-2/_metadata.inprogress", job);
    assert_int_equal(rename(md, tmp), 0);

    assert_int_equal(latest_id(job), 1);
    fl_error err = {0};
    char dir[700];
    snprintf(dir, sizeof dir, "%s/chk-2", job);
    assert_null(fl_checkpoint_reader_open(dir, 0, &err));
    assert_int_equal(err.code, FL_ENOENT);
    assert_non_null(strstr(err.message, "incomplete"));

    /* A restarted storage does not count it as retained, but numbers after it. */
    fl_checkpoint_storage_destroy(s);
    s = storage(t, 3);
    int64_t ids[4];
    assert_int_equal(fl_checkpoint_storage_retained(s, ids, 4), 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(fl_checkpoint_storage_max_id(s), 2);
    fl_checkpoint_storage_destroy(s);
}

static void test_only_incomplete(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 1);
    fl_checkpoint_writer *w = crash_before_metadata(s, 1);
    fl_error err = {0};
    assert_null(fl_checkpoint_reader_open_latest(fl_checkpoint_storage_job_dir(s), 0, &err));
    assert_int_equal(err.code, FL_ENOENT);
    assert_non_null(strstr(err.message, "no completed checkpoint"));
    assert_non_null(strstr(err.message, fl_checkpoint_storage_job_dir(s)));
    fl_checkpoint_writer_abort(w);

    /* An empty job directory. */
    fl_error_clear(&err);
    assert_null(fl_checkpoint_reader_open_latest(fl_checkpoint_storage_job_dir(s), 0, &err));
    assert_int_equal(err.code, FL_ENOENT);
    assert_non_null(strstr(err.message, "no checkpoint in"));
    fl_checkpoint_storage_destroy(s);
}

static void test_abort_removes_directory(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 1);
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 5, FL_CHECKPOINT, NULL, &err);
    char *dir = strdup(fl_checkpoint_writer_dir(w));
    fl_state_file h;
    assert_int_equal(write_state(w, "a", 0, "keyed", 1, &h, &err), 0);
    fl_state_file_fini(&h);
    assert_true(dir_exists(dir));
    fl_checkpoint_writer_abort(w);
    assert_false(path_exists(dir));
    free(dir);
    fl_checkpoint_storage_destroy(s);
}

static void test_abort_with_open_file(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 1);
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 3, FL_CHECKPOINT, NULL, &err);
    char *dir = strdup(fl_checkpoint_writer_dir(w));
    fl_state_file_writer *slow = fl_checkpoint_writer_open_file(w, "slow", 1, "keyed", &err);
    assert_non_null(slow);
    assert_int_equal(fl_state_file_writer_write(slow, "abc", 3), 0);

    fl_checkpoint_writer_abort(w); /* the coordinator does not wait */
    assert_true(dir_exists(dir));  /* the slow subtask still writes into it */
    assert_int_equal(fl_state_file_writer_write(slow, "def", 3), FL_ECANCELED);
    fl_state_file h;
    assert_int_equal(fl_state_file_writer_close(slow, &h, &err), FL_ECANCELED);
    assert_non_null(strstr(err.message, "checkpoint 3 was aborted"));
    assert_null(h.path);
    assert_false(path_exists(dir)); /* the last close removed it */
    free(dir);
    fl_checkpoint_storage_destroy(s);
}

static void test_open_after_abort_is_canceled(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 1);
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 3, FL_CHECKPOINT, NULL, &err);
    char *dir = strdup(fl_checkpoint_writer_dir(w));
    fl_state_file_writer *a = fl_checkpoint_writer_open_file(w, "a", 0, "keyed", &err);
    fl_state_file_writer *b = fl_checkpoint_writer_open_file(w, "b", 0, "keyed", &err);
    assert_non_null(a);
    assert_non_null(b);
    fl_checkpoint_writer_abort(w);
    /* A subtask that starts its snapshot late, through the pointer it was given. */
    assert_null(fl_checkpoint_writer_open_file(w, "c", 0, "keyed", &err));
    assert_int_equal(err.code, FL_ECANCELED);
    fl_state_file_writer_discard(a);
    assert_true(dir_exists(dir)); /* b is still open */
    fl_state_file_writer_discard(b);
    assert_false(path_exists(dir));
    free(dir);
    fl_checkpoint_storage_destroy(s);
    (void)t;
}

/* Subtasks racing an abort: each opens a file, writes, meets the others
 * (and the coordinator) at a barrier, then keeps writing while the
 * coordinator aborts. Every subtask ends with success or FL_ECANCELED, and
 * the directory is gone once the last one is done, whoever that is. */
#define RACERS 8

typedef struct racer {
    fl_checkpoint_writer *w;
    pthread_barrier_t *barrier;
    int index;
    int write_rc, close_rc;
} racer;

static void *race(void *arg) {
    racer *r = arg;
    char chunk[4096];
    memset(chunk, r->index, sizeof chunk);
    fl_error err = {0};
    fl_state_file_writer *f =
        fl_checkpoint_writer_open_file(r->w, "racer", r->index, "keyed", &err);
    if (f != NULL) r->write_rc = fl_state_file_writer_write(f, chunk, sizeof chunk);
    pthread_barrier_wait(r->barrier);
    for (int i = 0; f != NULL && i < 200 && r->write_rc == 0; i++)
        r->write_rc = fl_state_file_writer_write(f, chunk, sizeof chunk);
    if (f != NULL) {
        fl_state_file h;
        r->close_rc = fl_state_file_writer_close(f, &h, &err);
        fl_state_file_fini(&h);
    } else {
        r->close_rc = err.code;
    }
    return NULL;
}

static void test_abort_while_subtasks_write(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 1);
    for (int64_t id = 1; id <= 20; id++) {
        fl_error err = {0};
        fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, id, FL_CHECKPOINT, NULL, &err);
        assert_non_null(w);
        char *dir = strdup(fl_checkpoint_writer_dir(w));
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, RACERS + 1);
        racer racers[RACERS];
        pthread_t threads[RACERS];
        for (int i = 0; i < RACERS; i++) {
            racers[i] = (racer){.w = w, .barrier = &barrier, .index = i};
            pthread_create(&threads[i], NULL, race, &racers[i]);
        }
        pthread_barrier_wait(&barrier);
        fl_checkpoint_writer_abort(w);
        for (int i = 0; i < RACERS; i++) {
            pthread_join(threads[i], NULL);
            assert_true(racers[i].write_rc == 0 || racers[i].write_rc == FL_ECANCELED);
            assert_true(racers[i].close_rc == 0 || racers[i].close_rc == FL_ECANCELED);
            if (racers[i].write_rc == FL_ECANCELED)
                assert_int_equal(racers[i].close_rc, FL_ECANCELED);
        }
        pthread_barrier_destroy(&barrier);
        assert_false(path_exists(dir));
        free(dir);
    }
    assert_int_equal(count_entries(fl_checkpoint_storage_job_dir(s)), 0);
    fl_checkpoint_storage_destroy(s);
}

static void test_complete_with_open_file_fails(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 1);
    complete_one(s, 1);
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 2, FL_CHECKPOINT, NULL, &err);
    char *dir = strdup(fl_checkpoint_writer_dir(w));
    fl_state_file_writer *f = fl_checkpoint_writer_open_file(w, "op", 0, "keyed", &err);
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(2, FL_CHECKPOINT, TEST_JOB_ID, NULL, 0);
    assert_int_equal(fl_checkpoint_writer_complete(w, md, &err), FL_ESTATE);
    assert_non_null(strstr(err.message, "still open"));
    /* Later opens are refused; the late file's close fails and removes the dir. */
    fl_state_file h;
    assert_int_equal(fl_state_file_writer_close(f, &h, NULL), FL_ECANCELED);
    assert_false(path_exists(dir));
    /* chk-1 is still the latest and was not subsumed. */
    assert_int_equal(latest_id(fl_checkpoint_storage_job_dir(s)), 1);
    fl_checkpoint_metadata_destroy(md);
    free(dir);
    fl_checkpoint_storage_destroy(s);
}

static void test_complete_checks_files(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 1);
    fl_error err = {0};

    /* A file the writer did not write. */
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s, 1, FL_CHECKPOINT, NULL, &err);
    char *dir = strdup(fl_checkpoint_writer_dir(w));
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(1, FL_CHECKPOINT, TEST_JOB_ID, NULL, 0);
    fl_checkpoint_operator *op = fl_checkpoint_metadata_add_operator(md, "op", NULL, 1, 1, &err);
    fl_state_file ghost = {.path = "op-ghost", .role = "keyed", .size = 1, .checksum = 2};
    fl_checkpoint_subtask_add_file(&op->subtasks[0], &ghost);
    assert_int_equal(fl_checkpoint_writer_complete(w, md, &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "op-ghost"));
    assert_false(path_exists(dir));
    fl_checkpoint_metadata_destroy(md);
    free(dir);

    /* A written file with a different size recorded. */
    fl_error_clear(&err);
    w = fl_checkpoint_storage_begin(s, 2, FL_CHECKPOINT, NULL, &err);
    fl_state_file h;
    assert_int_equal(write_state(w, "op", 0, "keyed", 3, &h, &err), 0);
    h.size += 1;
    md = fl_checkpoint_metadata_create(2, FL_CHECKPOINT, TEST_JOB_ID, NULL, 0);
    op = fl_checkpoint_metadata_add_operator(md, "op", NULL, 1, 1, &err);
    fl_checkpoint_subtask_add_file(&op->subtasks[0], &h);
    assert_int_equal(fl_checkpoint_writer_complete(w, md, &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "different size or checksum"));
    fl_checkpoint_metadata_destroy(md);
    fl_state_file_fini(&h);

    /* Metadata of another checkpoint id. */
    fl_error_clear(&err);
    w = fl_checkpoint_storage_begin(s, 3, FL_CHECKPOINT, NULL, &err);
    md = fl_checkpoint_metadata_create(4, FL_CHECKPOINT, TEST_JOB_ID, NULL, 0);
    assert_int_equal(fl_checkpoint_writer_complete(w, md, &err), FL_EINVAL);
    fl_checkpoint_metadata_destroy(md);

    /* Nothing completed. */
    fl_error_clear(&err);
    assert_null(fl_checkpoint_reader_open_latest(fl_checkpoint_storage_job_dir(s), 0, &err));
    assert_int_equal(count_entries(fl_checkpoint_storage_job_dir(s)), 0);
    fl_checkpoint_storage_destroy(s);
}

static void test_begin_reuses_incomplete_refuses_complete(void **state) {
    test_dir *t = *state;
    fl_checkpoint_storage *s = storage(t, 2);
    complete_one(s, 1);
    fl_checkpoint_writer *crashed_w = crash_before_metadata(s, 2);
    /* The "process" died: its writer is gone without cleaning up. A new
     * storage (the restarted job) begins checkpoint 2 again. */
    fl_checkpoint_storage *s2 = storage(t, 2);
    fl_error err = {0};
    fl_checkpoint_writer *w = fl_checkpoint_storage_begin(s2, 2, FL_CHECKPOINT, NULL, &err);
    if (w == NULL) fail_msg("%s", err.message);
    assert_int_equal(count_entries(fl_checkpoint_writer_dir(w)), 0); /* old files gone */
    fl_checkpoint_writer_abort(w);

    /* A complete checkpoint of the same id is refused (and ids not newer than the latest). */
    fl_error_clear(&err);
    assert_null(fl_checkpoint_storage_begin(s2, 1, FL_CHECKPOINT, NULL, &err));
    assert_int_equal(err.code, FL_ESTATE);
    assert_non_null(strstr(err.message, "not newer"));
    fl_error_clear(&err);
    assert_null(fl_checkpoint_storage_begin(s2, 0, FL_CHECKPOINT, NULL, &err));
    assert_int_equal(err.code, FL_EINVAL);

    /* Clean up the crashed writer (its directory is already gone). */
    fl_checkpoint_writer_abort(crashed_w);
    fl_checkpoint_storage_destroy(s2);
    fl_checkpoint_storage_destroy(s);
}

int main(void) {
    fl_log_set_level(FL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_metadata_is_incomplete, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_temp_metadata_is_incomplete, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_only_incomplete, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_abort_removes_directory, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_abort_with_open_file, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_after_abort_is_canceled, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_abort_while_subtasks_write, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_complete_with_open_file_fails, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_complete_checks_files, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_begin_reuses_incomplete_refuses_complete,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
