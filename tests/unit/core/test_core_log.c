/*
 * test_core_log.c - logging: the line format, level filtering, one whole
 * line per call from many threads at once, long messages, and a log file
 * that cannot be opened.
 */
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static char tmpdir[] = "/tmp/flinc_test_log_XXXXXX";
static char log_path[256];

static int setup(void **state) {
    (void)state;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(log_path, sizeof log_path, "%s/test.log", tmpdir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fl_log_set_file(NULL, NULL);
    unlink(log_path);
    return rmdir(tmpdir);
}

/* Reads the log file into lines (new strings); returns their count. */
static int read_lines(char ***out) {
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char **lines = NULL;
    int n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        assert_true(len > 0 && line[len - 1] == '\n');
        line[len - 1] = '\0';
        lines = realloc(lines, sizeof *lines * (size_t)(n + 1));
        lines[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    *out = lines;
    return n;
}

static void free_lines(char **lines, int n) {
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static void start_log(void) {
    unlink(log_path);
    assert_int_equal(fl_log_set_file(log_path, NULL), 0);
}

static void test_format_and_levels(void **state) {
    (void)state;
    start_log();
    assert_int_equal(fl_log_get_level(), FL_LOG_INFO); /* the default */
    fl_info("taskmanager", "slot %d of %d offered", 1, 4);
    fl_debug("taskmanager", "hidden at INFO");
    fl_warn("net", "buffer pool exhausted");
    fl_errlog("job", "failed: %s", "boom\n");
    fl_log(FL_LOG_TRACE, "x", "hidden");
    fl_log_set_level(FL_LOG_DEBUG);
    fl_debug("state", "now visible");
    fl_log_set_level(FL_LOG_OFF);
    fl_errlog("job", "hidden when off");
    fl_log_set_level(FL_LOG_INFO);

    char **lines;
    int n = read_lines(&lines);
    assert_int_equal(n, 4);
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} "
                             "(INFO |WARN |ERROR|DEBUG) [a-z]+ - .*[^\n]$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    for (int i = 0; i < n; i++)
        if (regexec(&re, lines[i], 0, NULL, 0) != 0)
            fail_msg("line %d is not in the log format: '%s'", i, lines[i]);
    regfree(&re);
    /* After the 23-character time stamp and a space. */
    assert_string_equal(lines[0] + 24, "INFO  taskmanager - slot 1 of 4 offered");
    assert_string_equal(lines[1] + 24, "WARN  net - buffer pool exhausted");
    assert_string_equal(lines[2] + 24, "ERROR job - failed: boom");
    assert_string_equal(lines[3] + 24, "DEBUG state - now visible");
    free_lines(lines, n);
}

static void test_level_parse(void **state) {
    (void)state;
    fl_log_level l;
    assert_int_equal(fl_log_level_parse("debug", &l), 0);
    assert_int_equal(l, FL_LOG_DEBUG);
    assert_int_equal(fl_log_level_parse("WARN", &l), 0);
    assert_int_equal(l, FL_LOG_WARN);
    assert_int_equal(fl_log_level_parse("Off", &l), 0);
    assert_int_equal(l, FL_LOG_OFF);
    assert_int_equal(fl_log_level_parse("TRACE", &l), 0);
    assert_int_equal(l, FL_LOG_TRACE);
    assert_int_equal(fl_log_level_parse("loud", &l), FL_EINVAL);
    assert_int_equal(fl_log_level_parse(NULL, &l), FL_EINVAL);
}

static void *log_many(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 500; i++)
        fl_info("worker", "thread %d line %d %s", id, i,
                "padding-padding-padding-padding-padding-padding-padding-padding");
    return NULL;
}

static void test_threads_do_not_interleave(void **state) {
    (void)state;
    start_log();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, log_many, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char **lines;
    int n = read_lines(&lines);
    assert_int_equal(n, 2000);
    int seen[4] = {0};
    for (int i = 0; i < n; i++) {
        int id, k;
        char pad[128];
        if (sscanf(lines[i] + 24, "INFO  worker - thread %d line %d %127s", &id, &k, pad) != 3 ||
            id < 0 || id > 3 || k != seen[id])
            fail_msg("broken or out of order line: '%s'", lines[i]);
        assert_string_equal(pad, "padding-padding-padding-padding-padding-padding-padding-padding");
        seen[id]++;
    }
    free_lines(lines, n);
}

static void test_long_message(void **state) {
    (void)state;
    start_log();
    size_t len = 10000;
    char *msg = malloc(len + 1);
    memset(msg, 'q', len);
    msg[len] = '\0';
    fl_info("big", "%s|end", msg);
    char **lines;
    int n = read_lines(&lines);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(lines[0]), 24 + strlen("INFO  big - ") + len + 4);
    assert_string_equal(lines[0] + strlen(lines[0]) - 4, "|end");
    free_lines(lines, n);
    free(msg);
}

static void test_bad_file(void **state) {
    (void)state;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_log_set_file("/nonexistent-dir/x.log", &err), FL_EIO);
    assert_string_equal(err.message,
                        "could not open log file \"/nonexistent-dir/x.log\": "
                        "no such file or directory");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_levels),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_threads_do_not_interleave),
        cmocka_unit_test(test_long_message),
        cmocka_unit_test(test_bad_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
