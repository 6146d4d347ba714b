/*
 * test_connectors_exactly_once_sink.c - the "filesystem-exactly-once" sink
 * and its two-phase commit. Failures are real: a child process runs a sink
 * attempt through some checkpoints, hands the handles of its last completed
 * checkpoint to the test through a pipe and is killed with SIGKILL by the
 * test, without closing anything (a killed task); new instances recover from those handles,
 * possibly with another parallelism. The oracle is the set of row ids each checkpoint covers: the
 * finished files must hold every id of the completed checkpoints exactly once and none of the
 * failed attempt's, and no hidden file may remain. Also: the rolling policy (size, time,
 * checkpoints, end of input), idempotent commits, abort, and the errors.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "connectors.h"
#include "connectors_int.h"
#include "fake_ctx.h"
#include "mem.h"
#include "options.h"

#define SINK   "filesystem-exactly-once"
#define MAX_ID 1000

static char tmpdir[256];

static int setup(void **unused) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/flinc-test-eo-sink-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **unused) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the sink under test ----------------------------------------------------------------- */

typedef struct sink_test {
    const fl_sink_connector *c;
    fl_options *o;
    fl_schema *s; /* (id BIGINT): each line of the text files is one id */
    char *dir;
} sink_test;

/* A sink writing into a fresh directory `name`, with extra options. */
static void sink_init(sink_test *t, const char *name, const char *const *extra) {
    t->c = fl_sink_connector_find(SINK);
    assert_non_null(t->c);
    t->dir = fl_xasprintf("%s/%s", tmpdir, name);
    char *path = fl_xasprintf("path=%s", t->dir);
    const char *kv[16] = {path};
    size_t n = 1;
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) kv[n++] = extra[i];
    kv[n] = NULL;
    fl_error err = {0};
    t->o = fake_options(t->c->options, "connector \"" SINK "\"", kv, &err);
    if (t->o == NULL) fail_msg("%s", err.message);
    t->s = fl_schema_of(1, "id", FL_BIGINT);
    if (t->c->validate(t->o, t->s, &err) < 0) fail_msg("%s", err.message);
    free(path);
}

static void sink_fini(sink_test *t) {
    fl_options_destroy(t->o);
    fl_schema_unref(t->s);
    free(t->dir);
}

typedef struct subtask {
    fl_sink_ctx ctx;
    void *state;
} subtask;

static subtask sink_open(const sink_test *t, int index, int p) {
    subtask st = {{.subtask_index = index, .parallelism = p, .schema = t->s}, NULL};
    fl_error err = {0};
    if (t->c->open(&st.ctx, t->o, &st.state, &err) < 0) fail_msg("%s", err.message);
    return st;
}

/* Writes the ids in [from, to) that belong to subtask index of p (id % p),
 * in batches of up to 7 rows. */
static void write_ids(const sink_test *t, subtask *st, int from, int to) {
    fl_row_builder *b = fl_row_builder_create(t->s);
    fl_row *rows[7];
    int64_t ts[7] = {0};
    size_t n = 0;
    for (int id = from; id < to; id++) {
        if (id % st->ctx.parallelism != st->ctx.subtask_index) continue;
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, id);
        rows[n++] = fl_row_copy(fl_row_builder_finish(b));
        if (n == 7 || id == to - 1) {
            fl_error err = {0};
            if (t->c->write(st->state, (const fl_row *const *)rows, ts, n, &err) < 0)
                fail_msg("%s", err.message);
            for (size_t i = 0; i < n; i++) free(rows[i]);
            n = 0;
        }
    }
    fl_error err = {0};
    if (n > 0 && t->c->write(st->state, (const fl_row *const *)rows, ts, n, &err) < 0)
        fail_msg("%s", err.message);
    for (size_t i = 0; i < n; i++) free(rows[i]);
    fl_row_builder_destroy(b);
}

static void pre_commit(const sink_test *t, subtask *st, int64_t id, fl_split_list *out) {
    fl_error err = {0};
    if (t->c->pre_commit(st->state, id, out, &err) < 0) fail_msg("%s", err.message);
}

static void commit(const sink_test *t, subtask *st, int64_t id) {
    fl_error err = {0};
    if (t->c->commit(st->state, id, &err) < 0) fail_msg("%s", err.message);
}

static void recover(const sink_test *t, subtask *st, const fl_split_list *handles) {
    fl_error err = {0};
    if (t->c->recover(st->state, fl_split_list_items(handles), fl_split_list_count(handles), &err) <
        0)
        fail_msg("%s", err.message);
}

