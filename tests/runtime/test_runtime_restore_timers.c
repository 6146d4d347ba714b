/*
 * test_runtime_restore_timers.c - timers pending at a savepoint come back
 * with the keyed state and fire after the restore on their own: nothing
 * registers a timer after the restore, so none of them can be woken by a new
 * registration (which once was the only thing that scheduled them):
 *   - a keyed process function's processing-time timers fire, each once,
 *     when the manual clock passes them during the restored run, or at once
 *     when it had passed them before the run started (at another
 *     parallelism: the timers move with their key groups); its event-time
 *     timers fire on the first ordinary watermark that passes them;
 *   - a tumbling processing-time window with an aggregate, holding rows at
 *     the savepoint, fires once after the restore when the clock passes its
 *     end, though the restored run gives it no rows.
 * The oracle is what the first run registered and held, logged here.
 * Processing time is a manual clock that stays at 0 through the first run,
 * so no processing-time timer fires before the savepoint. The source and
 * everything chained to it run at parallelism 1, so the rows before the
 * savepoint's barrier are a prefix of the sequence, and every row that
 * registers a timer or reaches the window is in it.
 */
#include <pthread.h>
#include <string.h>

#include "savepoint_util.h"

#define ROWS         60000
#define SAVEPOINT_AT "10000"
#define KEYS         17
#define EVENT_DELAY  40000  /* event timers at a key's first timestamp + this */
#define ADVANCE_AT   30000  /* the row of the restored run that moves the clock */
#define LATER        100000 /* processing time after the first run */
#define EARLY        2000   /* the rows the window gets: 1..EARLY */
#define WINDOW       1000

#define SUM_COUNT_FIELD 1 /* v of (k, v) */
#include "sum_count_util.h"

static fl_manual_clock *clock_;
/* Restored run: the row at which the clock moves to LATER (0: never). */
static int64_t advance_at;
static int run_no; /* 0: the run stopped with a savepoint, 1: the restored one */

/* Moves the clock to LATER at the row advance_at names (any task's call). */
static void maybe_advance(int64_t v) {
    if (advance_at > 0 && v >= advance_at) fl_manual_clock_set(clock_, LATER);
}

/* ---- the timer log -------------------------------------------------------------------------- */

/* A registration or a firing; at: the processing time or the watermark it
 * fired at. Logged from every subtask's thread. */
typedef struct timer_event {
    int run;
    bool fired;
    fl_time_domain_kind domain;
    int64_t key, time, at;
} timer_event;

static struct {
    pthread_mutex_t mu;
    timer_event *v;
    size_t n, cap;
} log_ = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void log_event(bool fired, fl_time_domain_kind domain, int64_t key, int64_t time,
                      int64_t at) {
    pthread_mutex_lock(&log_.mu);
    if (log_.n == log_.cap) {
        log_.cap = log_.cap ? log_.cap * 2 : 256;
        log_.v = realloc(log_.v, log_.cap * sizeof *log_.v);
    }
    log_.v[log_.n++] = (timer_event){run_no, fired, domain, key, time, at};
    pthread_mutex_unlock(&log_.mu);
}

/* ---- the jobs ------------------------------------------------------------------------------- */

static fl_schema *kv_schema_; /* (k, v) */

int64_t rt_rtm_ts(fl_context *ctx, const fl_row *in, int64_t previous) {
    return fl_row_get_bigint(in, 0);
}

int rt_rtm_key(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    fl_row_builder_set_bigint(out, 0, v % KEYS);
    fl_row_builder_set_bigint(out, 1, v);
    return 0;
}

/* Registers a processing-time timer and logs it. */
static void register_processing(fl_context *ctx, int64_t key, int64_t time) {
    fl_context_register_processing_timer(ctx, time);
    log_event(false, FL_TIME_PROCESSING, key, time, 0);
}

/* A key's first row registers a processing-time timer 1000 + key ms from
 * now and an event-time timer EVENT_DELAY after the row; its second row a
 * processing-time timer 2000 ms from now (the same time for every key). Its
 * later rows register nothing. */
int rt_rtm_process(fl_context *ctx, const fl_row *in, fl_collector *out) {
    int64_t k = fl_row_get_bigint(in, 0);
    maybe_advance(fl_row_get_bigint(in, 1));
    fl_value_state *first = fl_context_value_state(ctx, "first", kv_schema_, NULL);
    fl_value_state *second = fl_context_value_state(ctx, "second", kv_schema_, NULL);
    if (!first || !second) return -1;
    int64_t now = fl_context_current_processing_time(ctx);
    if (!fl_value_state_get(first)) {
        register_processing(ctx, k, now + 1000 + k);
        int64_t t = fl_context_timestamp(ctx) + EVENT_DELAY;
        fl_context_register_event_timer(ctx, t);
        log_event(false, FL_TIME_EVENT, k, t, 0);
        return fl_value_state_update(first, in);
    }
    if (fl_value_state_get(second)) return 0;
    register_processing(ctx, k, now + 2000);
    return fl_value_state_update(second, in);
}

