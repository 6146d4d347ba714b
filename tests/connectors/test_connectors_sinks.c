/*
 * test_connectors_sinks.c - the built-in sinks: print's lines and prefixes
 * (stdout captured through a temporary file), the filesystem sink's text and
 * CSV files (compared with text written by hand) and its no_overwrite error,
 * the file sinks' error for an output directory under a missing parent,
 * the collect and blackhole registries with several subtasks, the function
 * sink, and the connector registry and its description.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "connectors.h"
#include "fake_ctx.h"
#include "mem.h"
#include "options.h"

static char tmpdir[256];

static int setup(void **unused) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/flinc-test-sinks-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **unused) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *data = NULL;
    size_t len = 0, cap = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (len + 2 > cap) {
            cap = cap ? cap * 2 : 256;
            data = fl_xrealloc(data, cap);
        }
        data[len++] = (char)c;
    }
    fclose(f);
    if (data == NULL)
        data = fl_xstrdup("");
    else
        data[len] = '\0';
    return data;
}

/* Rows of (name STRING, n BIGINT, x DOUBLE, ok BOOLEAN): names chosen to need
 * CSV quoting, one row of nulls. */
static fl_schema *sample_schema(void) {
    return fl_schema_of(4, "name", FL_STRING, "n", FL_BIGINT, "x", FL_DOUBLE, "ok", FL_BOOLEAN);
}

static size_t sample_rows(const fl_schema *s, fl_row **rows) {
    static const char *names[] = {"plain", "with,comma", "say \"hi\"", "two\nlines", "cr\rhere",
                                  ""};
    fl_row_builder *b = fl_row_builder_create(s);
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_cstring(b, 0, names[i]);
        fl_row_builder_set_bigint(b, 1, (int64_t)i - 2);
        fl_row_builder_set_double(b, 2, 0.5 * (double)i);
        fl_row_builder_set_bool(b, 3, i % 2 == 0);
        rows[n++] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_reset(b);
    rows[n++] = fl_row_copy(fl_row_builder_finish(b));
    fl_row_builder_destroy(b);
    return n;
}

/* Opens the sink for subtask index of p, writes the rows, finishes, closes. */
static int write_sink(const char *name, const char *const *kv, const fl_schema *s, int index,
                      int p, fl_row *const *rows, size_t n, fl_error *err) {
    const fl_sink_connector *c = fl_sink_connector_find(name);
    assert_non_null(c);
    char what[64];
    snprintf(what, sizeof what, "connector \"%s\"", name);
    fl_options *o = fake_options(c->options, what, kv, err);
    if (o == NULL)
        return err->code;
    int rc = c->validate(o, s, err);
    fl_sink_ctx ctx = {.subtask_index = index, .parallelism = p, .schema = s};
    void *state = NULL;
    if (rc == 0)
        rc = c->open(&ctx, o, &state, err);
    if (rc == 0) {
        int64_t *ts = fl_xcalloc(n ? n : 1, sizeof *ts);
        /* Two batches, to see that batches append. */
        rc = c->write(state, (const fl_row *const *)rows, ts, n / 2, err);
        if (rc == 0)
            rc = c->write(state, (const fl_row *const *)rows + n / 2, ts, n - n / 2, err);
        if (rc == 0)
            rc = c->finish(state, err);
        c->close(state);
        free(ts);
    }
    fl_options_destroy(o);
    return rc;
}

/* Runs the print sink with stdout redirected to a file; returns the output. */
static char *capture_print(const char *const *kv, int index, int p, fl_row *const *rows,
                           size_t n) {
    char *path = fl_xasprintf("%s/stdout.txt", tmpdir);
    fflush(stdout);
    int saved = dup(1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    fl_schema *s = sample_schema();
    fl_error err = {0};
    int rc = write_sink("print", kv, s, index, p, rows, n, &err);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, 0);
    fl_schema_unref(s);
    char *out = read_all(path);
    free(path);
    return out;
}

static void free_rows(fl_row **rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(rows[i]);
}