/* The normal end: finish, the final checkpoint, close. */
static void finish_and_close(const sink_test *t, subtask *st) {
    fl_error err = {0};
    fl_split_list *final = fl_split_list_create();
    if (t->c->finish(st->state, &err) < 0) fail_msg("%s", err.message);
    pre_commit(t, st, FL_CHECKPOINT_ID_FINAL, final);
    commit(t, st, FL_CHECKPOINT_ID_FINAL);
    t->c->close(st->state);
    fl_split_list_destroy(final);
}

/* ---- what is in the directory ------------------------------------------------------------ */

typedef struct dir_view {
    int counts[MAX_ID]; /* how often each id is in the finished files */
    int finished, hidden;
} dir_view;

static void look(const char *dir, dir_view *v) {
    memset(v, 0, sizeof *v);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (e->d_name[0] == '.') {
            v->hidden++;
            continue;
        }
        assert_true(strncmp(e->d_name, "part-", 5) == 0);
        v->finished++;
        char *path = fl_xasprintf("%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        long id;
        while (fscanf(f, "%ld\n", &id) == 1) {
            assert_true(id >= 0 && id < MAX_ID);
            v->counts[id]++;
        }
        assert_true(feof(f));
        fclose(f);
        free(path);
    }
    closedir(d);
}

/* The finished files hold exactly the ids [0, n), once each. */
static void assert_ids(const char *dir, int n, int hidden) {
    dir_view v;
    look(dir, &v);
    for (int id = 0; id < MAX_ID; id++)
        if (v.counts[id] != (id < n ? 1 : 0))
            fail_msg("id %d is in the finished files %d times (ids below %d expected once)", id,
                     v.counts[id], n);
    if (hidden >= 0) assert_int_equal(v.hidden, hidden);
}

/* The sorted names of the hidden part files whose old subtask index j has
 * j % q != skip (skip -1: all), one per line, into out (reset first). */
static void hidden_names(const char *dir, int q, int skip, fl__conn_buf *out) {
    char *names[4096];
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned j;
        if (sscanf(e->d_name, ".part-%u-", &j) != 1 ||
            (skip >= 0 && (int)(j % (unsigned)q) == skip))
            continue;
        assert_true(n < 4096);
        names[n++] = fl_xstrdup(e->d_name);
    }
    closedir(d);
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
            char *x = names[b];
            names[b] = names[b - 1];
            names[b - 1] = x;
        }
    out->len = 0;
    for (size_t i = 0; i < n; i++) {
        fl__conn_buf_append(out, names[i], strlen(names[i]));
        fl__conn_buf_putc(out, '\n');
        free(names[i]);
    }
    fl__conn_buf_putc(out, '\0');
}

/* ---- a failing attempt in a child process ------------------------------------------------ */

/* What the killed attempt of subtask index of p does: checkpoint 1 over ids
 * [0, 100) completes and is committed; checkpoint 2 over [100, 200) is
 * pre-committed and completes, but (unless commit_second) the task dies
 * before its commit, after writing [200, 260) for checkpoint 3. */
static void doomed_attempt(const sink_test *t, int index, int p, bool commit_second, int fd) {
    subtask st = sink_open(t, index, p);
    fl_split_list *h1 = fl_split_list_create(), *h2 = fl_split_list_create();
    write_ids(t, &st, 0, 100);
    pre_commit(t, &st, 1, h1);
    commit(t, &st, 1);
    write_ids(t, &st, 100, 200);
    pre_commit(t, &st, 2, h2);
    if (commit_second) commit(t, &st, 2);
    write_ids(t, &st, 200, 260);
    /* Hand over checkpoint 2's handles: count, then length and bytes of each. */
    size_t n = fl_split_list_count(h2);
    if (write(fd, &n, sizeof n) != (ssize_t)sizeof n) _exit(3);
    for (size_t i = 0; i < n; i++) {
        fl_split sp = fl_split_list_get(h2, i);
        if (write(fd, &sp.len, sizeof sp.len) != (ssize_t)sizeof sp.len ||
            write(fd, sp.data, sp.len) != (ssize_t)sp.len)
            _exit(3);
    }
    /* Wait to be killed by the test: no close, no abort, no exit handlers. */
    for (;;) pause();
}

/* Runs the doomed attempt of every subtask of p in a child process each and
 * appends their checkpoint-2 handles to `handles` (the union list state). */
