/*
 * test_connectors_splits.c - snapshot and restore of the rewindable sources
 * (sequence, collection, datagen, filesystem). A run with failures reads part
 * of the input, snapshots, reads on (the rows a failure would lose), is
 * dropped, and new instances restored from the snapshot read the rest; the
 * rows before each snapshot plus the last instances' rows must be exactly
 * the rows of an uninterrupted run: none lost, none twice. The splits of all
 * subtasks are redistributed with Flink's even split, also to another
 * parallelism (2 -> 3, 2 -> 3 -> 1, ...). Oracles: the uninterrupted run, and
 * independent ones (the arithmetic range, the collection's rows, the files'
 * lines split in the test).
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

#include "clock.h"
#include "connectors.h"
#include "connectors_int.h"
#include "fake_ctx.h"
#include "mem.h"
#include "options.h"

/* ---- rows as multisets ------------------------------------------------------------------- */

typedef struct row_set {
    fl_row **rows;
    size_t n, cap;
} row_set;

static void set_add(row_set *s, const fl_row *r) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->rows = fl_xrealloc(s->rows, s->cap * sizeof *s->rows);
    }
    s->rows[s->n++] = fl_row_copy(r);
}

/* Rows [from, to) that ctx received. */
static void set_add_ctx(row_set *s, const fl_source_ctx *ctx, size_t from, size_t to) {
    for (size_t i = from; i < to && i < ctx->n_rows; i++) set_add(s, ctx->rows[i]);
}

