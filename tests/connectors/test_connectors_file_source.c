/*
 * test_connectors_file_source.c - the "filesystem" source: for p = 1..8 the
 * subtasks together read every line exactly once and in order, on files with
 * CRLF endings, empty lines, no trailing newline, long lines (past the 64 KiB
 * and 1 MiB marks) and on directories. The oracle splits the file's bytes at
 * '\n' in the test itself.
 */
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

typedef struct line_list {
    char **lines;
    size_t *lens;
    size_t n;
} line_list;

static void lines_add(line_list *l, const char *p, size_t len) {
    l->lines = fl_xrealloc(l->lines, (l->n + 1) * sizeof *l->lines);
    l->lens = fl_xrealloc(l->lens, (l->n + 1) * sizeof *l->lens);
    l->lines[l->n] = fl_xmalloc(len + 1);
    memcpy(l->lines[l->n], p, len);
    l->lines[l->n][len] = '\0';
    l->lens[l->n] = len;
    l->n++;
}

static void lines_free(line_list *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->lines[i]);
    free(l->lines);
    free(l->lens);
    memset(l, 0, sizeof *l);
}

/* The oracle: the lines of `data` as a reader should see them. */
static void split_lines(const char *data, size_t len, line_list *out) {
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            size_t n = i - start;
            if (n > 0 && data[i - 1] == '\r')
                n--;
            lines_add(out, data + start, n);
            start = i + 1;
        }
    }
    if (start < len) {
        size_t n = len - start;
        if (data[len - 1] == '\r')
            n--;
        lines_add(out, data + start, n);
    }
}

static char tmpdir[256];