static void kill_attempt(const sink_test *t, int p, bool commit_second, fl_split_list *handles) {
    for (int i = 0; i < p; i++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* Should a check fail in the child, cmocka would go on with the
             * next tests there: the alarm ends it; the test sees EOF. */
            alarm(30);
            close(fds[0]);
            doomed_attempt(t, i, p, commit_second, fds[1]);
        }
        close(fds[1]);
        size_t n;
        assert_int_equal(read(fds[0], &n, sizeof n), sizeof n);
        for (size_t k = 0; k < n; k++) {
            size_t len;
            assert_int_equal(read(fds[0], &len, sizeof len), sizeof len);
            char *data = fl_xmalloc(len ? len : 1);
            size_t got = 0;
            while (got < len) {
                ssize_t r = read(fds[0], data + got, len - got);
                assert_true(r > 0);
                got += (size_t)r;
            }
            fl_split_list_add(handles, data, len);
            free(data);
        }
        close(fds[0]);
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    }
}

/* Kill an attempt of parallelism p, recover with parallelism q from the
 * last completed checkpoint (2), replay [200, 300), end normally. */
static void kill_and_recover(const char *name, const char *const *extra, int p, int q,
                             bool commit_second) {
    sink_test t;
    sink_init(&t, name, extra);
    fl_split_list *handles = fl_split_list_create();
    kill_attempt(&t, p, commit_second, handles);
    /* The failed attempt left hidden files; what checkpoint 1 (and with
     * commit_second, 2) committed is visible. */
    dir_view v;
    look(t.dir, &v);
    assert_true(v.hidden > 0);

    subtask *news = fl_xcalloc((size_t)q, sizeof *news);
    fl__conn_buf before = {0}, others = {0}, after = {0};
    hidden_names(t.dir, q, -1, &before);
    hidden_names(t.dir, q, 0, &others);
    for (int k = 0; k < q; k++) {
        news[k] = sink_open(&t, k, q);
        recover(&t, &news[k], handles);
        if (k == 0) {
            /* Subtask 0 left the files of the other subtasks' old indexes
             * alone and cleaned up its own. */
            hidden_names(t.dir, q, -1, &after);
            assert_string_equal(after.data, others.data);
        }
    }
    assert_true(before.len > 0);
    fl__conn_buf_free(&before);
    fl__conn_buf_free(&others);
    fl__conn_buf_free(&after);
    /* Every id of checkpoints 1 and 2 exactly once, nothing of the failed
     * attempt, no hidden file left. */
    assert_ids(t.dir, 200, 0);

    /* The new attempt replays what came after checkpoint 2 and more. */
    for (int k = 0; k < q; k++) {
        write_ids(&t, &news[k], 200, 300);
        finish_and_close(&t, &news[k]);
    }
    assert_ids(t.dir, 300, 0);
    free(news);
    fl_split_list_destroy(handles);
    sink_fini(&t);
}

static void recovers_after_kill(void **unused) {
    /* Flink's row-format default: in-progress files carry over checkpoints,
     * so checkpoint 2's rows are in an in-progress file recorded by length. */
    kill_and_recover("default", NULL, 1, 1, false);
    kill_and_recover("default-p2", NULL, 2, 2, false);
    /* Rolling at every checkpoint: checkpoint 2's rows are in pending files. */
    const char *on_cp[] = {"rolling.on-checkpoint=true", NULL};
    kill_and_recover("on-checkpoint", on_cp, 2, 2, false);
    /* Small parts: files roll between checkpoints, so checkpoint 2 names
     * pending files and an in-progress one that rolled after it. */
    const char *small[] = {"rolling.max-part-size=64", NULL};
    kill_and_recover("small", small, 2, 2, false);
    /* Commit of checkpoint 2 done before the kill: recovery is idempotent. */
    kill_and_recover("committed", small, 2, 2, true);
    kill_and_recover("committed-default", NULL, 1, 1, true);
}

static void recovers_with_other_parallelism(void **unused) {
    const char *small[] = {"rolling.max-part-size=64", NULL};
    kill_and_recover("up", small, 2, 3, false);
    kill_and_recover("down", small, 3, 2, false);
    kill_and_recover("down-default", NULL, 3, 1, false);
    kill_and_recover("up-on-checkpoint", (const char *const[]){"rolling.on-checkpoint=true", NULL},
                     1, 4, true);
}

