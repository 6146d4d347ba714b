/*
 * test_runtime_window_join.c - windows over several inputs: the window join
 * and co-group (tumbling and session windows, keys of equal types under
 * different names), sources whose event time advances at different speeds
 * (the slowest holds results back, so none of its rows is late), an idle
 * source that does not hold results back (withIdleness on a manual clock,
 * fed by TCP servers the test runs), and the errors reported while building.
 *
 * References are computed here from the same rows.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "window_util.h"

/* Rows of (id BIGINT, ts TIMESTAMP, x BIGINT); timestamps out of order within bound. */
#define BOUND 30

/* ---- window join --------------------------------------------------------------------------- */

enum { J_LEFT = 1500, J_RIGHT = 1100, J_KEYS = 9 };

static int64_t l_id(int i) { return (int64_t)(mix((uint32_t)i) % J_KEYS); }
static int64_t l_ts(int i) {
    return 100 + (int64_t)i * 7 + (int64_t)(mix((uint32_t)i + 1) % BOUND);
}
static int64_t l_x(int i) { return i; }
static int64_t r_id(int i) { return (int64_t)(mix((uint32_t)i + 99) % J_KEYS); }
static int64_t r_ts(int i) {
    return 100 + (int64_t)i * 9 + (int64_t)(mix((uint32_t)i + 2) % BOUND);
}
static int64_t r_x(int i) { return 100000 + i; }

/* (id, left x, right x, result timestamp) */
int rt_wj_join(fl_context *ctx, const fl_row *left, const fl_row *right, fl_row_builder *out) {
    if (fl_row_get_bigint(left, 0) != fl_row_get_bigint(right, 0))
        return fl_context_fail(ctx, "joined rows of different keys");
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(left, 0));
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(left, 2));
    fl_row_builder_set_bigint(out, 2, fl_row_get_bigint(right, 2));
    fl_row_builder_set_bigint(out, 3, fl_context_timestamp(ctx));
    return 0;
}

static void test_window_join_tumbling(void **state) {
    const int64_t size = 120;
    fl_schema *ls = fl_schema_of(3, "id", FL_BIGINT, "ts", FL_TIMESTAMP, "a", FL_BIGINT);
    fl_schema *rs = fl_schema_of(3, "user", FL_BIGINT, "ts", FL_TIMESTAMP, "b", FL_BIGINT);
    fl_schema *out =
        fl_schema_of(4, "id", FL_BIGINT, "a", FL_BIGINT, "b", FL_BIGINT, "t", FL_BIGINT);
    fl_row **lrows = make_rows(ls, J_LEFT, l_id, l_ts, l_x);
    fl_row **rrows = make_rows(rs, J_RIGHT, r_id, r_ts, r_x);
    fl_env *env = rt_env(3, "pipeline.auto-watermark-interval", "0", NULL);
    fl_stream *j = fl_window_join(timed(env, ls, lrows, J_LEFT, BOUND), "id",
                                  timed(env, rs, rrows, J_RIGHT, BOUND), "user",
                                  fl_tumbling_event_time_windows(size, 0), rt_wj_join, out);
    fl_stream_name(j, "Join");
    fl_collect *c = fl_stream_collect(j);
    int64_t before = fl__keyed_state_bytes_at_close("Join");
    rt_execute(env, "window join");

    /* Every pair of equal keys in the same window, none late (each side's
     * rows stay within its watermark bound). */
    results want = {0};
    for (int i = 0; i < J_LEFT; i++)
        for (int k = 0; k < J_RIGHT; k++)
            if (l_id(i) == r_id(k) && l_ts(i) / size == r_ts(k) / size)
                push(&want, l_id(i), l_x(i), r_x(k), (l_ts(i) / size + 1) * size - 1);
    assert_true(want.n > 1000);
    results got = rt_results(c, 2, 3);
    expect_results(&want, &got, "window join");
    assert_int_equal(state_left("Join", before), 0);
    free_rows(lrows, J_LEFT);
    free_rows(rrows, J_RIGHT);
    fl_schema_unref(ls);
    fl_schema_unref(rs);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

/* ---- co-group on session windows ----------------------------------------------------------- */

#define GAP 40

/* Bursts per key: a burst every 400 ms, its rows < GAP apart (with jitter
 * under BOUND), so that sessions are the bursts whatever the arrival order. */
static int64_t s_ts(int i, int side) {
    int64_t burst = i / 12;
    return 1000 + burst * 400 + (i % 12) * 3 + (int64_t)(mix((uint32_t)(i * 2 + side)) % 8);
}
static int64_t sl_id(int i) { return i % 3; }
static int64_t sl_ts(int i) { return s_ts(i, 0); }
static int64_t sr_ts(int i) { return s_ts(i, 1) + 5; }

/* (id, end - 1, left count * 1000 + right count, left sum + right sum) */
int rt_wj_cogroup(fl_context *ctx, const fl_row *const *left, size_t nl, const fl_row *const *right,
                  size_t nr, fl_collector *out) {
    int64_t sum = 0, id = -1;
    for (size_t i = 0; i < nl; i++)
        sum += fl_row_get_bigint(left[i], 2), id = fl_row_get_bigint(left[i], 0);
    for (size_t i = 0; i < nr; i++)
        sum += fl_row_get_bigint(right[i], 2), id = fl_row_get_bigint(right[i], 0);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, id);
    fl_row_builder_set_bigint(b, 1, fl_context_timestamp(ctx));
    fl_row_builder_set_bigint(b, 2, (int64_t)(nl * 1000 + nr));
    fl_row_builder_set_bigint(b, 3, sum);
    return fl_collector_emit(out);
}