int rt_rtm_on_timer(fl_context *ctx, int64_t time, fl_collector *out) {
    fl_time_domain_kind d = fl_context_timer_domain(ctx);
    int64_t at = d == FL_TIME_PROCESSING ? fl_context_current_processing_time(ctx)
                                         : fl_context_current_watermark(ctx);
    log_event(true, d, fl_row_get_bigint(fl_context_current_key(ctx), 0), time, at);
    return 0;
}

/* The window's input: rows 1..EARLY, all before the savepoint. */
int rt_rtm_early(fl_context *ctx, const fl_row *in) {
    int64_t v = fl_row_get_bigint(in, 0);
    maybe_advance(v);
    return v <= EARLY;
}

/* The aggregate (sum, count) of v (sum_count_util.h), not merging. */
static fl_schema *acc_schema_;

/* (k, end, sum, count) from the aggregate's one result. */
int rt_rtm_window(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                  fl_collector *out) {
    if (n != 1) return fl_context_fail(ctx, "aggregate_process got %zu rows", n);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(fl_context_current_key(ctx), 0));
    fl_row_builder_set_bigint(b, 1, w->end);
    fl_row_builder_set_bigint(b, 2, fl_row_get_bigint(rows[0], 0));
    fl_row_builder_set_bigint(b, 3, fl_row_get_bigint(rows[0], 1));
    return fl_collector_emit(out);
}

/* Builds a job on env from its (k, v) rows, timestamped by v; returns what
 * the test reads, or NULL. */
typedef fl_collect *(*build_fn)(fl_env *env, fl_stream *kv);

static fl_collect *keyed_timers(fl_env *env, fl_stream *kv) {
    fl_stream *p =
        fl_keyed_process(fl_stream_key_by(kv, "k"), rt_rtm_process, rt_rtm_on_timer, kv_schema_);
    fl_stream_discard(fl_stream_uid(p, "timers"));
    return NULL;
}

static fl_collect *processing_time_window(fl_env *env, fl_stream *kv) {
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(kv, "k"), fl_tumbling_processing_time_windows(WINDOW, 0));
    fl_aggregate_function agg = {.acc_schema = acc_schema_,
                                 .out_schema = acc_schema_,
                                 .create_accumulator = rt_sum_count_create,
                                 .add = rt_sum_count_add,
                                 .get_result = rt_sum_count_result};
    fl_schema *res =
        fl_schema_of(4, "k", FL_BIGINT, "end", FL_BIGINT, "sum", FL_BIGINT, "count", FL_BIGINT);
    fl_stream *results = fl_window_aggregate_process(w, &agg, rt_rtm_window, res);
    fl_schema_unref(res);
    return fl_stream_collect(fl_stream_uid(results, "window"));
}

/* An operator of the source's chain: parallelism 1, with a uid. */
static fl_stream *chained(fl_stream *s, const char *uid) {
    return fl_stream_set_parallelism(fl_stream_uid(s, uid), 1);
}

/* Runs the job at parallelism p (its source chain at 1): stopped with a
 * savepoint into savepoints, or restored from restore_from. check, if not
 * NULL, reads what build returned before the job goes. */
static void run(int p, build_fn build, bool window_input, const char *savepoints,
                const char *restore_from, void (*check)(fl_collect *)) {
    fl_env *env = rt_env(p, "pipeline.auto-watermark-interval", "0",
                         "execution.checkpointing.savepoint-dir", savepoints, NULL);
    if (restore_from)
        fl_env_configure(env, "execution.state-recovery.path", restore_from, NULL);
    else
        fl_env_configure(env, "flinc.savepoint-at", SAVEPOINT_AT, NULL);
    fl_env_set_clock(env, clock_);
    fl_stream *s = chained(fl_env_from_sequence(env, 1, ROWS), "source");
    s = chained(fl_stream_filter(s, rt_savepoint_slow), "slow");
    if (window_input) s = chained(fl_stream_filter(s, rt_rtm_early), "early");
    fl_watermark_strategy ws = {.timestamp_fn = rt_rtm_ts};
    s = chained(fl_stream_assign_timestamps_and_watermarks(s, &ws), "ts");
    s = chained(fl_stream_map(s, rt_rtm_key, kv_schema_), "key");
    fl_collect *c = build(env, s);
    rows_read = 0;
    rt_execute(env, restore_from ? "restored" : "stopped with a savepoint");
    if (check) check(c);
    fl_env_destroy(env);
}

/* Runs the job at parallelism `from` until the savepoint stops it, with the
 * clock at 0, then restores it at parallelism `to` with the clock moving to
 * LATER during the restored run or, if not clock_moves, before it starts.
 * check_restored reads the restored run's results. */