static void restart_before_any_checkpoint(void **unused) {
    /* A restart before the first checkpoint completed: recover() without
     * handles deletes every hidden file the failed attempt wrote and keeps
     * finished ones. The doomed attempt's checkpoints stand for "never
     * completed" here; with rolling.on-checkpoint its commit of checkpoint 1
     * made ids 0..99 finished (think: the output of an earlier job). */
    static const char *const on_cp[] = {"rolling.on-checkpoint=true", NULL};
    for (int variant = 0; variant < 2; variant++) {
        sink_test t;
        sink_init(&t, variant ? "no-checkpoint-on-cp" : "no-checkpoint", variant ? on_cp : NULL);
        fl_split_list *handles = fl_split_list_create();
        kill_attempt(&t, 2, false, handles);
        fl_split_list_clear(handles);
        dir_view v;
        look(t.dir, &v);
        assert_true(v.hidden > 0);
        for (int k = 0; k < 2; k++) {
            subtask st = sink_open(&t, k, 2);
            recover(&t, &st, handles);
            t.c->close(st.state);
        }
        assert_ids(t.dir, variant ? 100 : 0, 0);
        fl_split_list_destroy(handles);
        sink_fini(&t);
    }
}

/* ---- the normal path --------------------------------------------------------------------- */

static void commit_makes_visible(void **unused) {
    sink_test t;
    sink_init(&t, "visible", NULL);
    subtask st = sink_open(&t, 0, 1);
    fl_split_list *h = fl_split_list_create();
    write_ids(&t, &st, 0, 50);
    /* Nothing is visible before a checkpoint covering the rows completes. */
    assert_ids(t.dir, 0, 1);
    pre_commit(&t, &st, 1, h);
    assert_int_equal(fl_split_list_count(h), 1); /* the in-progress file, by length */
    commit(&t, &st, 1);
    /* The default policy keeps the part file open over checkpoints. */
    assert_ids(t.dir, 0, 1);
    write_ids(&t, &st, 50, 80);
    fl_error err = {0};
    assert_int_equal(t.c->finish(st.state, &err), 0); /* end of input rolls it */
    assert_ids(t.dir, 0, 1);
    fl_split_list_clear(h);
    pre_commit(&t, &st, 2, h);
    assert_int_equal(fl_split_list_count(h), 1); /* one pending file */
    assert_ids(t.dir, 0, 1);
    commit(&t, &st, 1); /* an older notice commits nothing new */
    assert_ids(t.dir, 0, 1);
    commit(&t, &st, 2);
    assert_ids(t.dir, 80, 0);
    commit(&t, &st, 2); /* idempotent */
    commit(&t, &st, 3);
    assert_ids(t.dir, 80, 0);
    t.c->close(st.state);
    char *part = fl_xasprintf("%s/part-0-0", t.dir);
    struct stat sb;
    assert_int_equal(stat(part, &sb), 0);
    free(part);
    fl_split_list_destroy(h);
    sink_fini(&t);

    /* rolling.on-checkpoint: each checkpoint's rows are visible at its commit;
     * a lost notice is covered by the next one, whose pre_commit names the
     * earlier pending file again. */
    const char *on_cp[] = {"rolling.on-checkpoint=true", NULL};
    sink_init(&t, "visible-on-checkpoint", on_cp);
    st = sink_open(&t, 0, 1);
    h = fl_split_list_create();
    write_ids(&t, &st, 0, 10);
    pre_commit(&t, &st, 1, h);
    commit(&t, &st, 1);
    assert_ids(t.dir, 10, 0);
    write_ids(&t, &st, 10, 20);
    pre_commit(&t, &st, 2, h); /* commit(2) is lost */
    write_ids(&t, &st, 20, 30);
    fl_split_list_clear(h);
    pre_commit(&t, &st, 3, h);
    assert_int_equal(fl_split_list_count(h), 2);
    assert_ids(t.dir, 10, 2);
    commit(&t, &st, 3);
    assert_ids(t.dir, 30, 0);
    pre_commit(&t, &st, 4, h); /* nothing written: no new file */
    commit(&t, &st, 4);
    finish_and_close(&t, &st);
    dir_view v;
    look(t.dir, &v);
    assert_int_equal(v.finished, 3);
    fl_split_list_destroy(h);
    sink_fini(&t);
}

/* Reads a whole file; new string. */
static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fl__conn_buf b = {0};
    int c;
    while ((c = fgetc(f)) != EOF) fl__conn_buf_putc(&b, (char)c);
    fl__conn_buf_putc(&b, '\0');
    fclose(f);
    return b.data;
}

