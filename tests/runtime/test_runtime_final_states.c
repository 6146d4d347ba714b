/*
 * test_runtime_final_states.c - a task that took checkpoint p (acknowledged
 * it) and then reached the end of its bounded input before p completed must
 * not add its final state to p as well: p holds its state at p's barrier, and
 * a restore from p goes on from there. (Before that was so, p held two parts
 * for such a subtask: a keyed restore failed on the duplicate entries, an
 * operator list state came back with the barrier's and the end's rows, and a
 * two-phase-commit sink committed its last transaction on p's completion
 * although the sources were to replay those rows from p.)
 *
 * The scenario, the same in every test (parallelism 1, checkpoints every
 * 10 ms, one restart allowed):
 *   1. a "gated" sequence 0..N-1 emits up to the gate G1 and idles there; the
 *      first checkpoint its task takes there is p;
 *   2. a "holder" task (a source of its own that emits nothing) blocks in its
 *      snapshot hook for p, so p cannot complete;
 *   3. the test opens the gate: the sequence's task (and, keyed, the task of
 *      the keyed operator behind it) reads to the end and finishes -- the
 *      close hooks say when, which the runtime calls after the task
 *      registered its final state and its snapshot of p was written;
 *   4. the holder lets p complete; on p's completion it fails, so the job
 *      restarts from p (no later checkpoint can complete before: the
 *      holder's snapshot hook fails every later one);
 *   5. the restored job runs to the end.
 * Where each step happens is set by the gate and the hooks, whatever the
 * machine's speed. The oracles come from the input: every value once per
 * attempt where that attempt covers it (the first up to the end, the
 * restored one from G1), each with the running sum of its key or the number
 * of rows before it; the sink's committed rows are the input, once.
 *
 * One test restarts from the final state instead: in step 4 p's completion
 * does not fail the job, the holder takes the next checkpoint (triggered
 * only after p completed, so after the sequence's task finished: at most one
 * is in flight) and fails the job once that one completed. It holds the
 * sequence's task's final state, for which the task ran its user snapshot
 * hooks once more (FL_CHECKPOINT_ID_FINAL): a function that copies what it
 * keeps in memory into its operator list state only there (Flink's
 * CheckpointedFunction) gets every value of the input back, not those of the
 * last checkpoint its task took (p's, below G1).
 *
 * The holder is a task of its own rather than one downstream: p completes
 * when its last task acknowledges, whichever that is, and the holder also
 * outlives the others so that it can fail the job after p completed. A
 * task waiting for its final commit shows nothing once it registered its
 * final state, so the sink's test lets p complete as soon as the sink's last
 * part file rolled at the end of its input, a few calls before it registers:
 * the test passes whichever comes first, and before the fix it failed only
 * when the sink was first (most runs). The keyed and counter tests wait for
 * close hooks, which run after the registration, so their order is fixed.
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "savepoint_util.h"

#define N    3000 /* values 0..N-1 */
#define G1   2700 /* where the sequence waits for p */
#define KEYS 7    /* value v has key v % KEYS */

/* ---- the gated sequence (gated_source.h) ---------------------------------------------------- */

#define GATED_END      N
#define GATED_PARALLEL false
#include "gated_source.h"

/* ---- what the functions share with the test, under mu (beside the sequence's) --------------- */

static int64_t last_taken;      /* the last checkpoint the sequence's task took (attempt 0) */
static int64_t held;            /* p: the checkpoint the holder holds; 0 until taken */
static bool released;           /* the holder may acknowledge p */
static bool held_completed;     /* p completed (the holder was told) */
static bool holder_fails;       /* the holder's next read fails the job */
static bool holder_ends;        /* the holder ends (after its failure: the restored attempt) */
static bool sequence_closed;    /* attempt 0: the sequence's task finished */
static bool keyed_closed;       /* attempt 0: the keyed operator's task finished */
static bool restart_from_final; /* the holder fails the job on a checkpoint after p, not p */
static int64_t final_restart;   /* restart_from_final: that checkpoint; 0 until it completed */

