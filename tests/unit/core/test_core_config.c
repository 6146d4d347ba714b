/*
 * test_core_config.c - configuration: flat and nested YAML, sequences,
 * -D pairs, typed getters and their messages, duration and size parsing,
 * malformed YAML and a missing file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char tmpdir[] = "/tmp/flinc_test_config_XXXXXX";

static int setup(void **state) {
    (void)state;
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to tmpdir/name; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_flat_file(void **state) {
    (void)state;
    const char *path = write_file("flat.yaml",
                                  "# Flink's flat style\n"
                                  "jobmanager.rpc.address: localhost\n"
                                  "rest.port: 8081   # trailing comment\n"
                                  "\n"
                                  "parallelism.default: 4\n"
                                  "env.java.opts: \"-Xmx1g -Dx=y\"\n"
                                  "empty.value:\n");
    fl_config *c = fl_config_create();
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_config_load_file(c, path, &err), 0);
    assert_string_equal(fl_config_get(c, "jobmanager.rpc.address"), "localhost");
    assert_string_equal(fl_config_get(c, "rest.port"), "8081");
    assert_string_equal(fl_config_get(c, "env.java.opts"), "-Xmx1g -Dx=y");
    assert_string_equal(fl_config_get(c, "empty.value"), "");
    assert_null(fl_config_get(c, "missing"));
    const fl_kv *kv = fl_config_entries(c);
    assert_int_equal(fl_kv_count(kv), 5);
    assert_string_equal(fl_kv_key(kv, 0), "jobmanager.rpc.address");
    assert_string_equal(fl_kv_key(kv, 2), "parallelism.default");

    int64_t p;
    assert_int_equal(fl_config_get_int(c, FL_CONF_PARALLELISM, 1, &p, &err), 0);
    assert_int_equal(p, 4);
    fl_config_destroy(c);
}

static void test_nested_and_sequences(void **state) {
    (void)state;
    fl_config *c = fl_config_create();
    fl_error err;
    fl_error_clear(&err);
    const char *yaml = "rest:\n"
                       "  port: 9091\n"
                       "  bind-address: 0.0.0.0\n"
                       "taskmanager:\n"
                       "  numberOfTaskSlots: 2\n"
                       "  memory:\n"
                       "    segment-size: 64kb\n"
                       "pipeline: {max-parallelism: 256, operator-chaining: false}\n"
                       "env.hosts:\n"
                       "  - a.example\n"
                       "  - b.example\n"
                       "flow.list: [x, 'y z', 3]\n"
                       "empty.list: []\n";
    assert_int_equal(fl_config_load_string(c, yaml, "nested.yaml", &err), 0);
    assert_string_equal(fl_config_get(c, "rest.port"), "9091");
    assert_string_equal(fl_config_get(c, "rest.bind-address"), "0.0.0.0");
    assert_string_equal(fl_config_get(c, "taskmanager.numberOfTaskSlots"), "2");
    assert_string_equal(fl_config_get(c, "taskmanager.memory.segment-size"), "64kb");
    assert_string_equal(fl_config_get(c, "pipeline.max-parallelism"), "256");
    assert_string_equal(fl_config_get(c, "pipeline.operator-chaining"), "false");
    assert_string_equal(fl_config_get(c, "env.hosts"), "a.example;b.example");
    assert_string_equal(fl_config_get(c, "flow.list"), "x;y z;3");
    assert_string_equal(fl_config_get(c, "empty.list"), "");
    assert_null(fl_config_get(c, "rest"));

    int64_t size;
    assert_int_equal(fl_config_get_size(c, FL_CONF_BUFFER_SIZE, 32768, &size, &err), 0);
    assert_int_equal(size, 64 * 1024);
    bool chaining;
    assert_int_equal(fl_config_get_bool(c, FL_CONF_CHAINING, true, &chaining, &err), 0);
    assert_false(chaining);

    /* A later load replaces keys and keeps the rest. */
    assert_int_equal(fl_config_load_string(c, "rest.port: 1\nnew.key: v\n", "b", &err), 0);
    assert_string_equal(fl_config_get(c, "rest.port"), "1");
    assert_string_equal(fl_config_get(c, "rest.bind-address"), "0.0.0.0");
    assert_string_equal(fl_config_get(c, "new.key"), "v");

    /* Empty documents are empty configurations. */
    assert_int_equal(fl_config_load_string(c, "", "empty", &err), 0);
    assert_int_equal(fl_config_load_string(c, "# only a comment\n", "comment", &err), 0);
    assert_int_equal(err.code, 0);

    fl_config *clone = fl_config_clone(c);
    fl_config_set(c, "rest.port", "2");
    assert_string_equal(fl_config_get(clone, "rest.port"), "1");
    fl_config_destroy(clone);
    fl_config_destroy(c);
}

