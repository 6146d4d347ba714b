/*
 * test_runtime_connect.c - connected streams: co-map, co-flat-map and
 * co-process over inputs of different schemas and parallelisms (and the plan
 * they make: one task of its own, FORWARD or REBALANCE edges), a keyed
 * co-process matching orders with payments per key with keyed state and
 * event-time timeouts from both sides, the broadcast state pattern, and the
 * errors a user meets. Results are checked against references computed in
 * the test.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "flinc/window.h"
#include "rt_util.h"
#include "runtime_int.h"

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts both arrays of n values and compares them. */
static void assert_same_multiset(int64_t *got, int64_t *want, size_t n, const char *what) {
    qsort(got, n, sizeof *got, cmp_i64);
    qsort(want, n, sizeof *want, cmp_i64);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s: at %zu got %lld, expected %lld", what, i, (long long)got[i],
                     (long long)want[i]);
}

static void free_rows(fl_row **rows, size_t n) {
    for (size_t i = 0; i < n; i++) free(rows[i]);
    free(rows);
}

/* The plan `flinc info` would print (new string). */
static char *plan_of(fl_env *env) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fl__env_set_plan_only(env, f);
    fl_error err = {0};
    int rc = fl_env_execute(env, "plan", &err);
    fclose(f);
    fl__env_set_plan_only(env, NULL);
    if (rc != 0) fail_msg("plan failed: %s", err.message);
    return text;
}

/* ---- non-keyed: map, flat_map, process over different schemas ---------------------------------
 */

#define NA 1000 /* rows (a BIGINT, name STRING) of the first input */
#define NB 5000 /* sequence 1..NB of the second input */

static fl_schema *a_schema(void) { return fl_schema_of(2, "a", FL_BIGINT, "name", FL_STRING); }
static fl_schema *out_schema(void) { return fl_schema_of(2, "side", FL_INT, "v", FL_BIGINT); }

static fl_row **a_rows(void) {
    fl_schema *s = a_schema();
    fl_row **rows = calloc(NA, sizeof *rows);
    fl_row_builder *b = fl_row_builder_create(s);
    for (int i = 0; i < NA; i++) {
        char name[32];
        int len = snprintf(name, sizeof name, "n%d", i * 7);
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, i);
        fl_row_builder_set_string(b, 1, name, (uint32_t)len);
        rows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    fl_schema_unref(s);
    return rows;
}

static int64_t name_len(const fl_row *in) {
    uint32_t len;
    fl_row_get_string(in, 1, &len);
    return len;
}

/* a * 10 + length of name: the first input's map */
static int64_t f1(int64_t a, int64_t len) { return a * 10 + len; }
static int64_t f2(int64_t v) { return v * 3; }

int rt_conn_map1(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_int(out, 0, 1);
    fl_row_builder_set_bigint(out, 1, f1(fl_row_get_bigint(in, 0), name_len(in)));
    return 0;
}

int rt_conn_map2(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_int(out, 0, 2);
    fl_row_builder_set_bigint(out, 1, f2(fl_row_get_bigint(in, 0)));
    return 0;
}

/* Encodes (side, v) as one value for multiset comparison. */
static int64_t enc(int side, int64_t v) { return v * 4 + side; }