/* rt_fin_buffer (restart_from_final): what the first attempt's snapshot
 * hooks saw at the end of the input, and what the restored attempt got
 * back from the operator list state. */
#define MAX_SUBTASKS 8
static int final_snapshots[MAX_SUBTASKS];  /* hook calls with FL_CHECKPOINT_ID_FINAL */
static int64_t final_values[MAX_SUBTASKS]; /* values in memory at the last of them */
static int buffer_parallelism;             /* of rt_fin_buffer (the first attempt's open) */
static int restored_opens;                 /* subtasks opened in the restored attempt */
static int64_t restored_values;            /* values they restored, in all */
static unsigned char restored_seen[N];     /* how often each value was restored */

/* Before a run: the gate closed at G1, nothing seen. */
static void reset_shared(void) {
    pthread_mutex_lock(&mu);
    gated_reset_locked(G1);
    last_taken = held = 0;
    released = held_completed = holder_fails = holder_ends = false;
    sequence_closed = keyed_closed = false;
    restart_from_final = false;
    final_restart = 0;
    memset(final_snapshots, 0, sizeof final_snapshots);
    memset(final_values, 0, sizeof final_values);
    buffer_parallelism = restored_opens = 0;
    restored_values = 0;
    memset(restored_seen, 0, sizeof restored_seen);
    pthread_mutex_unlock(&mu);
}

static bool p_taken(void) { return held != 0; }
static bool is_released(void) { return released; }
static bool sequence_done(void) { return sequence_closed; }
static bool sequence_and_keyed_done(void) { return sequence_closed && keyed_closed; }

/* ---- the holder: emits nothing; fails once p completed, ends after that ------------------- */

static int holder_open(fl_source_ctx *ctx, const fl_options *opts, void **state, fl_error *err) {
    *state = NULL;
    return 0;
}

static int holder_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    pthread_mutex_lock(&mu);
    bool fail = holder_fails, end = holder_ends;
    int64_t p = final_restart ? final_restart : held;
    if (fail) {
        holder_fails = false;
        holder_ends = true;
    }
    pthread_mutex_unlock(&mu);
    if (fail)
        return fl_error_set(err, FL_EUSER, "injected failure after checkpoint %lld completed",
                            (long long)p);
    if (end) return FL_SOURCE_END;
    fl_source_idle_until(ctx, fl_clock_monotonic_ns() + 20 * 1000000LL);
    return FL_SOURCE_IDLE;
}

static void holder_close(void *state) {}

/* The sequence's schema and options, though it emits nothing. */
static const fl_source_connector holder_connector = {
    .name = "fin-holder",
    .description = "Nothing; its task holds a checkpoint back for the test.",
    .options = gated_options,
    .parallel = false,
    .schema = gated_schema,
    .bounded = gated_bounded,
    .open = holder_open,
    .read = holder_read,
    .close = holder_close,
};

/* ---- hooks and user functions (found by symbol name) --------------------------------------- */

int rt_fin_pass(fl_context *ctx, const fl_row *in) { return 1; }

/* A close hook runs only after an open hook. */
int rt_fin_open(fl_context *ctx) { return 0; }

/* Chained to the sequence: the first checkpoint taken at the gate is p. */
int rt_fin_sequence_snapshot(fl_context *ctx, int64_t id) {
    if (fl_context_attempt(ctx) > 0) return 0;
    pthread_mutex_lock(&mu);
    last_taken = id;
    if (!held && gated_next == G1) held = id;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return 0;
}