static int setup(void **unused) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/flinc-test-file-source-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **unused) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *write_file(const char *name, const char *data, size_t len) {
    char *path = fl_xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

/* Reads `path` with p subtasks and compares the concatenation with expect. */
static void check_read(const char *path, const line_list *expect, int p) {
    char *opt = fl_xasprintf("path=%s", path);
    const char *kv[] = {opt, NULL};
    size_t k = 0;
    for (int i = 0; i < p; i++) {
        fl_error err = {0};
        fl_source_ctx *ctx = fake_source_collect("filesystem", NULL, kv, i, p, &err);
        if (ctx == NULL)
            fail_msg("%s", err.message);
        for (size_t r = 0; r < ctx->n_rows; r++, k++) {
            assert_true(k < expect->n);
            uint32_t len;
            const char *line = fl_row_get_string(ctx->rows[r], 0, &len);
            if (len != expect->lens[k] || memcmp(line, expect->lines[k], len) != 0)
                fail_msg("p=%d subtask %d: line %zu differs (length %u, expected %zu)", p, i,
                         k, len, expect->lens[k]);
        }
        fake_source_destroy(ctx);
    }
    assert_int_equal(k, expect->n);
    free(opt);
}

static void check_file(const char *name, const char *data, size_t len) {
    char *path = write_file(name, data, len);
    line_list expect = {0};
    split_lines(data, len, &expect);
    for (int p = 1; p <= 8; p++)
        check_read(path, &expect, p);
    lines_free(&expect);
    free(path);
}

static void small_files(void **unused) {
    static const char *cases[] = {
        "",
        "\n",
        "\n\n\n",
        "a",
        "a\n",
        "a\nb",
        "a\n\nb\n\n",
        "one\r\ntwo\r\n\r\nthree\r\n",
        "no newline at the end\r",
        "x\ny\nz\n",
        "\r\n\r\n",
        "lone\rcarriage\rreturns\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "small%zu.txt", i);
        check_file(name, cases[i], strlen(cases[i]));
    }
}

static void mixed_file(void **unused) {
    /* Lines of every kind, deterministic: short, empty, CRLF, 70 KiB, 1.5 MiB. */
    size_t cap = 4 << 20, len = 0;
    char *data = fl_xmalloc(cap);
    uint64_t x = 12345;
    for (int i = 0; i < 3000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t n;
        if (i == 700)
            n = 70 * 1024;
        else if (i == 2100)
            n = 1536 * 1024;
        else
            n = (x >> 33) % 50;
        if (len + n + 2 > cap)
            break;
        for (size_t k = 0; k < n; k++)
            data[len++] = (char)('a' + (k + (size_t)i) % 26);
        if (i % 7 == 0)
            data[len++] = '\r';
        data[len++] = '\n';
    }
    memcpy(data + len, "tail", 4);
    len += 4;
    check_file("mixed.txt", data, len);
    free(data);
}

static void directory_of_files(void **unused) {
    char *dir = fl_xasprintf("%s/dir", tmpdir);
    assert_int_equal(mkdir(dir, 0777), 0);
    char *sub = fl_xasprintf("%s/nested", dir);
    assert_int_equal(mkdir(sub, 0777), 0);
    const char *a = "a1\na2\na3";       /* no trailing newline: a3 ends at the file end */
    const char *b = "b1\r\n\r\nb3\n";
    const char *c = "";
    struct {
        const char *name, *data;
    } files[] = {{"dir/b.txt", b}, {"dir/a.txt", a}, {"dir/c.txt", c},
                 {"dir/.hidden", "h\n"}, {"dir/_SUCCESS", "s\n"}, {"dir/nested/x", "x\n"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        free(write_file(files[i].name, files[i].data, strlen(files[i].data)));
    line_list expect = {0};
    split_lines(a, strlen(a), &expect); /* name order: a.txt, b.txt, c.txt */
    split_lines(b, strlen(b), &expect);
    for (int p = 1; p <= 8; p++)
        check_read(dir, &expect, p);
    lines_free(&expect);
    free(sub);
    free(dir);
}

static void missing_file(void **unused) {
    char *path = fl_xasprintf("%s/does-not-exist.txt", tmpdir);
    char *opt = fl_xasprintf("path=%s", path);
    const char *kv[] = {opt, NULL};
    char *expect = fl_xasprintf("could not open \"%s\": no such file or directory", path);

    /* At graph build time. */
    fl_error err = {0};
    assert_null(fake_source_collect("filesystem", NULL, kv, 0, 1, &err));
    assert_int_equal(err.code, FL_ENOENT);
    assert_string_equal(err.message, expect);

    /* And at open, when the file went away in between. */
    free(write_file("does-not-exist.txt", "x\n", 2));
    const fl_source_connector *c = fl_source_connector_find("filesystem");
    fl_error_clear(&err);
    fl_options *o = fake_options(c->options, "connector \"filesystem\"", kv, &err);
    fl_schema *s = c->schema(o, NULL, &err);
    assert_non_null(s);
    assert_int_equal(unlink(path), 0);
    fl_source_ctx *ctx = fake_source_create(s, 0, 1);
    void *state = NULL;
    assert_int_equal(c->open(ctx, o, &state, &err), FL_ENOENT);
    assert_string_equal(err.message, expect);
    fake_source_destroy(ctx);
    fl_schema_unref(s);
    fl_options_destroy(o);

    /* Unknown format; declared schema that does not match. */
    fl_error_clear(&err);
    char *fmt_path = write_file("exists.txt", "x\n", 2);
    char *opt2 = fl_xasprintf("path=%s", fmt_path);
    const char *kv2[] = {opt2, "format=csv", NULL};
    assert_null(fake_source_collect("filesystem", NULL, kv2, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_non_null(strstr(err.message, "format \"csv\""));
    fl_error_clear(&err);
    const char *kv3[] = {opt2, NULL};
    fl_schema *wrong = fl_schema_of(1, "text", FL_STRING);
    assert_null(fake_source_collect("filesystem", wrong, kv3, 0, 1, &err));
    assert_int_equal(err.code, FL_ESCHEMA);
    fl_schema_unref(wrong);

    free(opt2);
    free(fmt_path);
    free(expect);
    free(opt);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_files),
        cmocka_unit_test(mixed_file),
        cmocka_unit_test(directory_of_files),
        cmocka_unit_test(missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