static void test_connected_map_schemas_and_parallelisms(void **state) {
    fl_row **rows = a_rows();
    fl_schema *as = a_schema(), *out = out_schema();
    fl_env *env = rt_env(3, NULL);
    fl_stream *a = fl_env_from_rows(env, as, (const fl_row *const *)rows, NA); /* parallelism 1 */
    fl_stream *b = fl_stream_set_parallelism(fl_env_from_sequence(env, 1, NB), 3);
    fl_stream *m = fl_connected_map(fl_stream_connect(a, b), rt_conn_map1, rt_conn_map2, out);
    fl_stream_set_parallelism(m, 3);
    fl_collect *c = fl_stream_collect(m);

    /* The plan: the co-map is a task of its own (not chained to the
     * sequence source despite equal parallelism), fed by REBALANCE from the
     * parallelism-1 input and FORWARD from the parallelism-3 one. */
    char *plan = plan_of(env);
    assert_non_null(strstr(plan, "Co-Map"));
    assert_null(strstr(plan, "Sequence Source -> Co-Map"));
    assert_non_null(strstr(plan, "REBALANCE"));
    assert_non_null(strstr(plan, "FORWARD"));
    free(plan);

    rt_execute(env, "connected map");
    size_t n = NA + NB;
    assert_int_equal(fl_collect_count(c), n);
    int64_t *got = calloc(n, sizeof *got), *want = calloc(n, sizeof *want);
    for (size_t i = 0; i < n; i++) {
        const fl_row *r = fl_collect_row(c, i);
        got[i] = enc(fl_row_get_int(r, 0), fl_row_get_bigint(r, 1));
    }
    for (int i = 0; i < NA; i++) want[i] = enc(1, f1(i, name_len(rows[i])));
    for (int v = 1; v <= NB; v++) want[NA + v - 1] = enc(2, f2(v));
    assert_same_multiset(got, want, n, "connected map");
    free(got);
    free(want);
    free_rows(rows, NA);
    fl_schema_unref(as);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

/* First input: a % 3 copies of (1, a); second: two rows (2, v), (2, -v) for
 * even v, none for odd. */
int rt_conn_flat1(fl_context *ctx, const fl_row *in, fl_collector *out) {
    int64_t a = fl_row_get_bigint(in, 0);
    for (int k = 0; k < a % 3; k++) {
        fl_row_builder *b = fl_collector_builder(out);
        fl_row_builder_set_int(b, 0, 1);
        fl_row_builder_set_bigint(b, 1, a);
        if (fl_collector_emit(out) < 0) return -1;
    }
    return 0;
}

int rt_conn_flat2(fl_context *ctx, const fl_row *in, fl_collector *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    if (v % 2) return 0;
    for (int sign = 1; sign >= -1; sign -= 2) {
        fl_row_builder *b = fl_collector_builder(out);
        fl_row_builder_set_int(b, 0, 2);
        fl_row_builder_set_bigint(b, 1, sign * v);
        if (fl_collector_emit(out) < 0) return -1;
    }
    return 0;
}

static void test_connected_flat_map(void **state) {
    fl_row **rows = a_rows();
    fl_schema *as = a_schema(), *out = out_schema();
    fl_env *env = rt_env(2, NULL);
    fl_stream *a = fl_env_from_rows(env, as, (const fl_row *const *)rows, NA);
    fl_stream *b = fl_env_from_sequence(env, 1, NB); /* parallelism 2 */
    fl_stream *m =
        fl_connected_flat_map(fl_stream_connect(a, b), rt_conn_flat1, rt_conn_flat2, out);
    fl_collect *c = fl_stream_collect(fl_stream_set_parallelism(m, 4));
    rt_execute(env, "connected flat_map");

    size_t n = 0;
    int64_t *want = calloc(3 * NA + NB + 1, sizeof *want);
    for (int i = 0; i < NA; i++)
        for (int k = 0; k < i % 3; k++) want[n++] = enc(1, i);
    for (int v = 2; v <= NB; v += 2) {
        want[n++] = enc(2, v);
        want[n++] = enc(2, -v);
    }
    assert_int_equal(fl_collect_count(c), n);
    int64_t *got = calloc(n, sizeof *got);
    for (size_t i = 0; i < n; i++) {
        const fl_row *r = fl_collect_row(c, i);
        got[i] = enc(fl_row_get_int(r, 0), fl_row_get_bigint(r, 1));
    }
    assert_same_multiset(got, want, n, "connected flat_map");
    free(got);
    free(want);
    free_rows(rows, NA);
    fl_schema_unref(as);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

/* Process functions: the first input sends multiples of 5 to side output
 * "fives" (schema of the first input) and the rest to the main output; the
 * second emits (2, v, subtask) on the main output. */
int rt_conn_proc1(fl_context *ctx, const fl_row *in, fl_collector *out) {
    int64_t a = fl_row_get_bigint(in, 0);
    if (a % 5 == 0) return fl_context_output(ctx, "fives", in);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_int(b, 0, 1);
    fl_row_builder_set_bigint(b, 1, a);
    return fl_collector_emit(out);
}

int rt_conn_proc2(fl_context *ctx, const fl_row *in, fl_collector *out) {
    if (fl_context_timestamp(ctx) != INT64_MIN) return fl_context_fail(ctx, "unexpected timestamp");
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_int(b, 0, 2);
    fl_row_builder_set_bigint(b, 1, fl_row_get_bigint(in, 0));
    return fl_collector_emit(out);
}

static void test_connected_process_side_output(void **state) {
    fl_row **rows = a_rows();
    fl_schema *as = a_schema(), *out = out_schema();
    fl_env *env = rt_env(2, NULL);
    fl_stream *a = fl_env_from_rows(env, as, (const fl_row *const *)rows, NA);
    fl_stream *b = fl_env_from_sequence(env, 1, NB);
    fl_stream *p =
        fl_connected_process(fl_stream_connect(a, b), rt_conn_proc1, rt_conn_proc2, NULL, out);
    fl_collect *main_out = fl_stream_collect(p);
    fl_collect *fives = fl_stream_collect(fl_stream_side_output(p, "fives", as));
    rt_execute(env, "connected process");

    size_t n_fives = (NA + 4) / 5, n_main = NA - n_fives + NB;
    assert_int_equal(fl_collect_count(fives), n_fives);
    assert_int_equal(fl_collect_count(main_out), n_main);
    int64_t sum = 0;
    for (size_t i = 0; i < n_fives; i++) {
        const fl_row *r = fl_collect_row(fives, i);
        assert_int_equal(fl_row_get_bigint(r, 0) % 5, 0);
        sum += fl_row_get_bigint(r, 0);
    }
    assert_int_equal(sum, 5 * (int64_t)(n_fives - 1) * (int64_t)n_fives / 2);
    int64_t *got = calloc(n_main, sizeof *got), *want = calloc(n_main, sizeof *want);
    size_t w = 0;
    for (int i = 0; i < NA; i++)
        if (i % 5) want[w++] = enc(1, i);
    for (int v = 1; v <= NB; v++) want[w++] = enc(2, v);
    for (size_t i = 0; i < n_main; i++) {
        const fl_row *r = fl_collect_row(main_out, i);
        got[i] = enc(fl_row_get_int(r, 0), fl_row_get_bigint(r, 1));
    }
    assert_same_multiset(got, want, n_main, "connected process");
    free(got);
    free(want);
    free_rows(rows, NA);
    fl_schema_unref(as);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

/* ---- keyed: orders and payments
 * ------------------------------------------------------------------ */

/* Orders (order_id, amount, ts) and payments (pay_id, oid, ts), keyed by the
 * order id on both sides (a field on one side, a key selector on the other).
 * Whichever arrives first waits in keyed state with an event-time timer 100
 * ms after its own time; its partner (at most 50 ms away) matches it and
 * deletes that timer; a timer that fires reports a timeout. */
#define N_ORDERS      3000
#define N_LONE_PAYS   200
#define TIMEOUT_MS    100
#define ST_MATCHED    0
#define ST_NO_PAYMENT 1
#define ST_NO_ORDER   2

static fl_schema *order_schema(void) {
    return fl_schema_of(3, "order_id", FL_BIGINT, "amount", FL_BIGINT, "ts", FL_TIMESTAMP);
}
static fl_schema *payment_schema(void) {
    return fl_schema_of(3, "pay_id", FL_BIGINT, "oid", FL_BIGINT, "ts", FL_TIMESTAMP);
}
static fl_schema *match_schema(void) {
    return fl_schema_of(4, "order_id", FL_BIGINT, "status", FL_INT, "amount", FL_BIGINT, "time",
                        FL_BIGINT);
}

int64_t rt_conn_ts2(fl_context *ctx, const fl_row *in, int64_t previous) {
    return fl_row_get_timestamp(in, 2);
}

int rt_conn_payment_key(fl_context *ctx, const fl_row *in, fl_row_builder *key) {
    fl_row_builder_set_bigint(key, 0, fl_row_get_bigint(in, 1));
    return 0;
}

typedef struct match_user {
    fl_value_state *order, *payment, *timer;
    fl_schema *timer_schema;
    fl_row_builder *tb;
} match_user;

int rt_conn_match_open(fl_context *ctx) {
    match_user *u = calloc(1, sizeof *u);
    fl_context_set_user(ctx, u);
    fl_schema *os = order_schema(), *ps = payment_schema();
    u->timer_schema = fl_schema_of(1, "t", FL_BIGINT);
    u->tb = fl_row_builder_create(u->timer_schema);
    u->order = fl_context_value_state(ctx, "order", os, NULL);
    u->payment = fl_context_value_state(ctx, "payment", ps, NULL);
    u->timer = fl_context_value_state(ctx, "timer", u->timer_schema, NULL);
    fl_schema_unref(os);
    fl_schema_unref(ps);
    return u->order && u->payment && u->timer ? 0 : -1;
}

void rt_conn_match_close(fl_context *ctx) {
    match_user *u = fl_context_user(ctx);
    if (!u) return;
    fl_row_builder_destroy(u->tb);
    fl_schema_unref(u->timer_schema);
    free(u);
}

static int emit_match(fl_collector *out, int64_t id, int status, int64_t amount, int64_t time) {
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, id);
    fl_row_builder_set_int(b, 1, status);
    fl_row_builder_set_bigint(b, 2, amount);
    fl_row_builder_set_bigint(b, 3, time);
    return fl_collector_emit(out);
}

/* Waits in `mine` with a timer, or matches what waits in `theirs`. */
static int arrive(fl_context *ctx, match_user *u, const fl_row *in, fl_value_state *mine,
                  fl_value_state *theirs, int64_t id, int64_t amount, fl_collector *out) {
    const fl_row *other = fl_value_state_get(theirs);
    if (other) {
        const fl_row *t = fl_value_state_get(u->timer);
        fl_context_delete_event_timer(ctx, fl_row_get_bigint(t, 0));
        if (amount < 0) amount = fl_row_get_bigint(other, 1);
        fl_value_state_clear(theirs);
        fl_value_state_clear(u->timer);
        return emit_match(out, id, ST_MATCHED, amount, -1);
    }
    if (fl_value_state_get(mine))
        return fl_context_fail(ctx, "id %lld arrived twice", (long long)id);
    int64_t t = fl_context_timestamp(ctx) + TIMEOUT_MS;
    fl_row_builder_reset(u->tb);
    fl_row_builder_set_bigint(u->tb, 0, t);
    if (fl_value_state_update(mine, in) < 0 ||
        fl_value_state_update(u->timer, fl_row_builder_finish(u->tb)) < 0)
        return -1;
    fl_context_register_event_timer(ctx, t);
    return 0;
}

int rt_conn_order(fl_context *ctx, const fl_row *in, fl_collector *out) {
    match_user *u = fl_context_user(ctx);
    if (fl_row_get_bigint(fl_context_current_key(ctx), 0) != fl_row_get_bigint(in, 0))
        return fl_context_fail(ctx, "order under another key");
    return arrive(ctx, u, in, u->order, u->payment, fl_row_get_bigint(in, 0),
                  fl_row_get_bigint(in, 1), out);
}

int rt_conn_payment(fl_context *ctx, const fl_row *in, fl_collector *out) {
    match_user *u = fl_context_user(ctx);
    if (fl_row_get_bigint(fl_context_current_key(ctx), 0) != fl_row_get_bigint(in, 1))
        return fl_context_fail(ctx, "payment under another key");
    return arrive(ctx, u, in, u->payment, u->order, fl_row_get_bigint(in, 1), -1, out);
}

int rt_conn_timeout(fl_context *ctx, int64_t time, fl_collector *out) {
    match_user *u = fl_context_user(ctx);
    int64_t id = fl_row_get_bigint(fl_context_current_key(ctx), 0);
    const fl_row *o = fl_value_state_get(u->order);
    int rc = o ? emit_match(out, id, ST_NO_PAYMENT, fl_row_get_bigint(o, 1), time)
               : emit_match(out, id, ST_NO_ORDER, 0, time);
    fl_value_state_clear(u->order);
    fl_value_state_clear(u->payment);
    fl_value_state_clear(u->timer);
    return rc;
}

static int64_t order_ts(int i) { return (int64_t)i * 10 + (i * 13) % 21; } /* jitter 0..20 */
static int64_t pay_delta(int i) { return (i * 37) % 91 - 40; }             /* -40..50 */
static bool order_paid(int i) { return i % 4 != 0; }
static int64_t order_amount(int i) { return 100 + i % 97; }

typedef struct pay {
    int64_t id, oid, ts;
} pay;
static int cmp_pay(const void *a, const void *b) {
    const pay *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts ? 1 : (x->id > y->id) - (x->id < y->id);
}

static void test_keyed_co_process_orders_and_payments(void **state) {
    fl_schema *os = order_schema(), *ps = payment_schema(), *ms = match_schema();
    fl_schema *key = fl_schema_of(1, "order", FL_BIGINT);
    fl_row **orders = calloc(N_ORDERS, sizeof *orders);
    fl_row_builder *b = fl_row_builder_create(os);
    for (int i = 0; i < N_ORDERS; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, i);
        fl_row_builder_set_bigint(b, 1, order_amount(i));
        fl_row_builder_set_timestamp(b, 2, order_ts(i));
        orders[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);
    /* Payments in time order: for paid orders, and some for no order. */
    pay *pays = calloc(N_ORDERS + N_LONE_PAYS, sizeof *pays);
    size_t n_pays = 0;
    for (int i = 0; i < N_ORDERS; i++)
        if (order_paid(i)) pays[n_pays++] = (pay){1000000 + i, i, order_ts(i) + pay_delta(i)};
    for (int j = 0; j < N_LONE_PAYS; j++)
        pays[n_pays++] = (pay){2000000 + j, N_ORDERS + j, (int64_t)j * 150 + 7};
    qsort(pays, n_pays, sizeof *pays, cmp_pay);
    fl_row **prow = calloc(n_pays, sizeof *prow);
    b = fl_row_builder_create(ps);
    for (size_t i = 0; i < n_pays; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_bigint(b, 0, pays[i].id);
        fl_row_builder_set_bigint(b, 1, pays[i].oid);
        fl_row_builder_set_timestamp(b, 2, pays[i].ts);
        prow[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);

    fl_env *env = rt_env(3, "pipeline.auto-watermark-interval", "0", NULL);
    fl_watermark_strategy wo = {.max_out_of_orderness_ms = 25, .timestamp_fn = rt_conn_ts2};
    fl_watermark_strategy wp = {.max_out_of_orderness_ms = 0, .timestamp_fn = rt_conn_ts2};
    fl_stream *o = fl_stream_assign_timestamps_and_watermarks(
        fl_env_from_rows(env, os, (const fl_row *const *)orders, N_ORDERS), &wo);
    fl_stream *p = fl_stream_assign_timestamps_and_watermarks(
        fl_env_from_rows(env, ps, (const fl_row *const *)prow, n_pays), &wp);
    fl_connected_streams *c = fl_keyed_connect(fl_stream_key_by(o, "order_id"),
                                               fl_stream_key_by_fn(p, rt_conn_payment_key, key));
    fl_stream *m = fl_connected_process(c, rt_conn_order, rt_conn_payment, rt_conn_timeout, ms);
    fl_stream_name(fl_stream_set_hooks(m, rt_conn_match_open, rt_conn_match_close),
                   "orders-payments");
    fl_collect *out = fl_stream_collect(m);
    rt_execute(env, "orders and payments");

    /* Reference: every paid order matches; an unpaid order times out 100 ms
     * after it; a payment without order likewise. */
    size_t n_want = N_ORDERS + N_LONE_PAYS;
    assert_int_equal(fl_collect_count(out), n_want);
    int64_t *got = calloc(n_want, sizeof *got), *want = calloc(n_want, sizeof *want);
    size_t w = 0;
    /* (id, status, amount, time) folded into one number; ids < 2^20. */
#define FOLD(id, st, amount, time)                                                                 \
    ((((int64_t)(time) + 1) * 1024 + (amount)) * 4 + (st)) * 1048576 + (id)
    for (int i = 0; i < N_ORDERS; i++)
        want[w++] = order_paid(i)
                        ? FOLD(i, ST_MATCHED, order_amount(i), -1)
                        : FOLD(i, ST_NO_PAYMENT, order_amount(i), order_ts(i) + TIMEOUT_MS);
    for (int j = 0; j < N_LONE_PAYS; j++)
        want[w++] = FOLD(N_ORDERS + j, ST_NO_ORDER, 0, (int64_t)j * 150 + 7 + TIMEOUT_MS);
    for (size_t i = 0; i < n_want; i++) {
        const fl_row *r = fl_collect_row(out, i);
        got[i] = FOLD(fl_row_get_bigint(r, 0), fl_row_get_int(r, 1), fl_row_get_bigint(r, 2),
                      fl_row_get_bigint(r, 3));
    }
#undef FOLD
    assert_same_multiset(got, want, n_want, "orders and payments");
    /* Everything matched or timed out: no state and no timer is left. */
    assert_int_equal(fl__keyed_state_bytes_at_close("orders-payments"), 0);

    free(got);
    free(want);
    free(pays);
    free_rows(orders, N_ORDERS);
    free_rows(prow, n_pays);
    fl_schema_unref(os);
    fl_schema_unref(ps);
    fl_schema_unref(ms);
    fl_schema_unref(key);
    fl_env_destroy(env);
}

/* ---- the broadcast state pattern ----------------------------------------------------------------
 */

/* Rules (name, factor, op): op 0 puts name -> factor, 1 removes name, 2 ends
 * the rules (stored as "END"). Elements (value) wait in the instance until
 * END arrived, then emit (1, value, value * factor of rule "r<value % 20>" or
 * -1 without one, 0). On END every instance emits (2, subtask, entries,
 * checksum of its state). */
#define N_ELEMENTS 20000
#define RULE_KEYS  20
#define KIND_ELEM  1
#define KIND_SUM   2

static fl_schema *rule_schema(void) {
    return fl_schema_of(3, "name", FL_STRING, "factor", FL_BIGINT, "op", FL_INT);
}
static fl_schema *rule_key_schema(void) { return fl_schema_of(1, "name", FL_STRING); }
static fl_schema *rule_value_schema(void) { return fl_schema_of(1, "factor", FL_BIGINT); }
static fl_schema *bc_out_schema(void) {
    return fl_schema_of(4, "kind", FL_INT, "a", FL_BIGINT, "b", FL_BIGINT, "c", FL_BIGINT);
}

typedef struct bc_user {
    fl_row **stash;
    size_t n, cap;
    fl_schema *ks;
    fl_row_builder *kb;
} bc_user;

int rt_bc_open(fl_context *ctx) {
    bc_user *u = calloc(1, sizeof *u);
    u->ks = rule_key_schema();
    u->kb = fl_row_builder_create(u->ks);
    fl_context_set_user(ctx, u);
    return fl_context_broadcast_state(ctx) ? 0 : -1;
}

void rt_bc_close(fl_context *ctx) {
    bc_user *u = fl_context_user(ctx);
    if (!u) return;
    for (size_t i = 0; i < u->n; i++) free(u->stash[i]);
    free(u->stash);
    fl_row_builder_destroy(u->kb);
    fl_schema_unref(u->ks);
    free(u);
}

static const fl_row *rule_key(bc_user *u, const char *name) {
    fl_row_builder_reset(u->kb);
    fl_row_builder_set_string(u->kb, 0, name, (uint32_t)strlen(name));
    return fl_row_builder_finish(u->kb);
}

static int emit4(fl_collector *out, int kind, int64_t a, int64_t b, int64_t c) {
    fl_row_builder *rb = fl_collector_builder(out);
    fl_row_builder_set_int(rb, 0, kind);
    fl_row_builder_set_bigint(rb, 1, a);
    fl_row_builder_set_bigint(rb, 2, b);
    fl_row_builder_set_bigint(rb, 3, c);
    return fl_collector_emit(out);
}

static int apply_rules(fl_context *ctx, bc_user *u, const fl_row *in, fl_collector *out) {
    int64_t v = fl_row_get_bigint(in, 0);
    char name[16];
    snprintf(name, sizeof name, "r%d", (int)(v % RULE_KEYS));
    const fl_row *f = fl_map_state_get(fl_context_broadcast_state(ctx), rule_key(u, name));
    return emit4(out, KIND_ELEM, v, f ? v * fl_row_get_bigint(f, 0) : -1, 0);
}

int rt_bc_element(fl_context *ctx, const fl_row *in, fl_collector *out) {
    bc_user *u = fl_context_user(ctx);
    if (fl_map_state_contains(fl_context_broadcast_state(ctx), rule_key(u, "END")))
        return apply_rules(ctx, u, in, out);
    if (u->n == u->cap) {
        u->cap = u->cap ? 2 * u->cap : 64;
        u->stash = realloc(u->stash, u->cap * sizeof *u->stash);
    }
    u->stash[u->n++] = fl_row_copy(in);
    return 0;
}

static int64_t name_hash(const char *s, uint32_t len) {
    int64_t h = 17;
    for (uint32_t i = 0; i < len; i++) h = h * 31 + (unsigned char)s[i];
    return h;
}

int rt_bc_rule(fl_context *ctx, const fl_row *in, fl_collector *out) {
    bc_user *u = fl_context_user(ctx);
    fl_map_state *rules = fl_context_broadcast_state(ctx);
    uint32_t len;
    const char *s = fl_row_get_string(in, 0, &len);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)len, s);
    int op = fl_row_get_int(in, 2);
    fl_schema *vs = rule_value_schema();
    fl_row_builder *vb = fl_row_builder_create(vs);
    fl_row_builder_set_bigint(vb, 0, op == 2 ? 0 : fl_row_get_bigint(in, 1));
    int rc = 0;
    if (op == 1)
        fl_map_state_remove(rules, rule_key(u, name));
    else
        rc = fl_map_state_put(rules, rule_key(u, name), fl_row_builder_finish(vb));
    fl_row_builder_destroy(vb);
    fl_schema_unref(vs);
    if (rc < 0 || op != 2) return rc;
    /* END: report this instance's rules, then release the waiting rows. */
    const fl_row *const *keys, *const *values;
    size_t n = fl_map_state_entries(rules, &keys, &values);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = fl_row_get_string(keys[i], 0, &len);
        sum += name_hash(k, len) * fl_row_get_bigint(values[i], 0);
    }
    rc = emit4(out, KIND_SUM, fl_context_subtask_index(ctx), (int64_t)n, sum);
    for (size_t i = 0; rc == 0 && i < u->n; i++) rc = apply_rules(ctx, u, u->stash[i], out);
    for (size_t i = 0; i < u->n; i++) free(u->stash[i]);
    u->n = 0;
    return rc;
}