static void test_co_group_sessions(void **state) {
    enum { NL = 1200, NR = 900 };
    fl_schema *ls = fl_schema_of(3, "id", FL_BIGINT, "ts", FL_TIMESTAMP, "a", FL_BIGINT);
    fl_schema *rs = fl_schema_of(3, "rid", FL_BIGINT, "ts", FL_TIMESTAMP, "b", FL_BIGINT);
    fl_schema *out =
        fl_schema_of(4, "id", FL_BIGINT, "t", FL_BIGINT, "n", FL_BIGINT, "sum", FL_BIGINT);
    fl_row **lrows = make_rows(ls, NL, sl_id, sl_ts, l_x);
    fl_row **rrows = make_rows(rs, NR, sl_id, sr_ts, r_x);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_stream *cg =
        fl_window_co_group(timed(env, ls, lrows, NL, 10), "id", timed(env, rs, rrows, NR, 10),
                           "rid", fl_event_time_session_windows(GAP), rt_wj_cogroup, out);
    fl_stream_name(cg, "CoGroup");
    fl_collect *c = fl_stream_collect(cg);
    int64_t before = fl__keyed_state_bytes_at_close("CoGroup");
    rt_execute(env, "co-group");

    /* Sessions per key over both sides: bursts (i / 12) of key i % 3. */
    results want = {0};
    for (int burst = 0; burst * 12 < NL || burst * 12 < NR; burst++) {
        for (int k = 0; k < 3; k++) {
            int64_t nl = 0, nr = 0, sum = 0, last = INT64_MIN;
            for (int i = burst * 12; i < burst * 12 + 12; i++) {
                if (i % 3 != k) continue;
                if (i < NL) nl++, sum += l_x(i), last = sl_ts(i) > last ? sl_ts(i) : last;
                if (i < NR) nr++, sum += r_x(i), last = sr_ts(i) > last ? sr_ts(i) : last;
            }
            if (nl + nr > 0) push(&want, k, last + GAP - 1, nl * 1000 + nr, sum);
        }
    }
    results got = rt_results(c, 2, 3);
    expect_results(&want, &got, "co-group on sessions");
    assert_int_equal(state_left("CoGroup", before), 0);
    free_rows(lrows, NL);
    free_rows(rrows, NR);
    fl_schema_unref(ls);
    fl_schema_unref(rs);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

/* ---- sources at different speeds ----------------------------------------------------------- */

/* A: 1000 rows 100 ms apart; B: 100 000 rows 1 ms apart over the same time. */
enum { A_ROWS = 1000, B_ROWS = 100000 };
static int64_t fast_id(int i) { return i % 4; }
static int64_t fast_ts(int i) { return (int64_t)i * 100; }
static int64_t one(int i) { return 1; }
static int64_t slow_id(int i) { return i % 4; }
static int64_t slow_ts(int i) { return i; }

static void test_slowest_source_holds_back(void **state) {
    const int64_t size = 1000;
    fl_schema *s = fl_schema_of(3, "k", FL_BIGINT, "ts", FL_TIMESTAMP, "n", FL_BIGINT);
    fl_schema *st = fl_schema_of(3, "k", FL_BIGINT, "t", FL_BIGINT, "n", FL_BIGINT);
    fl_row **a = make_rows(s, A_ROWS, fast_id, fast_ts, one);
    fl_row **b = make_rows(s, B_ROWS, slow_id, slow_ts, one);
    fl_env *env = rt_env(3, "pipeline.auto-watermark-interval", "0", NULL);
    fl_stream *u = fl_stream_union(timed(env, s, a, A_ROWS, 0), timed(env, s, b, B_ROWS, 0));
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(u, "k"), fl_tumbling_event_time_windows(size, 0));
    fl_window_side_output_late_data(w, "late");
    fl_stream *sums = fl_window_sum(w, "n");
    fl_collect *c = fl_stream_collect(fl_stream_process(sums, rt_win_stamp, st));
    fl_collect *late = fl_stream_collect(fl_stream_side_output(sums, "late", s));
    rt_execute(env, "two speeds");

    /* Nothing is late: the window's watermark is the slower source's. */
    assert_int_equal(fl_collect_count(late), 0);
    results want = {0};
    for (int64_t start = 0; start < B_ROWS; start += size)
        for (int k = 0; k < 4; k++) {
            int64_t n = 0;
            for (int i = 0; i < A_ROWS; i++)
                n += fast_id(i) == k && fast_ts(i) / size == start / size;
            for (int64_t t = start; t < start + size && t < B_ROWS; t++) n += slow_id((int)t) == k;
            if (n) push(&want, k, start + size - 1, n, 0);
        }
    results got = rt_results(c, 2, -1);
    expect_results(&want, &got, "two sources");
    free_rows(a, A_ROWS);
    free_rows(b, B_ROWS);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
}