/* After the task registered its final state (and wrote its snapshots). */
void rt_fin_sequence_close(fl_context *ctx) {
    if (fl_context_attempt(ctx) > 0) return;
    pthread_mutex_lock(&mu);
    sequence_closed = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int64_t hook_id;
static bool sequence_took_it(void) { return last_taken >= hook_id || held != 0; }

/* The holder's snapshot hook (attempt 0): checkpoints the sequence took
 * before the gate go through; p waits for the test; a later one fails the
 * job: it is the failure after p's completion when it reached the holder
 * before the holder's next read (triggered meanwhile: the task runs all its
 * mail before it reads), else p's completion did not fail the job
 * (restart_from_final: it goes through, and its completion fails the job;
 * any one after p holds the sequence's final state). */
int rt_fin_holder_snapshot(fl_context *ctx, int64_t id) {
    if (fl_context_attempt(ctx) > 0) return 0;
    pthread_mutex_lock(&mu);
    hook_id = id; /* only this thread waits on it */
    bool ok = wait_locked(sequence_took_it);
    int64_t p = held;
    if (ok && id == p) ok = wait_locked(is_released);
    bool later_allowed = restart_from_final;
    bool fail = ok && p && id > p && !later_allowed && holder_fails;
    if (fail) { /* as holder_read would: the restored attempt's holder ends */
        holder_fails = false;
        holder_ends = true;
    }
    pthread_mutex_unlock(&mu);
    if (!ok) return fl_context_fail(ctx, "checkpoint %lld: the test did not go on", (long long)id);
    if (fail)
        return fl_context_fail(ctx, "injected failure after checkpoint %lld completed",
                               (long long)p);
    if (p && id > p && !later_allowed)
        return fl_context_fail(ctx, "checkpoint %lld triggered after the held one (%lld)",
                               (long long)id, (long long)p);
    return 0;
}

void rt_fin_holder_complete(fl_context *ctx, int64_t id) {
    if (fl_context_attempt(ctx) > 0) return;
    pthread_mutex_lock(&mu);
    if (id == held) {
        held_completed = true;
        holder_fails = !restart_from_final;
    } else if (restart_from_final && held && id > held && !final_restart) {
        final_restart = id;
        holder_fails = true;
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

int rt_fin_key(fl_context *ctx, const fl_row *in, fl_row_builder *key) {
    fl_row_builder_set_bigint(key, 0, fl_row_get_bigint(in, 0) % KEYS);
    return 0;
}

/* What the stateful functions keep per subtask. */
typedef struct fn_user {
    fl_schema *schema;
    fl_row_builder *b;
    fl_list_state *seen; /* rt_fin_count: (rows counted); rt_fin_buffer: (value) */
    int64_t count;
    int64_t *values; /* rt_fin_buffer: the values it saw (and restored), in memory */
    size_t n_values, cap_values;
} fn_user;

static fn_user *fn_user_create(void) {
    fn_user *u = calloc(1, sizeof *u);
    u->schema = fl_schema_of(1, "n", FL_BIGINT);
    u->b = fl_row_builder_create(u->schema);
    return u;
}

static void fn_user_destroy(fn_user *u) {
    if (!u) return;
    fl_row_builder_destroy(u->b);
    fl_schema_unref(u->schema);
    free(u->values);
    free(u);
}

static const fl_row *one_bigint(fn_user *u, int64_t v) {
    fl_row_builder_reset(u->b);
    fl_row_builder_set_bigint(u->b, 0, v);
    return fl_row_builder_finish(u->b);
}

int rt_fin_sum_open(fl_context *ctx) {
    fl_context_set_user(ctx, fn_user_create());
    return 0;
}

void rt_fin_sum_close(fl_context *ctx) {
    fn_user_destroy(fl_context_user(ctx));
    if (fl_context_attempt(ctx) > 0) return;
    pthread_mutex_lock(&mu);
    keyed_closed = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Keyed: the running sum of the key in value state; emits (k, v, sum, attempt). */
int rt_fin_sum(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fn_user *u = fl_context_user(ctx);
    fl_value_state *st = fl_context_value_state(ctx, "sum", u->schema, NULL);
    if (!st) return FL_EUSER;
    int64_t v = fl_row_get_bigint(in, 0);
    const fl_row *old = fl_value_state_get(st);
    int64_t sum = (old ? fl_row_get_bigint(old, 0) : 0) + v;
    int rc = fl_value_state_update(st, one_bigint(u, sum));
    if (rc < 0) return rc;
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, v % KEYS);
    fl_row_builder_set_bigint(b, 1, v);
    fl_row_builder_set_bigint(b, 2, sum);
    fl_row_builder_set_bigint(b, 3, fl_context_attempt(ctx));
    return fl_collector_emit(out);
}

/* Chained to the sequence: counts the rows in operator list state (Flink's
 * counter in a ListState: restored entries add up), kept current on every
 * row; emits (v, rows counted with it, attempt). */
int rt_fin_count_open(fl_context *ctx) {
    fn_user *u = fn_user_create();
    fl_context_set_user(ctx, u);
    u->seen = fl_context_operator_list_state(ctx, "seen", u->schema, false);
    if (!u->seen) return FL_EUSER;
    size_t n = 0;
    const fl_row *const *rows = fl_list_state_get(u->seen, &n);
    for (size_t i = 0; i < n; i++) u->count += fl_row_get_bigint(rows[i], 0);
    return 0;
}

void rt_fin_count_close(fl_context *ctx) { fn_user_destroy(fl_context_user(ctx)); }

int rt_fin_count(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fn_user *u = fl_context_user(ctx);
    u->count++;
    const fl_row *now = one_bigint(u, u->count);
    int rc = fl_list_state_update(u->seen, &now, 1);
    if (rc < 0) return rc;
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, fl_row_get_bigint(in, 0));
    fl_row_builder_set_bigint(b, 1, u->count);
    fl_row_builder_set_bigint(b, 2, fl_context_attempt(ctx));
    return fl_collector_emit(out);
}

/* Chained to the sequence, as Flink's CheckpointedFunction usually is: keeps
 * the values it saw in memory, copies them into operator list state only in
 * its snapshot hook and gets them back from there in open; emits (v,
 * attempt). */
static void buffer_keep(fn_user *u, int64_t v) {
    if (u->n_values == u->cap_values) {
        u->cap_values = u->cap_values ? 2 * u->cap_values : 256;
        u->values = realloc(u->values, u->cap_values * sizeof *u->values);
        assert_non_null(u->values);
    }
    u->values[u->n_values++] = v;
}

int rt_fin_buffer_open(fl_context *ctx) {
    fn_user *u = fn_user_create();
    fl_context_set_user(ctx, u);
    u->seen = fl_context_operator_list_state(ctx, "values", u->schema, false);
    if (!u->seen) return FL_EUSER;
    size_t n = 0;
    const fl_row *const *rows = fl_list_state_get(u->seen, &n);
    for (size_t i = 0; i < n; i++) buffer_keep(u, fl_row_get_bigint(rows[i], 0));
    pthread_mutex_lock(&mu);
    if (fl_context_attempt(ctx) == 0) {
        buffer_parallelism = fl_context_parallelism(ctx);
        pthread_mutex_unlock(&mu);
        return 0;
    }
    restored_opens++;
    restored_values += (int64_t)n;
    for (size_t i = 0; i < u->n_values; i++) {
        int64_t v = u->values[i];
        if (v < 0 || v >= N) {
            pthread_mutex_unlock(&mu);
            return fl_context_fail(ctx, "restored value %lld is not from the input", (long long)v);
        }
        if (restored_seen[v] < 255) restored_seen[v]++;
    }
    pthread_mutex_unlock(&mu);
    return 0;
}

void rt_fin_buffer_close(fl_context *ctx) { fn_user_destroy(fl_context_user(ctx)); }

int rt_fin_buffer_snapshot(fl_context *ctx, int64_t id) {
    fn_user *u = fl_context_user(ctx);
    fl_list_state_clear(u->seen);
    for (size_t i = 0; i < u->n_values; i++) {
        int rc = fl_list_state_add(u->seen, one_bigint(u, u->values[i]));
        if (rc < 0) return rc;
    }
    if (id != FL_CHECKPOINT_ID_FINAL || fl_context_attempt(ctx) > 0) return 0;
    int s = fl_context_subtask_index(ctx);
    if (s >= MAX_SUBTASKS) return fl_context_fail(ctx, "subtask %d: too many for the test", s);
    pthread_mutex_lock(&mu);
    final_snapshots[s]++;
    final_values[s] = (int64_t)u->n_values;
    pthread_mutex_unlock(&mu);
    return 0;
}

int rt_fin_buffer(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fn_user *u = fl_context_user(ctx);
    int64_t v = fl_row_get_bigint(in, 0);
    buffer_keep(u, v);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, v);
    fl_row_builder_set_bigint(b, 1, fl_context_attempt(ctx));
    return fl_collector_emit(out);
}

/* ---- jobs ---------------------------------------------------------------------------------- */

typedef enum variant {
    KEYED,    /* sequence -> key_by -> keyed running sum (its own task) -> collect */
    COUNTED,  /* sequence -> counter with operator list state -> collect, one task */
    TXN,      /* sequence -> exactly-once file sink, one task */
    BUFFERED, /* sequence -> rt_fin_buffer -> collect, one task; restarts from a final state */
} variant;

/* The job of variant v (TXN: into directory dir), plus the holder ->
 * discard. Every operator with state has a uid. */
static void job_build(rt_job *j, variant v, const char *dir) {
    memset(j, 0, sizeof *j);
    j->name = "final states";
    register_source(&gated_connector);
    register_source(&holder_connector);
    j->env = rt_env(1, "execution.checkpointing.interval", "10 ms", "restart-strategy.type",
                    "fixed-delay", "restart-strategy.fixed-delay.attempts", "1",
                    "restart-strategy.fixed-delay.delay", "0 ms", NULL);
    fl_stream *seq =
        fl_stream_uid(fl_env_add_source(j->env, "gated-sequence", NULL, NULL), "sequence");
    fl_stream *hooked = fl_stream_uid(fl_stream_filter(seq, rt_fin_pass), "sequence-hooks");
    fl_stream_set_checkpoint_hooks(hooked, rt_fin_sequence_snapshot, NULL);
    fl_stream_set_hooks(hooked, rt_fin_open, rt_fin_sequence_close);
    if (v == KEYED) {
        fl_schema *ks = fl_schema_of(1, "k", FL_BIGINT);
        fl_schema *out =
            fl_schema_of(4, "k", FL_BIGINT, "v", FL_BIGINT, "sum", FL_BIGINT, "attempt", FL_BIGINT);
        fl_stream *sums = fl_stream_uid(
            fl_keyed_process(fl_stream_key_by_fn(hooked, rt_fin_key, ks), rt_fin_sum, NULL, out),
            "sums");
        fl_stream_set_hooks(sums, rt_fin_sum_open, rt_fin_sum_close);
        j->out = fl_stream_collect(sums);
        fl_schema_unref(ks);
        fl_schema_unref(out);
    } else if (v == COUNTED) {
        fl_schema *out = fl_schema_of(3, "v", FL_BIGINT, "n", FL_BIGINT, "attempt", FL_BIGINT);
        fl_stream *counted = fl_stream_uid(fl_stream_process(hooked, rt_fin_count, out), "count");
        fl_stream_set_hooks(counted, rt_fin_count_open, rt_fin_count_close);
        j->out = fl_stream_collect(counted);
        fl_schema_unref(out);
    } else if (v == BUFFERED) {
        fl_schema *out = fl_schema_of(2, "v", FL_BIGINT, "attempt", FL_BIGINT);
        fl_stream *buffered =
            fl_stream_uid(fl_stream_process(hooked, rt_fin_buffer, out), "buffer");
        fl_stream_set_hooks(buffered, rt_fin_buffer_open, rt_fin_buffer_close);
        fl_stream_set_checkpoint_hooks(buffered, rt_fin_buffer_snapshot, NULL);
        j->out = fl_stream_collect(buffered);
        fl_schema_unref(out);
    } else {
        char path[700];
        snprintf(path, sizeof path, "path=%s", dir);
        const char *opts[] = {path, "format=csv", NULL};
        fl_stream_uid(fl_stream_add_sink(hooked, "filesystem-exactly-once", opts), "sink");
    }
    fl_stream *holder =
        fl_stream_uid(fl_env_add_source(j->env, "fin-holder", NULL, NULL), "holder");
    fl_stream *holder_hooked = fl_stream_uid(fl_stream_filter(holder, rt_fin_pass), "holder-hooks");
    fl_stream_set_checkpoint_hooks(holder_hooked, rt_fin_holder_snapshot, rt_fin_holder_complete);
    fl_stream_discard(holder_hooked);
}

/* Whether directory dir holds a pending part file (the sink rolled its file
 * at the end of its input). */
static bool has_pending_part(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        found = e->d_name[0] == '.' && n > 8 && strcmp(e->d_name + n - 8, ".pending") == 0;
    }
    closedir(d);
    return found;
}