typedef struct rule {
    const char *name;
    int64_t factor;
    int op;
} rule;

static size_t make_rules(rule *r) {
    static char names[RULE_KEYS][8];
    size_t n = 0;
    for (int k = 0; k < RULE_KEYS; k++) {
        snprintf(names[k], sizeof names[k], "r%d", k);
        r[n++] = (rule){names[k], k + 2, 0};
    }
    for (int k = 0; k < RULE_KEYS; k += 3) r[n++] = (rule){names[k], 100 + k, 0}; /* overrides */
    for (int k = 1; k < RULE_KEYS; k += 5) r[n++] = (rule){names[k], 0, 1};       /* removals */
    r[n++] = (rule){"END", 0, 2};
    return n;
}

static void test_broadcast_state_pattern(void **state) {
    rule rules[3 * RULE_KEYS];
    size_t n_rules = make_rules(rules);
    fl_schema *rs = rule_schema(), *ks = rule_key_schema(), *vs = rule_value_schema();
    fl_schema *out = bc_out_schema();
    fl_row **rrows = calloc(n_rules, sizeof *rrows);
    fl_row_builder *b = fl_row_builder_create(rs);
    for (size_t i = 0; i < n_rules; i++) {
        fl_row_builder_reset(b);
        fl_row_builder_set_string(b, 0, rules[i].name, (uint32_t)strlen(rules[i].name));
        fl_row_builder_set_bigint(b, 1, rules[i].factor);
        fl_row_builder_set_int(b, 2, rules[i].op);
        rrows[i] = fl_row_copy(fl_row_builder_finish(b));
    }
    fl_row_builder_destroy(b);

    enum { P = 3 };
    fl_env *env = rt_env(2, NULL);
    fl_stream *elements = fl_env_from_sequence(env, 1, N_ELEMENTS);
    fl_stream *rs_stream = fl_env_from_rows(env, rs, (const fl_row *const *)rrows, n_rules);
    fl_stream *r = fl_stream_connect_broadcast(elements, rs_stream, "rules", ks, vs, rt_bc_element,
                                               rt_bc_rule, out);
    fl_stream_set_parallelism(fl_stream_set_hooks(r, rt_bc_open, rt_bc_close), P);
    fl_collect *c = fl_stream_collect(r);
    char *plan = plan_of(env);
    assert_non_null(strstr(plan, "BROADCAST"));
    free(plan);
    rt_execute(env, "broadcast state");

    /* Reference: the rules applied in order. */
    int64_t factor[RULE_KEYS];
    bool present[RULE_KEYS] = {false};
    for (size_t i = 0; i + 1 < n_rules; i++) {
        int k = atoi(rules[i].name + 1);
        present[k] = rules[i].op == 0;
        factor[k] = rules[i].factor;
    }
    int64_t entries = 1, checksum = 0; /* END is an entry with factor 0 */
    for (int k = 0; k < RULE_KEYS; k++) {
        if (!present[k]) continue;
        char name[8];
        snprintf(name, sizeof name, "r%d", k);
        entries++;
        checksum += name_hash(name, (uint32_t)strlen(name)) * factor[k];
    }
    assert_int_equal(fl_collect_count(c), N_ELEMENTS + P);
    int64_t *got = calloc(N_ELEMENTS, sizeof *got), *want = calloc(N_ELEMENTS, sizeof *want);
    size_t n_got = 0;
    bool instance_seen[P] = {false};
    for (size_t i = 0; i < fl_collect_count(c); i++) {
        const fl_row *row = fl_collect_row(c, i);
        if (fl_row_get_int(row, 0) == KIND_SUM) {
            int64_t sub = fl_row_get_bigint(row, 1);
            assert_true(sub >= 0 && sub < P && !instance_seen[sub]);
            instance_seen[sub] = true;
            assert_int_equal(fl_row_get_bigint(row, 2), entries);
            assert_int_equal(fl_row_get_bigint(row, 3), checksum);
            continue;
        }
        assert_true(n_got < N_ELEMENTS);
        int64_t v = fl_row_get_bigint(row, 1);
        got[n_got++] = v * 100000 + fl_row_get_bigint(row, 2) % 100000;
    }
    for (int v = 1; v <= N_ELEMENTS; v++) {
        int k = v % RULE_KEYS;
        want[v - 1] = (int64_t)v * 100000 + (present[k] ? v * factor[k] : -1) % 100000;
    }
    assert_int_equal(n_got, N_ELEMENTS);
    assert_same_multiset(got, want, N_ELEMENTS, "broadcast state");
    free(got);
    free(want);
    free_rows(rrows, n_rules);
    fl_schema_unref(rs);
    fl_schema_unref(ks);
    fl_schema_unref(vs);
    fl_schema_unref(out);
    fl_env_destroy(env);
}