static void test_set_pair(void **state) {
    (void)state;
    fl_config *c = fl_config_create();
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_config_set_pair(c, "rest.port=8082", &err), 0);
    assert_int_equal(fl_config_set_pair(c, " a.b = x=y ", &err), 0);
    assert_int_equal(fl_config_set_pair(c, "empty=", &err), 0);
    assert_string_equal(fl_config_get(c, "rest.port"), "8082");
    assert_string_equal(fl_config_get(c, "a.b"), "x=y");
    assert_string_equal(fl_config_get(c, "empty"), "");

    assert_int_equal(fl_config_set_pair(c, "novalue", &err), FL_ECONFIG);
    assert_string_equal(err.message, "invalid dynamic property \"novalue\": expected key=value");
    fl_error_clear(&err);
    assert_int_equal(fl_config_set_pair(c, "=v", &err), FL_ECONFIG);
    assert_string_equal(err.message, "invalid dynamic property \"=v\": the key is empty");
    assert_int_equal(fl_kv_count(fl_config_entries(c)), 3);
    fl_config_destroy(c);
}

static void test_typed_getters(void **state) {
    (void)state;
    fl_config *c = fl_config_create();
    fl_error err;
    fl_error_clear(&err);
    fl_config_set(c, "i", "-42");
    fl_config_set(c, "b", "TRUE");
    fl_config_set(c, "d", "0.75");
    fl_config_set(c, "t", "5 s");
    fl_config_set(c, "sz", "1 mb");
    fl_config_set(c, "bad", "abc");

    int64_t i;
    bool b;
    double d;
    assert_int_equal(fl_config_get_int(c, "i", 0, &i, &err), 0);
    assert_int_equal(i, -42);
    assert_int_equal(fl_config_get_int(c, "absent", 7, &i, &err), 0);
    assert_int_equal(i, 7);
    assert_int_equal(fl_config_get_bool(c, "b", false, &b, &err), 0);
    assert_true(b);
    assert_int_equal(fl_config_get_bool(c, "absent", true, &b, &err), 0);
    assert_true(b);
    assert_int_equal(fl_config_get_double(c, "d", 0, &d, &err), 0);
    assert_true(d == 0.75);
    assert_int_equal(fl_config_get_duration_ms(c, "t", 0, &i, &err), 0);
    assert_int_equal(i, 5000);
    assert_int_equal(fl_config_get_duration_ms(c, FL_CONF_BUFFER_TIMEOUT, 100, &i, &err), 0);
    assert_int_equal(i, 100);
    assert_int_equal(fl_config_get_size(c, "sz", 0, &i, &err), 0);
    assert_int_equal(i, 1048576);
    assert_int_equal(err.code, 0);

    struct {
        int which;
        const char *message;
    } bad[] = {
        {0, "invalid value \"abc\" for \"bad\": expected an integer"},
        {1, "invalid value \"abc\" for \"bad\": expected true or false"},
        {2, "invalid value \"abc\" for \"bad\": expected a number"},
        {3, "invalid value \"abc\" for \"bad\": expected a duration such as \"100 ms\""},
        {4, "invalid value \"abc\" for \"bad\": expected a memory size such as \"32kb\""},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        fl_error_clear(&err);
        int rc = 0;
        i = 1;
        switch (bad[k].which) {
        case 0: rc = fl_config_get_int(c, "bad", 1, &i, &err); break;
        case 1: rc = fl_config_get_bool(c, "bad", true, &b, &err); break;
        case 2: rc = fl_config_get_double(c, "bad", 1, &d, &err); break;
        case 3: rc = fl_config_get_duration_ms(c, "bad", 1, &i, &err); break;
        case 4: rc = fl_config_get_size(c, "bad", 1, &i, &err); break;
        }
        assert_int_equal(rc, FL_ECONFIG);
        assert_int_equal(err.code, FL_ECONFIG);
        assert_string_equal(err.message, bad[k].message);
    }

    fl_config_set(c, FL_CONF_BUFFER_TIMEOUT, "abc");
    fl_error_clear(&err);
    assert_int_equal(fl_config_get_duration_ms(c, FL_CONF_BUFFER_TIMEOUT, 100, &i, &err),
                     FL_ECONFIG);
    assert_string_equal(err.message, "invalid value \"abc\" for \"execution.buffer-timeout\": "
                                     "expected a duration such as \"100 ms\"");
    fl_config_destroy(c);
}