/* Runs the scenario (see the top) for variant v; returns when the job
 * finished (the test fails if it did not). */
static void run_scenario(rt_job *j, variant v, const char *dir) {
    reset_shared();
    pthread_mutex_lock(&mu);
    restart_from_final = v == BUFFERED;
    pthread_mutex_unlock(&mu);
    job_build(j, v, dir);
    rt_job_start(j);
    wait_for(p_taken, "a checkpoint taken by the sequence at the gate");
    pthread_mutex_lock(&mu);
    gated_move_locked(N);
    pthread_mutex_unlock(&mu);
    if (v == KEYED) {
        wait_for(sequence_and_keyed_done, "the end of the sequence's and the keyed task");
    } else if (v == COUNTED || v == BUFFERED) {
        wait_for(sequence_done, "the end of the sequence's task");
    } else {
        /* The sink's task waits for its final commit and closes only then:
         * its file rolling at the end of its input is what can be seen. */
        int64_t deadline = fl_clock_monotonic_ns() + (int64_t)WAIT_S * 1000000000;
        while (!has_pending_part(dir) && fl_clock_monotonic_ns() < deadline) sched_yield();
        if (!has_pending_part(dir)) fail_msg("the sink did not reach the end of its input");
    }
    pthread_mutex_lock(&mu);
    bool early = held_completed;
    released = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    assert_false(early);
    rt_job_join(j);
    pthread_mutex_lock(&mu);
    int64_t p = held, at = gated_restored_at, splits = gated_restored_splits, later = final_restart;
    bool completed = held_completed;
    pthread_mutex_unlock(&mu);
    print_message("checkpoint %lld held, completed after the end of the input; restarted after "
                  "checkpoint %lld completed; restored at %lld (%lld split)\n",
                  (long long)p, (long long)(v == BUFFERED ? later : p), (long long)at,
                  (long long)splits);
    assert_true(completed);
    if (v == BUFFERED) assert_true(later > p);
    assert_int_equal(fl_minicluster_last_restarts(), 1);
    assert_int_equal(fl_minicluster_last_restores(), 1);
}

