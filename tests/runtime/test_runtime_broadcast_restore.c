/*
 * test_runtime_broadcast_restore.c - the broadcast state of the broadcast
 * state pattern survives a stop-with-savepoint and a restore at another
 * parallelism (2 -> 3: new instance 2 reads old instance 0's copy), and a
 * restart after a failure: the rules (key -> factor) are sent once, in the
 * first run, and the elements after the restore are still multiplied by
 * them. The oracle is the rules applied in order, computed here.
 *
 * The elements come from a "gated" sequence (gated_source.h, one subtask)
 * that emits values up to a gate and idles there until the test moves the
 * gate on, so where each run starts and stops is known whatever the
 * machine's speed: the first run's elements flow only once every instance
 * has processed every rule, and the stop is asked while the source waits at
 * the middle gate.
 *
 * Also: savepoints taken while the broadcast state was still empty, or by a
 * job whose operator of that uid had no broadcast state, restore to an empty
 * state.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "flinc/window.h"
#include "savepoint_util.h"

#define N    6000    /* elements 0..N-1 */
#define HALF (N / 2) /* where the first run stops */
#define KEYS 16      /* an element v uses rule v % KEYS */
#define P1   2       /* the broadcast operator's parallelism before ... */
#define P2   3       /* ... and after the restore */

/* ---- the gated sequence of the elements (gated_source.h) ------------------------------------- */

#define GATED_END      N
#define GATED_PARALLEL false
#include "gated_source.h"

/* ---- what the functions share with the test, under mu (beside the source's) ------------------ */

static int64_t rules_seen;     /* rule rows the broadcast functions processed */
static int64_t opened;         /* broadcast instances opened (over attempts) */
static int64_t id_at_gate;     /* first checkpoint taken with the source at HALF */
static bool completed_at_gate; /* a checkpoint >= id_at_gate completed */
static atomic_bool fail_armed; /* the next element >= HALF fails the task, once */