static void stop_and_restore(int from, int to, build_fn build, bool window_input, bool clock_moves,
                             void (*check_first)(fl_collect *),
                             void (*check_restored)(fl_collect *)) {
    char savepoints[] = "/tmp/flinc-rtm-sp-XXXXXX";
    assert_non_null(mkdtemp(savepoints));
    clock_ = fl_manual_clock_create(0);
    kv_schema_ = fl_schema_of(2, "k", FL_BIGINT, "v", FL_BIGINT);
    acc_schema_ = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    log_.n = 0;
    run_no = 0;
    run(from, build, window_input, savepoints, NULL, check_first);
    int64_t first = rows_read;
    char savepoint[1024];
    stopped_savepoint(savepoint, sizeof savepoint);
    assert_int_equal(fl_manual_clock_now(clock_), 0);

    run_no = 1;
    if (clock_moves)
        advance_at = ADVANCE_AT;
    else
        fl_manual_clock_set(clock_, LATER);
    run(to, build, window_input, savepoints, savepoint, check_restored);
    advance_at = 0;
    print_message("%d -> %d: %lld rows read before the savepoint stopped the job, %lld after\n",
                  from, to, (long long)first, (long long)rows_read);
    assert_true(first >= atoi(SAVEPOINT_AT) && first < ROWS);
    assert_true(rows_read > 0 && rows_read < ROWS);
    assert_int_equal(fl_manual_clock_now(clock_), LATER);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", savepoints);
    assert_int_equal(system(cmd), 0);
    fl_schema_unref(kv_schema_);
    fl_schema_unref(acc_schema_);
    fl_manual_clock_destroy(clock_);
}

/* ---- keyed process function ----------------------------------------------------------------- */

/* The firings of the restored run that match registration r. */
static int restored_firings(const timer_event *r) {
    int n = 0;
    for (size_t i = 0; i < log_.n; i++) {
        const timer_event *e = &log_.v[i];
        n += e->fired && e->run == 1 && e->domain == r->domain && e->key == r->key &&
             e->time == r->time;
    }
    return n;
}

/* Every timer the first run registered (all before the savepoint, none
 * after the restore) fires exactly once in the restored run, when its time
 * has come: processing-time ones once the clock passed them, event-time
 * ones on an ordinary watermark (not the maximum that ends the input). None
 * fires otherwise. Event-time timers may also have fired in the stopping
 * run after the savepoint's barrier, which the restore undoes. */
static void check_timers(fl_collect *unused) {
    size_t registered = 0, fired = 0;
    for (size_t i = 0; i < log_.n; i++) {
        const timer_event *e = &log_.v[i];
        const char *d = e->domain == FL_TIME_PROCESSING ? "processing-time" : "event-time";
        if (!e->fired) {
            if (e->run != 0)
                fail_msg("key %lld registered a %s timer after the restore", (long long)e->key, d);
            registered++;
            int n = restored_firings(e);
            if (n != 1)
                fail_msg("the %s timer of key %lld at %lld fired %d times after the restore", d,
                         (long long)e->key, (long long)e->time, n);
            continue;
        }
        if (e->run == 0 && e->domain == FL_TIME_PROCESSING)
            fail_msg("a processing-time timer at %lld fired at %lld before the savepoint",
                     (long long)e->time, (long long)e->at);
        if (e->run == 0) continue;
        fired++;
        if (e->at < e->time || (e->domain == FL_TIME_EVENT && e->at >= ROWS))
            fail_msg("the %s timer of key %lld at %lld fired at %lld", d, (long long)e->key,
                     (long long)e->time, (long long)e->at);
    }
    assert_int_equal(registered, 3 * KEYS); /* two processing-time timers, one event-time */
    assert_int_equal(fired, registered);
}

static void test_keyed_timers_restored(void **state) {
    stop_and_restore(2, 2, keyed_timers, false, true, NULL, check_timers);
}

static void test_keyed_timers_due_at_restore_rescaled_2_to_3(void **state) {
    stop_and_restore(2, 3, keyed_timers, false, false, NULL, check_timers);
}

/* ---- processing-time window ----------------------------------------------------------------- */

static void check_no_window(fl_collect *c) { assert_int_equal(fl_collect_count(c), 0); }

/* The clock stood at 0 while rows 1..EARLY went in, so each key has one
 * window, [0, WINDOW), which fires once after the restore with all its
 * rows. */
static void check_windows(fl_collect *c) {
    int64_t sum[KEYS] = {0}, count[KEYS] = {0};
    int fired[KEYS] = {0};
    for (int64_t v = 1; v <= EARLY; v++) {
        sum[v % KEYS] += v;
        count[v % KEYS]++;
    }
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *r = fl_collect_row(c, i);
        int64_t k = fl_row_get_bigint(r, 0);
        assert_true(k >= 0 && k < KEYS);
        if (fired[k]++) fail_msg("the window of key %lld fired twice", (long long)k);
        assert_int_equal(fl_row_get_bigint(r, 1), WINDOW);
        assert_int_equal(fl_row_get_bigint(r, 2), sum[k]);
        assert_int_equal(fl_row_get_bigint(r, 3), count[k]);
    }
    for (int k = 0; k < KEYS; k++)
        if (!fired[k]) fail_msg("the window of key %d never fired after the restore", k);
}

static void test_processing_time_window_restored_2_to_3(void **state) {
    stop_and_restore(2, 3, processing_time_window, true, true, check_no_window, check_windows);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_timers_restored),
        cmocka_unit_test(test_keyed_timers_due_at_restore_rescaled_2_to_3),
        cmocka_unit_test(test_processing_time_window_restored_2_to_3),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(log_.v);
    return rc;
}