/* After the oracle: the sequence restarted from p's barrier. */
static void check_restored_at_gate(void) {
    pthread_mutex_lock(&mu);
    int64_t at = gated_restored_at, splits = gated_restored_splits;
    pthread_mutex_unlock(&mu);
    assert_int_equal(at, G1);
    assert_int_equal(splits, 1);
}

/* How often each value appeared in attempt a's rows is seen[a][v]; the
 * first attempt must have every value once, the restored one the values from
 * G1 once and none before. */
static void check_coverage(unsigned char seen[2][N]) {
    for (int64_t v = 0; v < N; v++) {
        if (seen[0][v] != 1)
            fail_msg("the first attempt processed value %lld %d times", (long long)v, seen[0][v]);
        int want = v >= G1 ? 1 : 0;
        if (seen[1][v] != want)
            fail_msg("the restored attempt processed value %lld %d times, expected %d (it "
                     "restarts at the held checkpoint's barrier, %d)",
                     (long long)v, seen[1][v], want, G1);
    }
}

/* Checks one collected row (fails the test when it is not from the input or
 * holds a wrong result) and returns its value and the attempt it came from. */
typedef void (*row_check)(const fl_row *row, int64_t *value, int64_t *attempt);

/* Runs the scenario for variant v (collecting) and counts in seen[a][value]
 * how often each value appeared in attempt a's rows, each row checked first. */