/* ---- errors -------------------------------------------------------------------------------------
 */

int rt_bc_element_writes(fl_context *ctx, const fl_row *in, fl_collector *out) {
    bc_user *u = fl_context_user(ctx);
    return fl_map_state_put(fl_context_broadcast_state(ctx), rule_key(u, "x"), in);
}

int rt_bc_rule_noop(fl_context *ctx, const fl_row *in, fl_collector *out) { return 0; }

int rt_conn_timer_nonkeyed(fl_context *ctx, const fl_row *in, fl_collector *out) {
    fl_context_register_event_timer(ctx, 10);
    return 0;
}

int rt_conn_asks_broadcast(fl_context *ctx, const fl_row *in, fl_collector *out) {
    return fl_context_broadcast_state(ctx) ? 0 : -1;
}

/* Runs the job and expects it to fail with a message containing `needle`. */
static void expect_run_failure(fl_env *env, const char *needle) {
    fl_error err = {0};
    assert_int_not_equal(fl_env_execute(env, "failing", &err), 0);
    if (!strstr(err.message, needle)) fail_msg("expected \"%s\" in: %s", needle, err.message);
}

/* Expects building to have failed with a message containing both needles. */
static void expect_build_failure(fl_env *env, const char *needle, const char *needle2) {
    const fl_error *e = fl_env_error(env);
    assert_non_null(e);
    if (!strstr(e->message, needle) || (needle2 && !strstr(e->message, needle2)))
        fail_msg("expected \"%s\" and \"%s\" in: %s", needle, needle2 ? needle2 : "", e->message);
}