/* Adds delta to *var (under mu) and wakes the waiters. */
static void add_shared(int64_t *var, int64_t delta) {
    pthread_mutex_lock(&mu);
    *var += delta;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void set_gate(int64_t value) {
    pthread_mutex_lock(&mu);
    gated_move_locked(value);
    pthread_mutex_unlock(&mu);
}

/* Before a run: the gate closed at 0, nothing seen. */
static void reset_shared(void) {
    pthread_mutex_lock(&mu);
    gated_reset_locked(0);
    rules_seen = opened = id_at_gate = 0;
    completed_at_gate = false;
    pthread_mutex_unlock(&mu);
    atomic_store(&fail_armed, false);
}

static int64_t rules_wanted;
static bool all_rules_seen(void) { return rules_seen == rules_wanted; }
static bool source_at_gate(void) { return gated_next == gate; }
static bool checkpoint_at_gate(void) { return completed_at_gate; }
static bool restarted(void) { return opened == 2 * P1; }

/* ---- rules and the user functions (found by symbol name) -------------------------------- */

/* Rule rows (k, factor, op): op 0 puts k -> factor, 1 removes k. */
typedef struct rule {
    int64_t k, factor;
    int op;
} rule;

static size_t make_rules(rule *r) {
    size_t n = 0;
    for (int k = 0; k < KEYS; k++) r[n++] = (rule){k, k + 2, 0};
    for (int k = 0; k < KEYS; k += 3) r[n++] = (rule){k, 100 + k, 0}; /* overrides */
    for (int k = 1; k < KEYS; k += 5) r[n++] = (rule){k, 0, 1};       /* removals */
    return n;
}

/* The expected result for element v after rules r[0..n) (-1: no rule). */
static int64_t oracle(const rule *r, size_t n, int64_t v) {
    int64_t result = -1;
    for (size_t i = 0; i < n; i++)
        if (r[i].k == v % KEYS) result = r[i].op == 0 ? v * r[i].factor : -1;
    return result;
}

static fl_schema *rule_schema(void) {
    return fl_schema_of(3, "k", FL_BIGINT, "factor", FL_BIGINT, "op", FL_INT);
}
static fl_schema *key_schema(void) { return fl_schema_of(1, "k", FL_BIGINT); }
static fl_schema *value_schema(void) { return fl_schema_of(1, "factor", FL_BIGINT); }
/* (value, subtask that processed it, result) */
static fl_schema *out_schema(void) {
    return fl_schema_of(3, "v", FL_BIGINT, "subtask", FL_BIGINT, "result", FL_BIGINT);
}

typedef struct builders {
    fl_schema *ks, *vs;
    fl_row_builder *kb, *vb;
} builders;

int rt_bcr_open(fl_context *ctx) {
    builders *b = calloc(1, sizeof *b);
    b->ks = key_schema();
    b->vs = value_schema();
    b->kb = fl_row_builder_create(b->ks);
    b->vb = fl_row_builder_create(b->vs);
    fl_context_set_user(ctx, b);
    add_shared(&opened, 1);
    return 0;
}

void rt_bcr_close(fl_context *ctx) {
    builders *b = fl_context_user(ctx);
    if (!b) return;
    fl_row_builder_destroy(b->kb);
    fl_row_builder_destroy(b->vb);
    fl_schema_unref(b->ks);
    fl_schema_unref(b->vs);
    free(b);
}

static const fl_row *key_row(builders *b, int64_t k) {
    fl_row_builder_reset(b->kb);
    fl_row_builder_set_bigint(b->kb, 0, k);
    return fl_row_builder_finish(b->kb);
}

static int emit_result(fl_context *ctx, fl_collector *out, int64_t v, int64_t result) {
    fl_row_builder *rb = fl_collector_builder(out);
    fl_row_builder_set_bigint(rb, 0, v);
    fl_row_builder_set_bigint(rb, 1, fl_context_subtask_index(ctx));
    fl_row_builder_set_bigint(rb, 2, result);
    return fl_collector_emit(out);
}

int rt_bcr_rule(fl_context *ctx, const fl_row *in, fl_collector *out) {
    builders *b = fl_context_user(ctx);
    fl_map_state *rules = fl_context_broadcast_state(ctx);
    const fl_row *key = key_row(b, fl_row_get_bigint(in, 0));
    int rc = 0;
    if (fl_row_get_int(in, 2) == 1) {
        fl_map_state_remove(rules, key);
    } else {
        fl_row_builder_reset(b->vb);
        fl_row_builder_set_bigint(b->vb, 0, fl_row_get_bigint(in, 1));
        rc = fl_map_state_put(rules, key, fl_row_builder_finish(b->vb));
    }
    add_shared(&rules_seen, 1);
    return rc;
}

int rt_bcr_element(fl_context *ctx, const fl_row *in, fl_collector *out) {
    builders *b = fl_context_user(ctx);
    int64_t v = fl_row_get_bigint(in, 0);
    if (v >= HALF && atomic_exchange(&fail_armed, false)) {
        fl_context_fail(ctx, "injected failure at element %lld", (long long)v);
        return -1;
    }
    const fl_row *f = fl_map_state_get(fl_context_broadcast_state(ctx), key_row(b, v % KEYS));
    return emit_result(ctx, out, v, f ? v * fl_row_get_bigint(f, 0) : -1);
}

/* The element side of a job without broadcast state. */
int rt_bcr_plain(fl_context *ctx, const fl_row *in, fl_collector *out) {
    return emit_result(ctx, out, fl_row_get_bigint(in, 0), -1);
}

/* Chained to the source: notes the first checkpoint taken at the gate. */
int rt_bcr_source_snapshot(fl_context *ctx, int64_t id) {
    pthread_mutex_lock(&mu);
    if (!id_at_gate && gated_next == HALF) id_at_gate = id;
    pthread_mutex_unlock(&mu);
    return 0;
}

void rt_bcr_source_complete(fl_context *ctx, int64_t id) {
    pthread_mutex_lock(&mu);
    if (id_at_gate && id >= id_at_gate) completed_at_gate = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

int rt_bcr_pass(fl_context *ctx, const fl_row *in) { return 1; }

/* ---- jobs ---------------------------------------------------------------------------------- */

/* The job: gated source -> (hooks) -> broadcast process at parallelism p
 * with rules r[0..n) -> collect; without broadcast, the source feeds a
 * plain process operator of the same uid ("bc") and there are no rules.
 * With restarts, checkpoints every 20 ms and one restart. */
static void job_build(rt_job *j, int p, const rule *r, size_t n, const char *savepoints,
                      const char *restore_from, bool broadcast, bool restarts) {
    memset(j, 0, sizeof *j);
    j->name = "broadcast restore";
    register_source(&gated_connector);
    j->env = restarts
                 ? rt_env(p, "execution.checkpointing.interval", "20 ms", "restart-strategy.type",
                          "fixed-delay", "restart-strategy.fixed-delay.attempts", "1",
                          "restart-strategy.fixed-delay.delay", "0 ms", NULL)
                 : rt_env(p, NULL);
    if (savepoints)
        fl_env_configure(j->env, "execution.checkpointing.savepoint-dir", savepoints, NULL);
    if (restore_from) fl_env_configure(j->env, "execution.state-recovery.path", restore_from, NULL);
    fl_schema *out = out_schema();
    fl_stream *src =
        fl_stream_uid(fl_env_add_source(j->env, "gated-sequence", NULL, NULL), "elements");
    fl_stream *elements = fl_stream_uid(fl_stream_filter(src, rt_bcr_pass), "hooks");
    fl_stream_set_checkpoint_hooks(elements, rt_bcr_source_snapshot, rt_bcr_source_complete);
    fl_stream *result;
    if (broadcast) {
        fl_schema *rs = rule_schema(), *ks = key_schema(), *vs = value_schema();
        fl_row **rows = calloc(n ? n : 1, sizeof *rows);
        fl_row_builder *b = fl_row_builder_create(rs);
        for (size_t i = 0; i < n; i++) {
            fl_row_builder_reset(b);
            fl_row_builder_set_bigint(b, 0, r[i].k);
            fl_row_builder_set_bigint(b, 1, r[i].factor);
            fl_row_builder_set_int(b, 2, r[i].op);
            rows[i] = fl_row_copy(fl_row_builder_finish(b));
        }
        fl_stream *rules =
            fl_stream_uid(fl_env_from_rows(j->env, rs, (const fl_row *const *)rows, n), "rules");
        result = fl_stream_connect_broadcast(elements, rules, "rules", ks, vs, rt_bcr_element,
                                             rt_bcr_rule, out);
        fl_stream_set_hooks(result, rt_bcr_open, rt_bcr_close);
        for (size_t i = 0; i < n; i++) free(rows[i]);
        free(rows);
        fl_row_builder_destroy(b);
        fl_schema_unref(rs);
        fl_schema_unref(ks);
        fl_schema_unref(vs);
    } else {
        result = fl_stream_process(elements, rt_bcr_plain, out);
    }
    result = fl_stream_set_parallelism(fl_stream_uid(result, "bc"), p);
    j->out = fl_stream_collect(result);
    fl_schema_unref(out);
}

/* Waits until the broadcast functions processed `n` rule rows in all. */
static void wait_rules(int64_t n) {
    pthread_mutex_lock(&mu);
    rules_wanted = n;
    pthread_mutex_unlock(&mu);
    wait_for(all_rules_seen, "every instance processing every rule");
}

/* Every value of [from, to) once (at least once unless `once`) and nothing
 * else, each with the result the rules r[0..n) give it; every one of the p
 * instances processed some. */
static void check_results(const rt_job *j, int64_t from, int64_t to, const rule *r, size_t n, int p,
                          bool once) {
    static unsigned char seen[N];
    bool instance_seen[P2] = {false};
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < fl_collect_count(j->out); i++) {
        const fl_row *row = fl_collect_row(j->out, i);
        int64_t v = fl_row_get_bigint(row, 0), sub = fl_row_get_bigint(row, 1);
        int64_t got = fl_row_get_bigint(row, 2), want = oracle(r, n, v);
        if (v < from || v >= to)
            fail_msg("value %lld is not in [%lld, %lld)", (long long)v, (long long)from,
                     (long long)to);
        if (got != want)
            fail_msg("value %lld (rule of key %lld) gave %lld, expected %lld", (long long)v,
                     (long long)(v % KEYS), (long long)got, (long long)want);
        assert_true(sub >= 0 && sub < p);
        instance_seen[sub] = true;
        if (seen[v] < 255) seen[v]++;
    }
    for (int64_t v = from; v < to; v++)
        if (seen[v] == 0 || (once && seen[v] != 1))
            fail_msg("value %lld reached the sink %d times", (long long)v, seen[v]);
    for (int s = 0; s < p; s++)
        if (!instance_seen[s]) fail_msg("instance %d processed no element", s);
}

/* Makes the savepoint directory sps (a mkdtemp template); runs the job at P1
 * with rules r[0..n) (broadcast; else the plain job) until every instance
 * processed every rule and the source waits at HALF, stops it with a
 * savepoint, and restores that at P2 with a rules stream that sends nothing,
 * to the end. runs[0] stopped, runs[1] ran to the end. */
static void stop_and_restore(rt_job runs[2], char *sps, const rule *r, size_t n, bool broadcast) {
    assert_non_null(mkdtemp(sps));
    reset_shared();
    job_build(&runs[0], P1, r, n, sps, NULL, broadcast, false);
    rt_job_start(&runs[0]);
    wait_rules(broadcast ? (int64_t)n * P1 : 0);
    set_gate(HALF);
    wait_for(source_at_gate, "the source reaching the middle gate");
    /* The embedded cluster lists a job a moment after its tasks start, and
     * the source may reach the gate before that: "no job is running" then
     * means "not yet". */
    char path[1024] = "";
    fl_error err = {0};
    int64_t deadline = fl_clock_monotonic_ns() + (int64_t)WAIT_S * 1000000000;
    while (fl_stop_with_savepoint(NULL, false, path, sizeof path, &err) == FL_ESTATE &&
           strstr(err.message, "no job is running") && fl_clock_monotonic_ns() < deadline) {
        fl_error_clear(&err);
        sched_yield();
    }
    if (err.code) fail_msg("stop-with-savepoint failed: %s", err.message);
    rt_job_join(&runs[0]);
    reset_shared();
    set_gate(N);
    job_build(&runs[1], P2, NULL, 0, sps, path, true, false);
    rt_execute(runs[1].env, "restored");
    pthread_mutex_lock(&mu);
    assert_int_equal(rules_seen, 0);
    pthread_mutex_unlock(&mu);
}

static void finish_runs(rt_job runs[2], const char *sps) {
    for (int i = 0; i < 2; i++) fl_env_destroy(runs[i].env);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sps);
    assert_int_equal(system(cmd), 0);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* The rules of the first run apply to the elements after the restore, in
 * every instance of the rescaled operator (instance 2 reads instance 0's
 * copy). */
static void test_savepoint_restores_broadcast_state_at_another_parallelism(void **state) {
    rule r[3 * KEYS];
    size_t n = make_rules(r);
    char sps[] = "/tmp/flinc-bcr-XXXXXX";
    rt_job runs[2];
    stop_and_restore(runs, sps, r, n, true);
    check_results(&runs[0], 0, HALF, r, n, P1, true);
    check_results(&runs[1], HALF, N, r, n, P2, true);
    finish_runs(runs, sps);
}

/* Savepoints taken before any rule arrived (an empty broadcast state), or by
 * a job whose operator "bc" had no broadcast state at all (as savepoints of
 * flinc before broadcast state was saved), restore to an empty state. */
static void test_savepoint_without_broadcast_state_restores_empty(void **state) {
    for (int broadcast = 1; broadcast >= 0; broadcast--) {
        char sps[] = "/tmp/flinc-bcr-XXXXXX";
        rt_job runs[2];
        stop_and_restore(runs, sps, NULL, 0, broadcast);
        check_results(&runs[0], 0, HALF, NULL, 0, P1, true);
        check_results(&runs[1], HALF, N, NULL, 0, P2, true);
        finish_runs(runs, sps);
    }
}

/* A failure after a checkpoint that holds the rules: the restarted job
 * restores them (the rules source, done, sends nothing again). The source
 * stays short of its end until the job restarted, so that no checkpoint of
 * the failed attempt completes after the source ended. */
static void test_restart_restores_broadcast_state(void **state) {
    rule r[3 * KEYS];
    size_t n = make_rules(r);
    reset_shared();
    rt_job j;
    job_build(&j, P1, r, n, NULL, NULL, true, true);
    rt_job_start(&j);
    wait_rules((int64_t)n * P1);
    set_gate(HALF);
    wait_for(checkpoint_at_gate, "a checkpoint completing while the source waits at the gate");
    atomic_store(&fail_armed, true);
    set_gate(HALF + 64);
    wait_for(restarted, "the restart after the injected failure");
    set_gate(N);
    rt_job_join(&j);
    assert_false(atomic_load(&fail_armed)); /* it failed once */
    pthread_mutex_lock(&mu);
    assert_int_equal(rules_seen, (int64_t)n * P1);
    pthread_mutex_unlock(&mu);
    check_results(&j, 0, N, r, n, P1, false);
    fl_env_destroy(j.env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_savepoint_restores_broadcast_state_at_another_parallelism),
        cmocka_unit_test(test_savepoint_without_broadcast_state_restores_empty),
        cmocka_unit_test(test_restart_restores_broadcast_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