static void print_prefixes(void **unused) {
    fl_schema *s = sample_schema();
    fl_row *rows[16];
    size_t n = sample_rows(s, rows);
    fl_row *two[2] = {rows[0], rows[6]};

    char *out = capture_print(NULL, 0, 1, two, 2);
    assert_string_equal(out, "(plain,-2,0.0,true)\n(null,null,null,null)\n");
    free(out);
    out = capture_print(NULL, 1, 2, two, 2);
    assert_string_equal(out, "2> (plain,-2,0.0,true)\n2> (null,null,null,null)\n");
    free(out);
    const char *id[] = {"prefix=job", NULL};
    out = capture_print(id, 0, 1, two, 2);
    assert_string_equal(out, "job> (plain,-2,0.0,true)\njob> (null,null,null,null)\n");
    free(out);
    out = capture_print(id, 2, 3, two, 1);
    assert_string_equal(out, "job:3> (plain,-2,0.0,true)\n");
    free(out);
    /* stderr leaves stdout empty. */
    const char *to_stderr[] = {"target=stderr", NULL};
    fflush(stderr);
    int saved = dup(2);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    out = capture_print(to_stderr, 0, 1, two, 2);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    assert_string_equal(out, "");
    free(out);

    fl_error err = {0};
    const char *bad[] = {"target=file", NULL};
    assert_int_equal(write_sink("print", bad, s, 0, 1, two, 2, &err), FL_ECONFIG);
    assert_non_null(strstr(err.message, "stdout or stderr"));
    free_rows(rows, n);
    fl_schema_unref(s);
}

static void filesystem_text_and_csv(void **unused) {
    fl_schema *s = sample_schema();
    fl_row *rows[16];
    size_t n = sample_rows(s, rows);

    char *dir = fl_xasprintf("%s/out/text/nested", tmpdir);
    char *opt = fl_xasprintf("path=%s", dir);
    fl_error err = {0};
    const char *text[] = {opt, NULL};
    assert_int_equal(write_sink("filesystem", text, s, 0, 1, rows, n, &err), 0);
    char *file = fl_xasprintf("%s/1", dir);
    char *got = read_all(file);
    assert_non_null(got);
    assert_string_equal(got, "plain,-2,0.0,true\n"
                             "with,comma,-1,0.5,false\n"
                             "say \"hi\",0,1.0,true\n"
                             "two\nlines,1,1.5,false\n"
                             "cr\rhere,2,2.0,true\n"
                             ",3,2.5,false\n"
                             "null,null,null,null\n");
    free(got);

    /* The file exists now: no_overwrite (the default) refuses, overwrite replaces. */
    fl_error_clear(&err);
    assert_int_equal(write_sink("filesystem", text, s, 0, 1, rows, n, &err), FL_EIO);
    char *expect = fl_xasprintf(
        "output file \"%s\" exists; delete it or set write-mode=overwrite", file);
    assert_string_equal(err.message, expect);
    free(expect);
    const char *over[] = {opt, "write-mode=overwrite", NULL};
    fl_error_clear(&err);
    assert_int_equal(write_sink("filesystem", over, s, 0, 1, rows, 1, &err), 0);
    got = read_all(file);
    assert_string_equal(got, "plain,-2,0.0,true\n");
    free(got);
    free(file);

    /* CSV, subtask 2 of 3 writes the file "2". */
    const char *csv[] = {opt, "format=csv", "write-mode=overwrite", NULL};
    fl_error_clear(&err);
    assert_int_equal(write_sink("filesystem", csv, s, 1, 3, rows, n, &err), 0);
    file = fl_xasprintf("%s/2", dir);
    got = read_all(file);
    assert_string_equal(got, "plain,-2,0,true\n"
                             "\"with,comma\",-1,0.5,false\n"
                             "\"say \"\"hi\"\"\",0,1,true\n"
                             "\"two\nlines\",1,1.5,false\n"
                             "\"cr\rhere\",2,2,true\n"
                             ",3,2.5,false\n"
                             ",,,\n");
    free(got);
    free(file);

    const char *tsv[] = {opt, "format=csv", "csv.field-delimiter=\\t", "write-mode=overwrite",
                         NULL};
    fl_error_clear(&err);
    assert_int_equal(write_sink("filesystem", tsv, s, 0, 1, rows + 1, 1, &err), 0);
    file = fl_xasprintf("%s/1", dir);
    got = read_all(file);
    assert_string_equal(got, "with,comma\t-1\t0.5\tfalse\n");
    free(got);
    free(file);

    fl_error_clear(&err);
    const char *bad_format[] = {opt, "format=json", NULL};
    assert_int_equal(write_sink("filesystem", bad_format, s, 0, 1, rows, n, &err), FL_ECONFIG);
    fl_error_clear(&err);
    const char *bad_delim[] = {opt, "format=csv", "csv.field-delimiter=;;", NULL};
    assert_int_equal(write_sink("filesystem", bad_delim, s, 0, 1, rows, n, &err), FL_ECONFIG);
    fl_error_clear(&err);
    const char *no_path[] = {"format=csv", NULL};
    assert_int_equal(write_sink("filesystem", no_path, s, 0, 1, rows, n, &err), FL_ECONFIG);
    assert_non_null(strstr(err.message, "missing required option \"path\""));

    /* A directory that cannot be created. */
    char *blocker = fl_xasprintf("%s/blocker", tmpdir);
    FILE *f = fopen(blocker, "w");
    fclose(f);
    char *under = fl_xasprintf("path=%s/sub", blocker);
    const char *blocked[] = {under, NULL};
    fl_error_clear(&err);
    assert_int_equal(write_sink("filesystem", blocked, s, 0, 1, rows, n, &err), FL_EIO);
    assert_non_null(strstr(err.message, blocker));
    free(under);
    free(blocker);

    /* A full disk: the output file is /dev/full. */
    char *full_dir = fl_xasprintf("%s/full", tmpdir);
    char *full_file = fl_xasprintf("%s/1", full_dir);
    assert_int_equal(mkdir(full_dir, 0777), 0);
    if (symlink("/dev/full", full_file) == 0) {
        char *full_opt = fl_xasprintf("path=%s", full_dir);
        const char *full[] = {full_opt, "write-mode=overwrite", NULL};
        fl_error_clear(&err);
        assert_int_equal(write_sink("filesystem", full, s, 0, 1, rows, n, &err), FL_EIO);
        expect = fl_xasprintf("could not write \"%s\": no space left on device", full_file);
        assert_string_equal(err.message, expect);
        free(expect);
        free(full_opt);
    }
    free(full_file);
    free(full_dir);

    free(opt);
    free(dir);
    free_rows(rows, n);
    fl_schema_unref(s);
}