static void test_parse_duration(void **state) {
    (void)state;
    struct {
        const char *text;
        int64_t ms;
    } ok[] = {
        {"100", 100},        {"100 ms", 100},      {"100ms", 100},       {"0", 0},
        {"5 s", 5000},       {"5s", 5000},         {"5 sec", 5000},      {"5 seconds", 5000},
        {"2 min", 120000},   {"2 m", 120000},      {"2 minutes", 120000}, {"1 h", 3600000},
        {"1 hours", 3600000}, {"1 d", 86400000},   {"3 days", 259200000}, {" 7 MS ", 7},
        {"1500 us", 1},      {"2000000 ns", 2},    {"10 millis", 10},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        if (fl_parse_duration_ms(ok[i].text, &v) != 0 || v != ok[i].ms)
            fail_msg("\"%s\": expected %lld ms, got %lld", ok[i].text, (long long)ok[i].ms,
                     (long long)v);
    }
    const char *bad[] = {"", "abc", "-5 s", "5 weeks", "5 s s", "1.5 s", "ms", "5_s",
                         "99999999999999999999", "9999999999999999 d", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        int64_t v;
        if (fl_parse_duration_ms(bad[i], &v) != FL_ECONFIG)
            fail_msg("\"%s\" should not parse as a duration", bad[i]);
    }
}

static void test_parse_size(void **state) {
    (void)state;
    struct {
        const char *text;
        int64_t bytes;
    } ok[] = {
        {"4096", 4096},           {"32kb", 32768},          {"32 KiB", 32768},
        {"32 k", 32768},          {"1 mb", 1048576},        {"1m", 1048576},
        {"1g", 1073741824},       {"2 GB", 2147483648LL},   {"1 tb", 1099511627776LL},
        {"10 bytes", 10},         {"10b", 10},              {"3 mebibytes", 3145728},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        if (fl_parse_size(ok[i].text, &v) != 0 || v != ok[i].bytes)
            fail_msg("\"%s\": expected %lld bytes, got %lld", ok[i].text,
                     (long long)ok[i].bytes, (long long)v);
    }
    const char *bad[] = {"", "kb", "-1", "1.5 mb", "1 pb", "32 kbytes x", "9999999999 tb",
                         NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        int64_t v;
        if (fl_parse_size(bad[i], &v) != FL_ECONFIG)
            fail_msg("\"%s\" should not parse as a size", bad[i]);
    }
}