static void rolls_by_size(void **unused) {
    /* Ids 100..399 are 4-byte lines: parts of 40 bytes roll after 10 rows. */
    const char *kv[] = {"rolling.max-part-size=40", NULL};
    sink_test t;
    sink_init(&t, "size", kv);
    subtask st = sink_open(&t, 0, 1);
    write_ids(&t, &st, 100, 395);
    finish_and_close(&t, &st);
    dir_view v;
    look(t.dir, &v);
    assert_int_equal(v.finished, 30);
    assert_int_equal(v.hidden, 0);
    /* In counter order the parts hold the rows in order, 10 per part but the
     * last (5). */
    int id = 100;
    for (int c = 0; c < 30; c++) {
        char *path = fl_xasprintf("%s/part-0-%d", t.dir, c);
        char *text = read_all(path);
        fl__conn_buf expect = {0};
        for (int k = 0; k < 10 && id < 395; k++, id++) {
            char line[16];
            int n = snprintf(line, sizeof line, "%d\n", id);
            fl__conn_buf_append(&expect, line, (size_t)n);
        }
        fl__conn_buf_putc(&expect, '\0');
        assert_string_equal(text, expect.data);
        fl__conn_buf_free(&expect);
        free(text);
        free(path);
    }
    sink_fini(&t);

    /* Rows larger than the limit: one row per part. */
    const char *tiny[] = {"rolling.max-part-size=1", "format=csv", NULL};
    sink_init(&t, "tiny", tiny);
    st = sink_open(&t, 0, 1);
    write_ids(&t, &st, 0, 12);
    finish_and_close(&t, &st);
    look(t.dir, &v);
    assert_int_equal(v.finished, 12);
    assert_ids(t.dir, 12, 0);
    sink_fini(&t);
}

/* Spins until the monotonic clock has moved past `since + ns`. */
static void wait_past(int64_t since, int64_t ns) {
    while (fl_clock_monotonic_ns() <= since + ns) fl_sleep_ns(100000);
}

static void rolls_by_time(void **unused) {
    /* rollover-interval: a part open that long rolls at the next write. */
    const char *rollover[] = {"rolling.rollover-interval=2 ms", "rolling.inactivity-interval=1 h",
                              NULL};
    sink_test t;
    sink_init(&t, "rollover", rollover);
    subtask st = sink_open(&t, 0, 1);
    /* The clock is read after the writes, so the waits are long enough. */
    write_ids(&t, &st, 0, 5);
    wait_past(fl_clock_monotonic_ns(), 2000000);
    write_ids(&t, &st, 5, 10);
    /* The first part rolled (pending), the second is open. */
    dir_view v;
    look(t.dir, &v);
    assert_int_equal(v.hidden, 2);
    wait_past(fl_clock_monotonic_ns(), 2000000);
    /* Due at the checkpoint: pre_commit rolls it although rolling.on-checkpoint
     * is off. */
    fl_split_list *h = fl_split_list_create();
    pre_commit(&t, &st, 1, h);
    commit(&t, &st, 1);
    assert_ids(t.dir, 10, 0);
    look(t.dir, &v);
    assert_int_equal(v.finished, 2);
    t.c->close(st.state);
    sink_fini(&t);

    /* inactivity-interval: a part without rows for that long rolls. */
    const char *idle[] = {"rolling.inactivity-interval=2 ms", NULL};
    sink_init(&t, "inactivity", idle);
    st = sink_open(&t, 0, 1);
    write_ids(&t, &st, 0, 3);
    wait_past(fl_clock_monotonic_ns(), 2000000);
    write_ids(&t, &st, 3, 6);
    finish_and_close(&t, &st);
    look(t.dir, &v);
    assert_int_equal(v.finished, 2);
    assert_ids(t.dir, 6, 0);
    fl_split_list_destroy(h);
    sink_fini(&t);
}

static void abort_discards_open_work(void **unused) {
    sink_test t;
    sink_init(&t, "abort", NULL);
    subtask st = sink_open(&t, 0, 1);
    write_ids(&t, &st, 0, 10);
    t.c->abort(st.state); /* never pre-committed: the in-progress file goes */
    assert_ids(t.dir, 0, 0);
    t.c->close(st.state);

    /* Recorded by a pre_commit: the file stays for recover() to cut back. */
    st = sink_open(&t, 0, 1);
    fl_split_list *h = fl_split_list_create();
    write_ids(&t, &st, 0, 10);
    pre_commit(&t, &st, 1, h);
    write_ids(&t, &st, 10, 20);
    t.c->abort(st.state);
    t.c->close(st.state);
    assert_ids(t.dir, 0, 1);
    st = sink_open(&t, 0, 1);
    recover(&t, &st, h);
    assert_ids(t.dir, 10, 0);
    t.c->close(st.state);
    /* New names never collide with what is there: part-0-0 is kept. */
    st = sink_open(&t, 0, 1);
    write_ids(&t, &st, 10, 15);
    finish_and_close(&t, &st);
    assert_ids(t.dir, 15, 0);
    fl_split_list_destroy(h);
    sink_fini(&t);
}