static void set_free(row_set *s) {
    for (size_t i = 0; i < s->n; i++) free(s->rows[i]);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

static int row_cmp(const void *a, const void *b) {
    const fl_row *x = *(const fl_row *const *)a, *y = *(const fl_row *const *)b;
    size_t lx = fl_row_size(x), ly = fl_row_size(y);
    int c = memcmp(x, y, lx < ly ? lx : ly);
    return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* The same rows, each as many times, in any order. */
static void assert_same_multiset(row_set *got, row_set *expect) {
    qsort(got->rows, got->n, sizeof *got->rows, row_cmp);
    qsort(expect->rows, expect->n, sizeof *expect->rows, row_cmp);
    if (got->n != expect->n) fail_msg("got %zu rows, expected %zu", got->n, expect->n);
    for (size_t i = 0; i < got->n; i++)
        if (row_cmp(&got->rows[i], &expect->rows[i]) != 0)
            fail_msg("row %zu of the sorted rows differs", i);
}

/* ---- a source under test ----------------------------------------------------------------- */

typedef struct sut {
    const fl_source_connector *c;
    fl_options *o;
    fl_schema *s;
} sut;

static void sut_init(sut *t, const char *name, const fl_schema *declared, const char *const *kv) {
    fl_error err = {0};
    t->c = fl_source_connector_find(name);
    assert_non_null(t->c);
    char what[64];
    snprintf(what, sizeof what, "connector \"%s\"", name);
    t->o = fake_options(t->c->options, what, kv, &err);
    if (t->o == NULL) fail_msg("%s", err.message);
    t->s = t->c->schema(t->o, declared, &err);
    if (t->s == NULL) fail_msg("%s", err.message);
}

static void sut_fini(sut *t) {
    fl_schema_unref(t->s);
    fl_options_destroy(t->o);
}

/* One running subtask. */
typedef struct reader {
    fl_source_ctx *ctx;
    void *state;
} reader;

static reader reader_open(const sut *t, int index, int p) {
    fl_error err = {0};
    reader r = {fake_source_create(t->s, index, p), NULL};
    if (t->c->open(r.ctx, t->o, &r.state, &err) < 0) fail_msg("%s", err.message);
    return r;
}

static int reader_read(const sut *t, reader *r, size_t limit) {
    fl_error err = {0};
    int rc = fake_source_read_until(t->c, r->state, r->ctx, limit, &err);
    if (rc < 0) fail_msg("%s", err.message);
    return rc;
}

static void reader_close(const sut *t, reader *r) {
    t->c->close(r->state);
    fake_source_destroy(r->ctx);
}

/* The rows of an uninterrupted run of all p subtasks, each reading at most
 * `limit` rows. */
static void uninterrupted(const sut *t, int p, size_t limit, row_set *out) {
    for (int i = 0; i < p; i++) {
        reader r = reader_open(t, i, p);
        reader_read(t, &r, limit);
        set_add_ctx(out, r.ctx, 0, SIZE_MAX);
        reader_close(t, &r);
    }
}

/* A run with failures over phases of parallelism ps[0..phases). In every
 * phase but the last, each subtask reads `cut` rows (its rows go to `out`),
 * snapshots, reads `cut` more (lost with the failure) and is dropped; the
 * splits of all subtasks, concatenated in subtask order, are even-split over
 * the next phase's subtasks, which open and restore. The last phase reads
 * `last_limit` rows per subtask (SIZE_MAX: to the end) into `out`. */
static void run_with_failures(const sut *t, const int *ps, int phases, size_t cut,
                              size_t last_limit, row_set *out) {
    fl_split_list *splits = fl_split_list_create();
    for (int phase = 0; phase < phases; phase++) {
        int p = ps[phase];
        fl_split_list *next = fl_split_list_create();
        for (int i = 0; i < p; i++) {
            reader r = reader_open(t, i, p);
            fl_error err = {0};
            if (phase > 0) {
                size_t first, n;
                fake_even_split(fl_split_list_count(splits), p, i, &first, &n);
                const fl_split *items = fl_split_list_items(splits);
                assert_int_equal(t->c->restore(r.state, n ? items + first : NULL, n, &err), 0);
            }
            if (phase == phases - 1) {
                reader_read(t, &r, last_limit);
                set_add_ctx(out, r.ctx, 0, SIZE_MAX);
            } else {
                reader_read(t, &r, cut);
                set_add_ctx(out, r.ctx, 0, SIZE_MAX);
                if (t->c->snapshot(r.state, next, &err) < 0) fail_msg("%s", err.message);
                reader_read(t, &r, 2 * cut);
            }
            reader_close(t, &r);
        }
        fl_split_list_destroy(splits);
        splits = next;
    }
    fl_split_list_destroy(splits);
}

/* Runs with failures over ps must give the rows of an uninterrupted run of
 * parallelism ps[0], and the independent oracle when one is given. */
static void check_restores(const sut *t, const int *ps, int phases, size_t cut, row_set *oracle) {
    row_set got = {0}, expect = {0};
    run_with_failures(t, ps, phases, cut, SIZE_MAX, &got);
    uninterrupted(t, ps[0], SIZE_MAX, &expect);
    assert_true(expect.n > 0);
    if (oracle != NULL) {
        assert_same_multiset(&expect, oracle);
    }
    assert_same_multiset(&got, &expect);
    set_free(&got);
    set_free(&expect);
}

/* ---- sequence ---------------------------------------------------------------------------- */

static void sequence_oracle(int64_t from, int64_t to, row_set *out) {
    fl_schema *s = fl_schema_of(1, "value", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s);
    for (int64_t v = from; v <= to; v++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, v);
        set_add(out, fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

static void sequence_restores(void **unused) {
    const char *kv[] = {"from=-50", "to=9999", NULL};
    sut t;
    sut_init(&t, "sequence", NULL, kv);
    row_set oracle = {0};
    sequence_oracle(-50, 9999, &oracle);
    static const int same1[] = {1, 1}, same3[] = {3, 3, 3}, up[] = {2, 3}, chain[] = {2, 3, 1},
                     wide[] = {4, 2, 5}, many[] = {1, 8};
    check_restores(&t, same1, 2, 2500, &oracle);
    check_restores(&t, same3, 3, 777, &oracle); /* cuts in the middle of a batch */
    check_restores(&t, up, 2, 1500, &oracle);
    check_restores(&t, chain, 3, 1000, &oracle);
    check_restores(&t, wide, 3, 333, &oracle);
    check_restores(&t, many, 2, 0, &oracle);  /* snapshot before the first row */
    check_restores(&t, up, 2, 6000, &oracle); /* snapshot after the end: no splits */
    set_free(&oracle);
    sut_fini(&t);
}

static void sequence_split_contents(void **unused) {
    /* The full int64 range with p = 1: 2^64 numbers in one slice. */
    const char *kv[] = {"from=-9223372036854775808", "to=9223372036854775807", NULL};
    sut t;
    sut_init(&t, "sequence", NULL, kv);
    reader r = reader_open(&t, 0, 1);
    reader_read(&t, &r, 3);
    assert_int_equal(fl_row_get_bigint(r.ctx->rows[0], 0), INT64_MIN);
    fl_split_list *splits = fl_split_list_create();
    fl_error err = {0};
    assert_int_equal(t.c->snapshot(r.state, splits, &err), 0);
    assert_int_equal(fl_split_list_count(splits), 1);
    reader_close(&t, &r);

    /* Two restored copies of the same split each continue at INT64_MIN + 3. */
    for (int k = 0; k < 2; k++) {
        reader again = reader_open(&t, 0, 4);
        assert_int_equal(t.c->restore(again.state, fl_split_list_items(splits), 1, &err), 0);
        reader_read(&t, &again, 2);
        assert_int_equal(fl_row_get_bigint(again.ctx->rows[0], 0), INT64_MIN + 3);
        assert_int_equal(fl_row_get_bigint(again.ctx->rows[1], 0), INT64_MIN + 4);
        reader_close(&t, &again);
    }
    fl_split_list_destroy(splits);
    sut_fini(&t);

    /* The end of the range: the last number is INT64_MAX. */
    const char *top[] = {"from=9223372036854775800", "to=9223372036854775807", NULL};
    sut_init(&t, "sequence", NULL, top);
    r = reader_open(&t, 0, 1);
    reader_read(&t, &r, 5);
    splits = fl_split_list_create();
    assert_int_equal(t.c->snapshot(r.state, splits, &err), 0);
    reader_close(&t, &r);
    r = reader_open(&t, 0, 1);
    assert_int_equal(t.c->restore(r.state, fl_split_list_items(splits), 1, &err), 0);
    assert_int_equal(reader_read(&t, &r, SIZE_MAX), FL_SOURCE_END);
    assert_int_equal(r.ctx->n_rows, 3);
    assert_int_equal(fl_row_get_bigint(r.ctx->rows[2], 0), INT64_MAX);
    /* Finished: nothing to snapshot. */
    fl_split_list_clear(splits);
    assert_int_equal(t.c->snapshot(r.state, splits, &err), 0);
    assert_int_equal(fl_split_list_count(splits), 0);
    reader_close(&t, &r);
    fl_split_list_destroy(splits);
    sut_fini(&t);
}

/* ---- collection -------------------------------------------------------------------------- */

static void collection_restores(void **unused) {
    fl_schema *s = fl_schema_of(2, "word", FL_STRING, "n", FL_BIGINT);
    fl_row_builder *b = fl_row_builder_create(s);
    enum { N = 2500 };
    row_set oracle = {0};
    fl__conn_buf bytes = {0};
    for (int i = 0; i < N; i++) {
        fl_row_builder_reset(b);
        char word[32];
        snprintf(word, sizeof word, "w%d", i % 100); /* repeated rows */
        fl_row_builder_set_cstring(b, 0, word);
        if (i % 7 != 0) fl_row_builder_set_bigint(b, 1, i / 3);
        const fl_row *row = fl_row_builder_finish(b);
        set_add(&oracle, row);
        fl__conn_buf_append(&bytes, row, fl_row_size(row));
    }
    char *b64 = fl_base64_encode(bytes.data, bytes.len);
    char *opt = fl_xasprintf("rows=%s", b64);
    const char *kv[] = {opt, NULL};
    sut t;
    sut_init(&t, "collection", s, kv);

    /* In order: the rows before the snapshot, then the restored ones. */
    static const int once[] = {1, 1}, twice[] = {1, 1, 1};
    row_set got = {0};
    run_with_failures(&t, twice, 3, 1100, SIZE_MAX, &got);
    assert_int_equal(got.n, N);
    for (size_t i = 0; i < got.n; i++) assert_true(fl_row_equals(got.rows[i], oracle.rows[i]));
    set_free(&got);
    check_restores(&t, once, 2, 1, &oracle);
    check_restores(&t, once, 2, N, &oracle);

    /* A range past the rows (other options than at the snapshot). */
    reader r = reader_open(&t, 0, 1);
    fl_split_list *splits = fl_split_list_create();
    fl_error err = {0};
    assert_int_equal(t.c->snapshot(r.state, splits, &err), 0);
    reader_close(&t, &r);
    const char *few[] = {"rows=", NULL};
    sut empty;
    sut_init(&empty, "collection", s, few);
    r = reader_open(&empty, 0, 1);
    assert_int_equal(empty.c->restore(r.state, fl_split_list_items(splits), 1, &err), FL_EFORMAT);
    assert_non_null(strstr(err.message, "connector \"collection\": split 0 reaches row 2500"));
    reader_close(&empty, &r);
    sut_fini(&empty);

    fl_split_list_destroy(splits);
    sut_fini(&t);
    free(opt);
    free(b64);
    fl__conn_buf_free(&bytes);
    set_free(&oracle);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
}

/* ---- datagen ----------------------------------------------------------------------------- */

static void datagen_restores(void **unused) {
    fl_schema *s = fl_schema_of(6, "id", FL_BIGINT, "i", FL_INT, "d", FL_DOUBLE, "s", FL_STRING,
                                "t", FL_TIMESTAMP, "y", FL_BYTES);
    const char *kv[] = {"seed=7",
                        "rows-per-second=0",
                        "fields.id.kind=sequence",
                        "fields.id.start=1",
                        "fields.id.end=4000",
                        "fields.i.null-rate=0.3",
                        "fields.s.length=5",
                        "fields.t.min=0",
                        "fields.t.max=4102444800000",
                        "fields.y.length=3",
                        NULL};
    sut t;
    sut_init(&t, "datagen", s, kv);
    /* Rows depend on their global index only: any parallelism gives the
     * same rows, and the sequence field holds 1..4000 once each. That run,
     * checked here, is the oracle of the restored runs. */
    row_set p1 = {0}, p3 = {0};
    uninterrupted(&t, 1, SIZE_MAX, &p1);
    uninterrupted(&t, 3, SIZE_MAX, &p3);
    assert_int_equal(p1.n, 4000);
    for (size_t i = 0; i < p1.n; i++)
        assert_int_equal(fl_row_get_bigint(p1.rows[i], 0), (int64_t)i + 1);
    assert_same_multiset(&p3, &p1);
    static const int same[] = {2, 2}, up[] = {2, 3}, chain[] = {3, 1, 2}, many[] = {1, 5};
    check_restores(&t, same, 2, 1100, &p1);
    check_restores(&t, up, 2, 700, &p1);
    check_restores(&t, chain, 3, 555, &p1);
    check_restores(&t, many, 2, 1, &p1);
    set_free(&p1);
    set_free(&p3);
    sut_fini(&t);

    /* Unbounded: 2 subtasks read 1500 rows, snapshot, and are restored into
     * 3; the third gets no split and ends at once. The restored two continue
     * exactly where the uninterrupted subtasks would. */
    const char *endless[] = {"seed=3",         "rows-per-second=0", "fields.s.length=4",
                             "fields.t.min=0", "fields.t.max=1000", NULL};
    sut_init(&t, "datagen", s, endless);
    assert_false(t.c->bounded(t.o));
    row_set got = {0}, expect = {0};
    run_with_failures(&t, up, 2, 1500, 2000, &got);
    uninterrupted(&t, 2, 3500, &expect);
    assert_same_multiset(&got, &expect);
    set_free(&got);
    set_free(&expect);
    reader r = reader_open(&t, 2, 3);
    fl_error err = {0};
    assert_int_equal(t.c->restore(r.state, NULL, 0, &err), 0);
    assert_int_equal(reader_read(&t, &r, SIZE_MAX), FL_SOURCE_END);
    assert_int_equal(r.ctx->n_rows, 0);
    reader_close(&t, &r);
    sut_fini(&t);
    fl_schema_unref(s);
}

static void datagen_default_timestamps_survive_restore(void **unused) {
    /* TIMESTAMP without bounds draws from the day before the anchor time,
     * which travels in the split: a restore opened later gives the rows the
     * first instance would have given. */
    fl_schema *s = fl_schema_of(2, "t", FL_TIMESTAMP, "l", FL_BIGINT);
    const char *kv[] = {"number-of-rows=3000", "rows-per-second=0", NULL};
    sut t;
    sut_init(&t, "datagen", s, kv);
    reader first = reader_open(&t, 0, 1);
    reader_read(&t, &first, 1234);
    fl_split_list *splits = fl_split_list_create();
    fl_error err = {0};
    assert_int_equal(t.c->snapshot(first.state, splits, &err), 0);
    assert_int_equal(reader_read(&t, &first, SIZE_MAX), FL_SOURCE_END);
    /* Wait for the wall clock to move on (an event, not a fixed sleep). */
    int64_t opened = fl_clock_wall_ms();
    while (fl_clock_wall_ms() <= opened + 2) fl_sleep_ns(200000);
    reader again = reader_open(&t, 0, 1);
    assert_int_equal(t.c->restore(again.state, fl_split_list_items(splits), 1, &err), 0);
    assert_int_equal(reader_read(&t, &again, SIZE_MAX), FL_SOURCE_END);
    assert_int_equal(again.ctx->n_rows, 3000 - 1234);
    for (size_t i = 0; i < again.ctx->n_rows; i++)
        assert_true(fl_row_equals(again.ctx->rows[i], first.ctx->rows[1234 + i]));
    reader_close(&t, &first);
    reader_close(&t, &again);
    fl_split_list_destroy(splits);
    sut_fini(&t);
    fl_schema_unref(s);
}

/* ---- filesystem -------------------------------------------------------------------------- */

static char tmpdir[256];

static int setup(void **unused) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/flinc-test-splits-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **unused) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes `data` to DIR/name and adds its lines, as a reader should see
 * them, to the oracle. */
static void write_file(const char *dir, const char *name, const char *data, size_t len,
                       row_set *oracle, fl_row_builder *b) {
    char *path = fl_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    free(path);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && data[i] != '\n') continue;
        if (i == len && start == len) break; /* no line after the last newline */
        size_t n = i - start;
        if (n > 0 && data[start + n - 1] == '\r') n--;
        fl_row_builder_reset(b);
        fl_row_builder_set_string(b, 0, data + start, (uint32_t)n);
        set_add(oracle, fl_row_builder_finish(b));
        start = i + 1;
    }
}

static void filesystem_restores(void **unused) {
    char *dir = fl_xasprintf("%s/in", tmpdir);
    assert_int_equal(mkdir(dir, 0777), 0);
    fl_schema *s = fl_schema_of(1, "line", FL_STRING);
    fl_row_builder *b = fl_row_builder_create(s);
    row_set oracle = {0};
    fl__conn_buf text = {0};
    /* a: short numbered lines, some empty, CRLF endings, no final newline. */
    for (int i = 0; i < 3000; i++) {
        char line[64];
        int n = i % 11 == 0 ? 0 : snprintf(line, sizeof line, "a%d-%s", i, i % 3 ? "x" : "yy");
        fl__conn_buf_append(&text, line, (size_t)n);
        fl__conn_buf_append(&text, i % 5 == 0 ? "\r\n" : "\n", i % 5 == 0 ? 2 : 1);
    }
    fl__conn_buf_append(&text, "last", 4);
    write_file(dir, "a.txt", text.data, text.len, &oracle, b);
    /* b: a few long lines (one past the 1 MiB read buffer). */
    text.len = 0;
    for (int i = 0; i < 4; i++) {
        size_t n = i == 2 ? ((size_t)1 << 20) + 77 : 70000 + (size_t)i;
        char *line = fl__conn_buf_reserve(&text, n);
        for (size_t k = 0; k < n; k++) line[k] = (char)('a' + (k + (size_t)i) % 26);
        text.len += n;
        fl__conn_buf_putc(&text, '\n');
    }
    write_file(dir, "b.txt", text.data, text.len, &oracle, b);
    /* c: empty; d: one line. */
    write_file(dir, "c.txt", "", 0, &oracle, b);
    write_file(dir, "d.txt", "only\n", 5, &oracle, b);
    fl__conn_buf_free(&text);

    char *opt = fl_xasprintf("path=%s", dir);
    const char *kv[] = {opt, NULL};
    sut t;
    sut_init(&t, "filesystem", NULL, kv);
    static const int same[] = {2, 2}, up[] = {2, 3}, chain[] = {1, 4, 2}, down[] = {5, 2, 1},
                     wide[] = {3, 7};
    check_restores(&t, same, 2, 1000, &oracle);
    check_restores(&t, up, 2, 7, &oracle);
    check_restores(&t, chain, 3, 500, &oracle);
    check_restores(&t, down, 3, 300, &oracle);
    check_restores(&t, wide, 2, 1, &oracle);
    check_restores(&t, up, 2, 0, &oracle);

    /* The file gone at restore: the error names it. */
    reader r = reader_open(&t, 0, 1);
    fl_split_list *splits = fl_split_list_create();
    fl_error err = {0};
    assert_int_equal(t.c->snapshot(r.state, splits, &err), 0);
    assert_int_equal(fl_split_list_count(splits), 3); /* a, b, d: c has no bytes */
    reader_close(&t, &r);
    r = reader_open(&t, 0, 1);
    assert_int_equal(t.c->restore(r.state, fl_split_list_items(splits), 3, &err), 0);
    char *d = fl_xasprintf("%s/d.txt", dir);
    char *moved = fl_xasprintf("%s/d.moved", tmpdir);
    assert_int_equal(rename(d, moved), 0);
    assert_int_equal(fake_source_read_until(t.c, r.state, r.ctx, SIZE_MAX, &err), FL_ENOENT);
    assert_non_null(strstr(err.message, d));
    assert_int_equal(rename(moved, d), 0);
    reader_close(&t, &r);
    free(moved);
    free(d);
    fl_split_list_destroy(splits);

    sut_fini(&t);
    free(opt);
    set_free(&oracle);
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
    free(dir);
}

/* ---- split lists and bad splits ---------------------------------------------------------- */

static void split_list_and_bad_splits(void **unused) {
    fl_split_list *l = fl_split_list_create();
    assert_int_equal(fl_split_list_count(l), 0);
    assert_null(fl_split_list_items(l));
    for (int i = 0; i < 20; i++) fl_split_list_add(l, "abcdefghijklmnopqrstuvwxyz", (size_t)i);
    assert_int_equal(fl_split_list_count(l), 20);
    for (size_t i = 0; i < 20; i++) {
        fl_split sp = fl_split_list_get(l, i);
        assert_int_equal(sp.len, i);
        assert_memory_equal(sp.data, "abcdefghijklmnopqrstuvwxyz", i);
        assert_ptr_equal(fl_split_list_items(l)[i].data, sp.data);
    }
    fl_split_list_clear(l);
    assert_int_equal(fl_split_list_count(l), 0);
    fl_split_list_destroy(l);
    fl_split_list_destroy(NULL);

    /* Each source refuses blobs that are not its splits. */
    static const struct {
        const char *name;
        const char *const kv[4];
    } sources[] = {
        {"sequence", {"from=1", "to=10", NULL}},
        {"datagen", {"number-of-rows=10", NULL}},
        {"collection", {"rows=", NULL}},
        {"filesystem", {"path=/dev/null", NULL}},
    };
    fl_schema *s = fl_schema_of(1, "line", FL_STRING);
    const char *seq_kv[] = {"from=1", "to=10", NULL};
    sut seq;
    sut_init(&seq, "sequence", NULL, seq_kv);
    reader sr = reader_open(&seq, 0, 1);
    fl_split_list *seq_splits = fl_split_list_create();
    fl_error err = {0};
    assert_int_equal(seq.c->snapshot(sr.state, seq_splits, &err), 0);
    reader_close(&seq, &sr);
    for (size_t k = 0; k < sizeof sources / sizeof sources[0]; k++) {
        sut t;
        sut_init(&t, sources[k].name, strcmp(sources[k].name, "sequence") ? s : NULL,
                 sources[k].kv);
        const fl_split bad[] = {{"FLxx\001", 5}, {"", 0}};
        for (size_t j = 0; j < 2; j++) {
            reader r = reader_open(&t, 0, 1);
            fl_error_clear(&err);
            assert_int_equal(t.c->restore(r.state, &bad[j], 1, &err), FL_EFORMAT);
            assert_non_null(strstr(err.message, "split 0 is not a"));
            reader_close(&t, &r);
        }
        /* A sequence split, truncated by a byte (for the sequence itself) or
         * whole (for the others, whose tags differ). */
        fl_split sp = fl_split_list_get(seq_splits, 0);
        if (strcmp(sources[k].name, "sequence") == 0) sp.len--;
        reader r = reader_open(&t, 0, 1);
        fl_error_clear(&err);
        assert_int_equal(t.c->restore(r.state, &sp, 1, &err), FL_EFORMAT);
        reader_close(&t, &r);
        sut_fini(&t);
    }
    fl_split_list_destroy(seq_splits);
    sut_fini(&seq);
    fl_schema_unref(s);

    /* The socket source cannot rewind: at-most-once. */
    const fl_source_connector *socket = fl_source_connector_find("socket");
    assert_null(socket->snapshot);
    assert_null(socket->restore);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sequence_restores),
        cmocka_unit_test(sequence_split_contents),
        cmocka_unit_test(collection_restores),
        cmocka_unit_test(datagen_restores),
        cmocka_unit_test(datagen_default_timestamps_survive_restore),
        cmocka_unit_test(filesystem_restores),
        cmocka_unit_test(split_list_and_bad_splits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