static void test_parse_scalars(void **state) {
    (void)state;
    int64_t i;
    bool b;
    double d;
    assert_int_equal(fl_parse_int(" 12 ", &i), 0);
    assert_int_equal(i, 12);
    assert_int_equal(fl_parse_int("-9223372036854775808", &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(fl_parse_int("9223372036854775808", &i), FL_ECONFIG);
    assert_int_equal(fl_parse_int("12abc", &i), FL_ECONFIG);
    assert_int_equal(fl_parse_int("", &i), FL_ECONFIG);
    assert_int_equal(fl_parse_int("1.0", &i), FL_ECONFIG);
    assert_int_equal(fl_parse_bool("false", &b), 0);
    assert_false(b);
    assert_int_equal(fl_parse_bool("True", &b), 0);
    assert_true(b);
    assert_int_equal(fl_parse_bool("yes", &b), FL_ECONFIG);
    assert_int_equal(fl_parse_bool("1", &b), FL_ECONFIG);
    assert_int_equal(fl_parse_double("1e3", &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(fl_parse_double("-0.5", &d), 0);
    assert_true(d == -0.5);
    assert_int_equal(fl_parse_double("0.5x", &d), FL_ECONFIG);
    assert_int_equal(fl_parse_double("", &d), FL_ECONFIG);
}

/* The message names the file and the 1-based line of the problem. */
static void expect_parse_error(const char *text, const char *name_in_message, int line) {
    fl_config *c = fl_config_create();
    fl_config_set(c, "kept", "yes");
    fl_error err;
    fl_error_clear(&err);
    const char *path = write_file("bad.yaml", text);
    assert_int_equal(fl_config_load_file(c, path, &err), FL_ECONFIG);
    assert_int_equal(err.code, FL_ECONFIG);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "could not parse \"%s/%s\": line %d, column ", tmpdir,
             name_in_message, line);
    if (strncmp(err.message, prefix, strlen(prefix)) != 0)
        fail_msg("expected a message starting with '%s', got '%s'", prefix, err.message);
    /* After "column C: " comes the parser's description of the problem. */
    const char *colon = strchr(err.message + strlen(prefix), ':');
    assert_non_null(colon);
    assert_true(strlen(colon + 2) > 0);
    /* A failed load changes nothing, not even the keys before the error. */
    assert_string_equal(fl_config_get(c, "kept"), "yes");
    assert_null(fl_config_get(c, "good"));
    assert_int_equal(fl_kv_count(fl_config_entries(c)), 1);
    fl_config_destroy(c);
}

static void test_bad_yaml(void **state) {
    (void)state;
    expect_parse_error("good: 1\nrest.port: 8081: x\n", "bad.yaml", 2);
    expect_parse_error("good: 1\nother: 2\nkey: [unclosed\n", "bad.yaml", 4);
    expect_parse_error("good: 1\n  indented: wrong\nx: y\n", "bad.yaml", 2);
    expect_parse_error("good: 1\nkey: \"unterminated\n", "bad.yaml", 3);
    /* Not a map at the top. */
    expect_parse_error("- a\n- b\n", "bad.yaml", 1);
    expect_parse_error("just a string\n", "bad.yaml", 1);
    /* A map inside a list, an alias. */
    expect_parse_error("good: 1\nl:\n  - a: 1\n", "bad.yaml", 3);
    expect_parse_error("good: &x 1\nb: *x\n", "bad.yaml", 2);
    /* A control character: libyaml reports a byte offset, flinc a line. */
    expect_parse_error("good: 1\nkey: \x01\n", "bad.yaml", 2);

    /* The exact form for one libyaml problem. */
    fl_config *c = fl_config_create();
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_config_load_string(c, "a: b: c\n", "conf/flink-conf.yaml", &err),
                     FL_ECONFIG);
    assert_string_equal(err.message, "could not parse \"conf/flink-conf.yaml\": line 1, column 5: "
                                     "mapping values are not allowed in this context");
    fl_config_destroy(c);
}

static void test_missing_file(void **state) {
    (void)state;
    fl_config *c = fl_config_create();
    fl_error err;
    fl_error_clear(&err);
    char path[256];
    snprintf(path, sizeof path, "%s/no-such.yaml", tmpdir);
    assert_int_equal(fl_config_load_file(c, path, &err), FL_ENOENT);
    char expect[512];
    snprintf(expect, sizeof expect, "could not open \"%s\": no such file", path);
    assert_string_equal(err.message, expect);

    /* A directory is not a configuration file. */
    fl_error_clear(&err);
    assert_int_equal(fl_config_load_file(c, tmpdir, &err), FL_EIO);
    snprintf(expect, sizeof expect, "could not read \"%s\": is a directory", tmpdir);
    assert_string_equal(err.message, expect);
    fl_config_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_file),
        cmocka_unit_test(test_nested_and_sequences),
        cmocka_unit_test(test_set_pair),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_scalars),
        cmocka_unit_test(test_bad_yaml),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