/* ---- formats and errors ------------------------------------------------------------------ */

static void csv_and_errors(void **unused) {
    /* The CSV code is the filesystem sink's. */
    fl_schema *s = fl_schema_of(2, "name", FL_STRING, "x", FL_DOUBLE);
    const fl_sink_connector *c = fl_sink_connector_find(SINK);
    char *dir = fl_xasprintf("%s/csv", tmpdir);
    char *path = fl_xasprintf("path=%s", dir);
    const char *kv[] = {path, "format=csv", "csv.field-delimiter=;", NULL};
    fl_error err = {0};
    fl_options *o = fake_options(c->options, "connector \"" SINK "\"", kv, &err);
    assert_non_null(o);
    fl_sink_ctx ctx = {.subtask_index = 0, .parallelism = 1, .schema = s};
    void *state;
    assert_int_equal(c->open(&ctx, o, &state, &err), 0);
    fl_row_builder *b = fl_row_builder_create(s);
    fl_row_builder_set_cstring(b, 0, "a;b \"c\"");
    fl_row_builder_set_double(b, 1, 0.5);
    fl_row *row = fl_row_copy(fl_row_builder_finish(b));
    int64_t ts = 0;
    assert_int_equal(c->write(state, (const fl_row *const *)&row, &ts, 1, &err), 0);
    assert_int_equal(c->finish(state, &err), 0);
    fl_split_list *h = fl_split_list_create();
    assert_int_equal(c->pre_commit(state, FL_CHECKPOINT_ID_FINAL, h, &err), 0);
    assert_int_equal(c->commit(state, FL_CHECKPOINT_ID_FINAL, &err), 0);
    c->close(state);
    char *file = fl_xasprintf("%s/part-0-0", dir);
    char *text = read_all(file);
    assert_string_equal(text, "\"a;b \"\"c\"\"\";0.5\n");
    free(text);

    /* Recovery errors: a foreign handle, a pending file that vanished. */
    assert_int_equal(c->open(&ctx, o, &state, &err), 0);
    const fl_split junk = {"FLsq\001", 5};
    assert_int_equal(c->recover(state, &junk, 1, &err), FL_EFORMAT);
    assert_string_equal(err.message, "connector \"" SINK "\": handle 0 is not a part file handle");
    c->close(state);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(c->open(&ctx, o, &state, &err), 0);
    fl_error_clear(&err);
    assert_int_equal(c->recover(state, fl_split_list_items(h), fl_split_list_count(h), &err),
                     FL_EIO);
    assert_non_null(strstr(err.message, "it is missing"));
    c->close(state);
    free(file);
    fl_split_list_destroy(h);

    /* Options. */
    static const char *const bad[][2] = {
        {"rolling.max-part-size=big", "rolling.max-part-size=\"big\" is not a positive size"},
        {"rolling.max-part-size=0", "is not a positive size"},
        {"rolling.rollover-interval=soon", "is not a positive duration"},
        {"rolling.inactivity-interval=0 s", "is not a positive duration"},
        {"format=json", "format must be text or csv"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *bkv[] = {path, bad[i][0], NULL};
        fl_options *bo = fake_options(c->options, "connector \"" SINK "\"", bkv, &err);
        assert_non_null(bo);
        fl_error_clear(&err);
        assert_int_equal(c->validate(bo, s, &err), FL_ECONFIG);
        assert_non_null(strstr(err.message, bad[i][1]));
        fl_options_destroy(bo);
    }
    fl_options_destroy(o);
    free(row);
    fl_row_builder_destroy(b);
    free(path);
    free(dir);
    fl_schema_unref(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commit_makes_visible),
        cmocka_unit_test(recovers_after_kill),
        cmocka_unit_test(recovers_with_other_parallelism),
        cmocka_unit_test(restart_before_any_checkpoint),
        cmocka_unit_test(rolls_by_size),
        cmocka_unit_test(rolls_by_time),
        cmocka_unit_test(abort_discards_open_work),
        cmocka_unit_test(csv_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