static void run_and_count(rt_job *j, variant v, row_check check, unsigned char seen[2][N]) {
    run_scenario(j, v, NULL);
    memset(seen, 0, 2 * sizeof seen[0]);
    for (size_t i = 0; i < fl_collect_count(j->out); i++) {
        int64_t value, a;
        check(fl_collect_row(j->out, i), &value, &a);
        if (seen[a][value] < 255) seen[a][value]++;
    }
}

/* The row checks of the collecting variants. KEYED: (k, v, sum, attempt),
 * the sum being the running sum of v's key up to v, want_sum[v] (the test
 * fills it). */
static int64_t want_sum[N];

static void check_sum_row(const fl_row *row, int64_t *value, int64_t *attempt) {
    int64_t k = fl_row_get_bigint(row, 0), v = fl_row_get_bigint(row, 1);
    int64_t sum = fl_row_get_bigint(row, 2), a = fl_row_get_bigint(row, 3);
    if (v < 0 || v >= N || k != v % KEYS || a < 0 || a > 1)
        fail_msg("row (%lld, %lld, %lld, %lld) is not from the input", (long long)k, (long long)v,
                 (long long)sum, (long long)a);
    if (sum != want_sum[v])
        fail_msg("attempt %lld: key %lld summed to %lld at value %lld, expected %lld", (long long)a,
                 (long long)k, (long long)sum, (long long)v, (long long)want_sum[v]);
    *value = v;
    *attempt = a;
}