/* ---- an idle source ------------------------------------------------------------------------ */

/* A TCP server on 127.0.0.1 that sends `data` to its one client, then keeps
 * the connection open until `close_now` is set. */
typedef struct server {
    int listen_fd, port;
    const char *data;
    atomic_bool close_now;
    pthread_t thread;
    int rc;
} server;

static void *serve(void *arg) {
    server *s = arg;
    struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
    s->rc = -1;
    if (poll(&p, 1, 30000) != 1) return NULL;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    size_t len = strlen(s->data), off = 0;
    while (off < len) {
        ssize_t n = send(fd, s->data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += (size_t)n;
    }
    for (int i = 0; i < 3000 && !atomic_load(&s->close_now); i++) usleep(10000);
    close(fd);
    s->rc = off == len ? 0 : -1;
    return NULL;
}

static void server_start(server *s, const char *data) {
    memset(s, 0, sizeof *s);
    s->data = data;
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->listen_fd, 1), 0);
    assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(server *s) {
    atomic_store(&s->close_now, true);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

/* "k,ts,n" -> (k, ts, n) */
int rt_wj_parse(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    uint32_t len;
    const char *p = fl_row_get_string(in, 0, &len);
    char buf[64];
    if (len >= sizeof buf) return fl_context_fail(ctx, "line too long");
    memcpy(buf, p, len);
    buf[len] = '\0';
    long long k, ts, n;
    if (sscanf(buf, "%lld,%lld,%lld", &k, &ts, &n) != 3)
        return fl_context_fail(ctx, "bad line %s", buf);
    fl_row_builder_set_bigint(out, 0, k);
    fl_row_builder_set_timestamp(out, 1, ts);
    fl_row_builder_set_bigint(out, 2, n);
    return 0;
}

/* Results as they arrive, while the job runs. */
static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;
static results sunk;
static atomic_int sunk_n;

int rt_wj_sink(fl_context *ctx, const fl_row *in) {
    pthread_mutex_lock(&sink_mu);
    push(&sunk, fl_row_get_bigint(in, 0), fl_row_get_bigint(in, 1), fl_row_get_bigint(in, 2), 0);
    pthread_mutex_unlock(&sink_mu);
    atomic_fetch_add(&sunk_n, 1);
    return 0;
}

typedef struct job {
    fl_env *env;
    int rc;
    fl_error err;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    j->rc = fl_env_execute(j->env, "idle source", &j->err);
    return NULL;
}

static void test_idle_source_does_not_hold_back(void **state) {
    enum { ROWS = 300 };
    const int64_t size = 100;
    /* A: 300 rows 10 ms apart, then silence (the connection stays open);
     * B: nothing at all, idle after 200 ms of the manual clock. */
    char *data = malloc(ROWS * 32);
    size_t len = 0;
    for (int i = 0; i < ROWS; i++)
        len += (size_t)sprintf(data + len, "%d,%d,%d\n", i % 3, i * 10, 1);
    server a, b;
    server_start(&a, data);
    server_start(&b, "");
    fl_manual_clock *clock = fl_manual_clock_create(1000);
    fl_schema *s = fl_schema_of(3, "k", FL_BIGINT, "ts", FL_TIMESTAMP, "n", FL_BIGINT);
    fl_schema *st = fl_schema_of(3, "k", FL_BIGINT, "t", FL_BIGINT, "n", FL_BIGINT);
    fl_env *env = rt_env(2, "pipeline.auto-watermark-interval", "0", NULL);
    fl_env_set_clock(env, clock);
    fl_watermark_strategy busy = {.timestamp_field = "ts"};
    fl_watermark_strategy idle = {.timestamp_field = "ts", .idle_timeout_ms = 200};
    fl_stream *sa = fl_stream_assign_timestamps_and_watermarks(
        fl_stream_map(fl_env_socket_text_stream(env, "127.0.0.1", a.port, NULL), rt_wj_parse, s),
        &busy);
    fl_stream *sb = fl_stream_assign_timestamps_and_watermarks(
        fl_stream_map(fl_env_socket_text_stream(env, "127.0.0.1", b.port, NULL), rt_wj_parse, s),
        &idle);
    fl_windowed_stream *w = fl_keyed_window(fl_stream_key_by(fl_stream_union(sa, sb), "k"),
                                            fl_tumbling_event_time_windows(size, 0));
    fl_stream_sink(fl_stream_process(fl_window_sum(w, "n"), rt_win_stamp, st), rt_wj_sink);
    sunk = (results){0};
    atomic_store(&sunk_n, 0);

    job j = {.env = env};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_job, &j), 0);
    /* A's watermark reaches 2989: windows ending by then (29 per key) fire
     * once B is idle, while both connections are still open. Move the clock
     * until they came (bounded). */
    const int expected_open = 29 * 3;
    for (int i = 0; i < 1000 && atomic_load(&sunk_n) < expected_open; i++) {
        fl_manual_clock_advance(clock, 50);
        usleep(10000);
    }
    int while_open = atomic_load(&sunk_n);
    server_stop(&a);
    server_stop(&b);
    pthread_join(t, NULL);
    if (j.rc != 0) fail_msg("job failed: %s", j.err.message);
    assert_int_equal(while_open, expected_open);
    /* At the end the last window of each key fires too. */
    results want = {0};
    for (int64_t start = 0; start < ROWS * 10; start += size)
        for (int k = 0; k < 3; k++) {
            int64_t n = 0;
            for (int i = 0; i < ROWS; i++) n += i % 3 == k && i * 10 / size == start / size;
            push(&want, k, start + size - 1, n, 0);
        }
    expect_results(&want, &sunk, "idle source");
    sunk = (results){0};
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    free(data);
    fl_schema_unref(s);
    fl_schema_unref(st);
    fl_env_destroy(env);
    fl_manual_clock_destroy(clock);
}