static void test_errors(void **state) {
    fl_schema *as = a_schema(), *out = out_schema(), *ks = rule_key_schema();
    fl_row **rows = a_rows();

    /* Key types differ: BIGINT and STRING. */
    fl_env *env = rt_env(1, NULL);
    fl_stream *a = fl_env_from_rows(env, as, (const fl_row *const *)rows, NA);
    fl_keyed_connect(fl_stream_key_by(a, "a"), fl_stream_key_by(a, "name"));
    expect_build_failure(env, "(a BIGINT)", "(name STRING)");
    fl_env_destroy(env);

    /* An interval join over keys of different types. */
    env = rt_env(1, NULL);
    a = fl_env_from_rows(env, as, (const fl_row *const *)rows, NA);
    fl_interval iv = {.lower_ms = -1, .upper_ms = 1};
    fl_keyed_interval_join(fl_stream_key_by(a, "name"), fl_stream_key_by(a, "a"), iv, NULL, out);
    expect_build_failure(env, "interval join", "differ");
    fl_env_destroy(env);

    /* A sink's handle cannot be an input. */
    env = rt_env(1, NULL);
    a = fl_env_from_rows(env, as, (const fl_row *const *)rows, NA);
    fl_stream_connect(fl_stream_discard(a), a);
    expect_build_failure(env, "sink's handle", NULL);
    fl_env_destroy(env);

    /* Different schemas and no output schema. */
    env = rt_env(1, NULL);
    a = fl_env_from_rows(env, as, (const fl_row *const *)rows, NA);
    fl_connected_map(fl_stream_connect(a, fl_env_from_sequence(env, 1, 3)), rt_conn_map1,
                     rt_conn_map2, NULL);
    expect_build_failure(env, "output schema", NULL);
    fl_env_destroy(env);

    /* on_timer on non-keyed connected streams. */
    env = rt_env(1, NULL);
    a = fl_env_from_rows(env, as, (const fl_row *const *)rows, NA);
    fl_connected_process(fl_stream_connect(a, a), rt_conn_proc1, rt_conn_proc1, rt_conn_timeout,
                         out);
    expect_build_failure(env, "on_timer needs keyed", NULL);
    fl_env_destroy(env);

    /* Timers in a non-keyed co-process fail when registered. */
    env = rt_env(1, NULL);
    a = fl_env_from_rows(env, as, (const fl_row *const *)rows, NA);
    fl_stream_discard(fl_connected_process(fl_stream_connect(a, fl_env_from_sequence(env, 1, 3)),
                                           rt_conn_timer_nonkeyed, rt_conn_timer_nonkeyed, NULL,
                                           out));
    expect_run_failure(env, "keyed stream");
    fl_env_destroy(env);

    /* The element function may not write the broadcast state. */
    env = rt_env(2, NULL);
    fl_schema *seq = fl_schema_of(1, "value", FL_BIGINT);
    fl_stream *r = fl_stream_connect_broadcast(
        fl_env_from_sequence(env, 1, 10), fl_env_from_rows(env, as, (const fl_row *const *)rows, 3),
        "rules", ks, seq, rt_bc_element_writes, rt_bc_rule_noop, out);
    fl_stream_discard(fl_stream_set_hooks(r, rt_bc_open, rt_bc_close));
    expect_run_failure(env, "broadcast state \"rules\" of \"Co-Process-Broadcast\" is read-only");
    fl_env_destroy(env);

    /* Only broadcast-connected functions have a broadcast state. */
    env = rt_env(1, NULL);
    fl_stream_discard(
        fl_stream_process(fl_env_from_sequence(env, 1, 3), rt_conn_asks_broadcast, NULL));
    expect_run_failure(env, "has no broadcast state");
    fl_env_destroy(env);

    fl_schema_unref(seq);
    free_rows(rows, NA);
    fl_schema_unref(as);
    fl_schema_unref(out);
    fl_schema_unref(ks);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connected_map_schemas_and_parallelisms),
        cmocka_unit_test(test_connected_flat_map),
        cmocka_unit_test(test_connected_process_side_output),
        cmocka_unit_test(test_keyed_co_process_orders_and_payments),
        cmocka_unit_test(test_broadcast_state_pattern),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