/* COUNTED: (v, rows counted with it, attempt). */
static void check_count_row(const fl_row *row, int64_t *value, int64_t *attempt) {
    int64_t v = fl_row_get_bigint(row, 0), n = fl_row_get_bigint(row, 1);
    int64_t a = fl_row_get_bigint(row, 2);
    if (v < 0 || v >= N || a < 0 || a > 1)
        fail_msg("row (%lld, %lld, %lld) is not from the input", (long long)v, (long long)n,
                 (long long)a);
    if (n != v + 1)
        fail_msg("attempt %lld: value %lld was counted as row %lld, expected %lld", (long long)a,
                 (long long)v, (long long)n, (long long)v + 1);
    *value = v;
    *attempt = a;
}

/* BUFFERED: (v, attempt). */
static void check_buffer_row(const fl_row *row, int64_t *value, int64_t *attempt) {
    int64_t v = fl_row_get_bigint(row, 0), a = fl_row_get_bigint(row, 1);
    if (v < 0 || v >= N || a < 0 || a > 1)
        fail_msg("row (%lld, %lld) is not from the input", (long long)v, (long long)a);
    *value = v;
    *attempt = a;
}

/* ---- tests --------------------------------------------------------------------------------- */

/* The keyed task acknowledged p and finished before p completed: p holds
 * its keyed state at the barrier, once (a second, final part for the same
 * subtask made the restore fail: "an entry the backend has already"), and
 * every key's running sum goes on from there. */
static void
test_keyed_task_that_finished_after_acknowledging_restores_from_the_barrier(void **state) {
    for (int64_t v = 0; v < N; v++) want_sum[v] = v + (v >= KEYS ? want_sum[v - KEYS] : 0);
    rt_job j;
    static unsigned char seen[2][N];
    run_and_count(&j, KEYED, check_sum_row, seen);
    check_coverage(seen);
    check_restored_at_gate();
    fl_env_destroy(j.env);
}

/* The sequence's task acknowledged p and finished before p completed: the
 * counter chained to it restores its operator list state of the barrier
 * alone (the final part as well doubled the count). */
static void
test_operator_state_chained_to_a_finished_source_restores_from_the_barrier(void **state) {
    rt_job j;
    static unsigned char seen[2][N];
    run_and_count(&j, COUNTED, check_count_row, seen);
    check_coverage(seen);
    check_restored_at_gate();
    fl_env_destroy(j.env);
}