/* A parent of the output directory that cannot be reached (a symbolic link
 * to a missing directory, so mkdir -p cannot make it) is FL_ENOENT, as a
 * missing input path is for the file source, with the directory, the
 * missing parent and the fix in the message; both file sinks. */
static void file_sinks_missing_parent(void **unused) {
    static const char *const sinks[] = {"filesystem", "filesystem-exactly-once"};
    fl_schema *s = sample_schema();
    fl_row *rows[16];
    size_t n = sample_rows(s, rows);
    char *dangling = fl_xasprintf("%s/dangling", tmpdir);
    char *nowhere = fl_xasprintf("%s/nowhere", tmpdir);
    assert_int_equal(symlink(nowhere, dangling), 0);
    static const char *const below[] = {"out", "out/deeper/still"};
    for (size_t i = 0; i < sizeof sinks / sizeof sinks[0]; i++) {
        for (size_t j = 0; j < sizeof below / sizeof below[0]; j++) {
            char *dir = fl_xasprintf("%s/%s", dangling, below[j]);
            char *opt = fl_xasprintf("path=%s", dir);
            const char *kv[] = {opt, NULL};
            fl_error err = {0};
            assert_int_equal(write_sink(sinks[i], kv, s, 0, 1, rows, n, &err), FL_ENOENT);
            char *expect = fl_xasprintf("could not create directory \"%s\": \"%s\" does not "
                                        "exist (a symbolic link to a missing directory?); create "
                                        "it or choose another path",
                                        dir, dangling);
            assert_string_equal(err.message, expect);
            free(expect);
            free(opt);
            free(dir);
        }
        /* A file in the way of the directory is no missing path: FL_EIO. */
        char *blocker = fl_xasprintf("%s/blocker-%zu", tmpdir, i);
        FILE *f = fopen(blocker, "w");
        assert_non_null(f);
        fclose(f);
        char *opt = fl_xasprintf("path=%s/sub", blocker);
        const char *kv[] = {opt, NULL};
        fl_error err = {0};
        assert_int_equal(write_sink(sinks[i], kv, s, 0, 1, rows, n, &err), FL_EIO);
        free(opt);
        free(blocker);
    }
    free(nowhere);
    free(dangling);
    free_rows(rows, n);
    fl_schema_unref(s);
}