/* ---- building errors ----------------------------------------------------------------------- */

int rt_wj_process(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                  fl_collector *out) {
    return 0;
}

int rt_wj_on_element(fl_trigger_ctx *t, const fl_row *row, int64_t ts, const fl_window *w) {
    return FL_TRIGGER_CONTINUE;
}

static const fl_trigger_fns no_merge_trigger = {.on_element = rt_wj_on_element};

/* Builds a small job with one mistake; the error must name it. */
static void expect_build_error(int which, const char *text) {
    fl_schema *s = fl_schema_of(3, "k", FL_BIGINT, "ts", FL_TIMESTAMP, "name", FL_STRING);
    fl_schema *s2 = fl_schema_of(2, "name", FL_STRING, "ts", FL_TIMESTAMP);
    fl_env *env = rt_env(1, NULL);
    fl_stream *src = fl_env_from_rows(env, s, NULL, 0);
    fl_keyed_stream *k = fl_stream_key_by(src, "k");
    fl_aggregate_function agg = {.acc_schema = s,
                                 .out_schema = s,
                                 .create_accumulator = (void *)rt_wj_process,
                                 .add = (void *)rt_wj_process,
                                 .get_result = (void *)rt_wj_process};
    switch (which) {
    case 0:
        fl_window_sum(fl_keyed_window(k, fl_tumbling_event_time_windows(0, 0)), "k");
        break;
    case 1:
        fl_window_sum(fl_keyed_window(k, fl_sliding_event_time_windows(100, 200, 0)), "k");
        break;
    case 2:
        fl_window_sum(fl_keyed_window(k, fl_tumbling_event_time_windows(100, 0)), "name");
        break;
    case 3:
        fl_window_sum(fl_keyed_window(k, fl_global_windows()), "k");
        break;
    case 4:
        fl_window_process(
            fl_window_trigger(fl_keyed_window(k, fl_event_time_session_windows(10)),
                              (fl_trigger){.kind = FL_TRIGGER_USER, .fns = &no_merge_trigger}),
            rt_wj_process, s);
        break;
    case 5:
        fl_window_join(src, "k", fl_env_from_rows(env, s2, NULL, 0), "name",
                       fl_tumbling_event_time_windows(10, 0), rt_wj_join, s);
        break;
    case 6:
        fl_window_aggregate(fl_keyed_window(k, fl_event_time_session_windows(10)), &agg);
        break;
    case 7:
        fl_window_sum(fl_keyed_window(k, fl_event_time_session_windows(-5)), "k");
        break;
    case 8:
        fl_window_sum(fl_window_trigger(fl_keyed_window(k, fl_global_windows()),
                                        (fl_trigger){.kind = FL_TRIGGER_COUNT, .count = 0}),
                      "k");
        break;
    case 10:
        fl_window_sum(fl_keyed_window(k, fl_sliding_event_time_windows(INT64_C(1) << 40, 1, 0)),
                      "k");
        break;
    case 9:
        fl_window_sum(fl_window_allowed_lateness(
                          fl_keyed_window(k, fl_tumbling_event_time_windows(10, 0)), -1),
                      "k");
        break;
    }
    const fl_error *e = fl_env_error(env);
    if (!e || !strstr(e->message, text))
        fail_msg("case %d: error \"%s\", expected one with \"%s\"", which,
                 e ? e->message : "(none)", text);
    fl_error err = {0};
    assert_int_not_equal(fl_env_execute(env, "bad", &err), 0);
    fl_schema_unref(s);
    fl_schema_unref(s2);
    fl_env_destroy(env);
}