/* The exactly-once file sink (chained to the sequence) acknowledged p and
 * reached the end of its input before p completed: p's completion commits
 * what it pre-committed for p, not its last transaction, which the restore
 * from p discards; the rows from G1 come again and are committed at the
 * end. The committed rows are the input, each once. */
static void test_two_phase_commit_sink_that_finished_commits_each_row_once(void **state) {
    char dir[] = "/tmp/flinc-finals-XXXXXX";
    assert_non_null(mkdtemp(dir));
    rt_job j;
    run_scenario(&j, TXN, dir);
    static unsigned char seen[N];
    memset(seen, 0, sizeof seen);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (e->d_name[0] == '.') fail_msg("part file %s was left uncommitted", e->d_name);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        long long v;
        while (fscanf(f, "%lld\n", &v) == 1) {
            if (v < 0 || v >= N) fail_msg("value %lld is not in the input", v);
            if (seen[v] < 255) seen[v]++;
        }
        assert_true(feof(f));
        fclose(f);
    }
    closedir(d);
    for (int64_t v = 0; v < N; v++)
        if (seen[v] != 1) fail_msg("value %lld was committed %d times", (long long)v, seen[v]);
    check_restored_at_gate();
    fl_env_destroy(j.env);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The function chained to the sequence keeps what it saw in memory and puts
 * it into its operator list state only in its snapshot hook. Its task
 * finished, and the job restarts from a checkpoint taken after that: the
 * hook ran once more at the end, with FL_CHECKPOINT_ID_FINAL, so that
 * checkpoint holds every value of the input and the restored function gets
 * them all back (before, the final state held what the hook wrote for p, the
 * values below G1). The restored sequence has ended and emits nothing. */
static void
test_snapshot_hook_state_of_a_finished_task_restores_from_a_later_checkpoint(void **state) {
    rt_job j;
    static unsigned char seen[2][N];
    run_and_count(&j, BUFFERED, check_buffer_row, seen);
    for (int64_t v = 0; v < N; v++) {
        if (seen[0][v] != 1)
            fail_msg("the first attempt processed value %lld %d times", (long long)v, seen[0][v]);
        if (seen[1][v] != 0)
            fail_msg("the restored attempt processed value %lld %d times, expected none (the "
                     "sequence had ended)",
                     (long long)v, seen[1][v]);
    }
    pthread_mutex_lock(&mu);
    int64_t at = gated_restored_at, splits = gated_restored_splits, values = restored_values;
    int parallelism = buffer_parallelism, opens = restored_opens;
    pthread_mutex_unlock(&mu);
    /* Restored from after the end: the sequence has no split left. */
    assert_int_equal(at, N);
    assert_int_equal(splits, 0);
    assert_int_equal(parallelism, 1);
    assert_int_equal(opens, parallelism);
    if (values != N)
        fail_msg("the restored function got %lld values back, expected the %d of the input "
                 "(the final state its snapshot hook wrote)",
                 (long long)values, N);
    for (int64_t v = 0; v < N; v++)
        if (restored_seen[v] != 1)
            fail_msg("value %lld was restored %d times", (long long)v, restored_seen[v]);
    for (int s = 0; s < MAX_SUBTASKS; s++) {
        int want = s < parallelism ? 1 : 0;
        if (final_snapshots[s] != want)
            fail_msg("subtask %d: the snapshot hook ran %d times for the final state, expected "
                     "%d",
                     s, final_snapshots[s], want);
        if (want && final_values[s] != N)
            fail_msg("subtask %d: the final snapshot hook saw %lld values, expected %d", s,
                     (long long)final_values[s], N);
    }
    fl_env_destroy(j.env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_keyed_task_that_finished_after_acknowledging_restores_from_the_barrier),
        cmocka_unit_test(
            test_operator_state_chained_to_a_finished_source_restores_from_the_barrier),
        cmocka_unit_test(test_two_phase_commit_sink_that_finished_commits_each_row_once),
        cmocka_unit_test(
            test_snapshot_hook_state_of_a_finished_task_restores_from_a_later_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