static void collect_and_blackhole(void **unused) {
    fl_schema *s = fl_schema_of(1, "v", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s);
    enum { N = 70000 };
    fl_row **rows = fl_xcalloc(N, sizeof *rows);
    for (int i = 0; i < N; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, i);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_collect_registry_open("t1");
    fl_connector_counter_reset("c1");
    const char *collect[] = {"id=t1", NULL};
    const char *hole[] = {"counter=c1", NULL};
    fl_error err = {0};
    /* Subtask 0 gets the even half, subtask 1 the odd half, each in order. */
    for (int sub = 0; sub < 2; sub++) {
        fl_row **mine = fl_xcalloc(N / 2, sizeof *mine);
        for (int i = 0; i < N / 2; i++)
            mine[i] = rows[2 * i + sub];
        assert_int_equal(write_sink("collect", collect, s, sub, 2, mine, N / 2, &err), 0);
        assert_int_equal(write_sink("blackhole", hole, s, sub, 2, mine, N / 2, &err), 0);
        free(mine);
    }
    assert_int_equal(fl_collect_registry_count("t1"), N);
    assert_int_equal(fl_connector_counter_get("c1"), N);
    int64_t last[2] = {-2, -1};
    char *seen = fl_xcalloc(N, 1);
    for (size_t i = 0; i < N; i++) {
        int64_t v = fl_row_get_bigint(fl_collect_registry_row("t1", i), 0);
        assert_true(v > last[v % 2]); /* each subtask's rows in order */
        last[v % 2] = v;
        seen[v] = 1;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_null(fl_collect_registry_row("t1", N));
    free(seen);

    /* Reopening drops the rows; closing frees them; unknown ids are empty. */
    fl_collect_registry_open("t1");
    assert_int_equal(fl_collect_registry_count("t1"), 0);
    fl_collect_registry_close("t1");
    assert_int_equal(fl_collect_registry_count("t1"), 0);
    assert_int_equal(fl_collect_registry_count("never"), 0);
    fl_connector_counter_reset("c1");
    assert_int_equal(fl_connector_counter_get("c1"), 0);

    /* A large subtask hands over several chunks, still in order. */
    enum { BIG = 400000 };
    fl_row **many = fl_xcalloc(BIG, sizeof *many);
    for (int i = 0; i < BIG; i++)
        many[i] = rows[i % N];
    fl_collect_registry_open("t2");
    assert_int_equal(write_sink("collect", collect + 0, s, 0, 1, many, 0, &err), 0);
    const char *collect2[] = {"id=t2", NULL};
    assert_int_equal(write_sink("collect", collect2, s, 0, 1, many, BIG, &err), 0);
    assert_int_equal(fl_collect_registry_count("t2"), BIG);
    for (size_t i = 0; i < BIG; i += 997)
        assert_int_equal(fl_row_get_bigint(fl_collect_registry_row("t2", i), 0), (int64_t)(i % N));
    fl_collect_registry_close("t2");
    free(many);

    fl_error_clear(&err);
    const char *no_id[] = {NULL};
    assert_int_equal(write_sink("collect", no_id, s, 0, 1, rows, 1, &err), FL_ECONFIG);

    for (int i = 0; i < N; i++)
        free(rows[i]);
    free(rows);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

/* ---- function sink ----------------------------------------------------------------------- */

static int64_t sum_seen;

static int sum_sink(fl_context *ctx, const fl_row *in) {
    int64_t v = fl_row_get_bigint(in, 0);
    if (v < 0)
        return FL_EUSER;
    sum_seen += v;
    return 0;
}

static void function_sink(void **unused) {
    const fl_sink_connector *c = fl_sink_connector_find("function");
    fl_schema *s = fl_schema_of(1, "v", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row *rows[3];
    int64_t values[3] = {5, 7, -1};
    for (int i = 0; i < 3; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, values[i]);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    const char *kv[] = {"fn=sum_sink", NULL};
    fl_error err = {0};
    fl_options *o = fake_options(c->options, "connector \"function\"", kv, &err);
    assert_non_null(o);
    fl_sink_ctx ctx = {.subtask_index = 0, .parallelism = 1, .schema = s};
    *(int (**)(fl_context *, const fl_row *))&ctx.fn = sum_sink;
    void *state;
    assert_int_equal(c->open(&ctx, o, &state, &err), 0);
    int64_t ts[3] = {0};
    sum_seen = 0;
    assert_int_equal(c->write(state, (const fl_row *const *)rows, ts, 2, &err), 0);
    assert_int_equal(sum_seen, 12);
    assert_int_equal(c->write(state, (const fl_row *const *)rows, ts, 3, &err), FL_EUSER);
    assert_int_equal(c->finish(state, &err), 0);
    c->close(state);

    /* The runtime could not resolve the function. */
    ctx.fn = NULL;
    state = NULL;
    assert_int_equal(c->open(&ctx, o, &state, &err), FL_ERESOLVE);
    assert_string_equal(err.message, "sink function \"sum_sink\" cannot be resolved");
    fl_options_destroy(o);
    for (int i = 0; i < 3; i++)
        free(rows[i]);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

/* ---- registry ---------------------------------------------------------------------------- */

static void registry_and_description(void **unused) {
    static const char *sources[] = {"collection", "sequence", "datagen", "filesystem", "socket"};
    static const char *sinks[] = {"print", "filesystem", "blackhole", "collect", "function"};
    char *path = fl_xasprintf("%s/describe.txt", tmpdir);
    FILE *f = fopen(path, "w");
    fl_connectors_describe(f);
    fclose(f);
    char *text = read_all(path);
    for (size_t i = 0; i < 5; i++) {
        const fl_source_connector *src = fl_source_connector_find(sources[i]);
        assert_non_null(src);
        assert_string_equal(src->name, sources[i]);
        const fl_sink_connector *sink = fl_sink_connector_find(sinks[i]);
        assert_non_null(sink);
        assert_string_equal(sink->name, sinks[i]);
        char *head = fl_xasprintf("\n  %s - ", sources[i]);
        assert_non_null(strstr(text, head));
        free(head);
        /* Every option of every connector is documented. */
        for (const fl_option_def *d = src->options; d->key; d++)
            assert_non_null(strstr(text, d->key));
        for (const fl_option_def *d = sink->options; d->key; d++)
            assert_non_null(strstr(text, d->key));
    }
    /* The two-phase-commit sink, with its rolling options. */
    const fl_sink_connector *eo = fl_sink_connector_find("filesystem-exactly-once");
    assert_non_null(eo);
    assert_non_null(eo->pre_commit);
    assert_non_null(eo->commit);
    assert_non_null(eo->abort);
    assert_non_null(eo->recover);
    assert_non_null(strstr(text, "\n  filesystem-exactly-once - "));
    for (const fl_option_def *d = eo->options; d->key; d++)
        assert_non_null(strstr(text, d->key));
    assert_null(fl_sink_connector_find("print")->pre_commit);
    assert_non_null(strstr(text, "rows-per-second"));
    assert_non_null(strstr(text, "(default: 10000)"));
    assert_null(fl_source_connector_find("kafka"));
    assert_null(fl_sink_connector_find("kafka"));
    assert_null(fl_source_connector_find(NULL));
    free(text);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(print_prefixes),
        cmocka_unit_test(filesystem_text_and_csv),
        cmocka_unit_test(file_sinks_missing_parent),
        cmocka_unit_test(collect_and_blackhole),
        cmocka_unit_test(function_sink),
        cmocka_unit_test(registry_and_description),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