static void test_building_errors(void **state) {
    expect_build_error(0, "positive size");
    expect_build_error(1, "no larger than the size");
    expect_build_error(2, "needs a numeric field, but \"name\" is STRING");
    expect_build_error(3, "global windows never fire");
    expect_build_error(4, "on_merge");
    expect_build_error(5, "different types");
    expect_build_error(6, "merge function");
    expect_build_error(7, "positive gap");
    expect_build_error(8, "positive count");
    expect_build_error(9, "allowed lateness");
    expect_build_error(10, "use a larger slide");
}

/* Event-time windows on rows without timestamps fail the job with advice. */
static void test_event_time_without_timestamps(void **state) {
    fl_env *env = rt_env(1, NULL);
    fl_stream *src = fl_env_from_sequence(env, 1, 10);
    fl_stream_discard(fl_window_sum(
        fl_keyed_window(fl_stream_key_by(src, "value"), fl_tumbling_event_time_windows(10, 0)),
        "value"));
    fl_error err = {0};
    assert_int_not_equal(fl_env_execute(env, "no timestamps", &err), 0);
    if (!strstr(err.message, "no timestamp") || !strstr(err.message, "assign timestamps"))
        fail_msg("unexpected error: %s", err.message);
    fl_env_destroy(env);
}

/* A window function that fails fails the job with its message. */
int rt_wj_failing(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                  fl_collector *out) {
    if (w->start >= 40)
        return fl_context_fail(ctx, "no windows after 40, got [%lld, %lld)", (long long)w->start,
                               (long long)w->end);
    return 0;
}

static void test_failing_window_function(void **state) {
    fl_schema *out = fl_schema_of(1, "x", FL_BIGINT);
    fl_env *env = rt_env(1, "pipeline.auto-watermark-interval", "0", NULL);
    fl_watermark_strategy ws = {.timestamp_field = "value"};
    fl_stream *src =
        fl_stream_assign_timestamps_and_watermarks(fl_env_from_sequence(env, 1, 100), &ws);
    fl_stream_discard(fl_window_process(
        fl_keyed_window(fl_stream_key_by(src, "value"), fl_tumbling_event_time_windows(10, 0)),
        rt_wj_failing, out));
    fl_error err = {0};
    assert_int_not_equal(fl_env_execute(env, "failing window", &err), 0);
    if (!strstr(err.message, "no windows after 40, got [40, 50)"))
        fail_msg("unexpected error: %s", err.message);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_join_tumbling),
        cmocka_unit_test(test_co_group_sessions),
        cmocka_unit_test(test_slowest_source_holds_back),
        cmocka_unit_test(test_idle_source_does_not_hold_back),
        cmocka_unit_test(test_building_errors),
        cmocka_unit_test(test_event_time_without_timestamps),
        cmocka_unit_test(test_failing_window_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
