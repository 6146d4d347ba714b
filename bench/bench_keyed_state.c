/*
 * bench_keyed_state.c - the heap keyed state backend's hot paths, measured
 * directly on the backend (no job around it).
 *
 *   bin/bench_keyed_state [keys]
 *
 * Prints nanoseconds per operation for: inserting keys, set_key + value get +
 * update on existing keys in random order, set_key + reducing add, and the
 * windowed word count step (set_key, set_namespace, reducing add, timer
 * registration that is a duplicate).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_state_keys.h"
#include "keyed_state.h"
#include "row_int.h"

static int sum(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0) + fl_row_get_bigint(in, 0));
    return 0;
}

static void run(int nkeys) {
    key *keys = make_keys(nkeys);
    const int ops = 10000000;
    uint32_t *order = make_order(ops, nkeys);

    fl_keyed_backend *b = fl_keyed_backend_create(0, 127, 128, NULL, NULL);
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_state_desc vd = {.name = "v", .kind = FL_STATE_VALUE, .value_schema = one};
    fl_state_desc rd = {.name = "r", .kind = FL_STATE_REDUCING, .value_schema = one, .reduce = sum};
    fl_kstate *vs = fl_keyed_backend_state(b, &vd, NULL);
    fl_kstate *rs = fl_keyed_backend_state(b, &rd, NULL);
    uint8_t row[24], onerow[24];
    bigint_row(onerow, 1);

    double t0 = (1e9 * bench_now_s());
    for (int i = 0; i < nkeys; i++) {
        fl_keyed_backend_set_key(b, keys[i].bytes, 24, keys[i].hash);
        bigint_row(row, i);
        fl_kstate_value_update(vs, (const fl_row *)row);
    }
    double t1 = (1e9 * bench_now_s());
    printf("%9d keys: insert                      %6.1f ns/key  (%.1f bytes/key)\n", nkeys,
           (t1 - t0) / nkeys, (double)fl_keyed_backend_bytes(b) / nkeys);

    t0 = (1e9 * bench_now_s());
    int64_t check = touch_keys(b, vs, keys, order, ops);
    t1 = (1e9 * bench_now_s());
    printf("%9d keys: set_key + value get + update %6.1f ns/op  (check %lld)\n", nkeys,
           (t1 - t0) / ops, (long long)(check & 0xff));

    for (int i = 0; i < nkeys; i++) { /* create the reducing entries */
        fl_keyed_backend_set_key(b, keys[i].bytes, 24, keys[i].hash);
        fl_kstate_add(rs, (const fl_row *)onerow);
    }
    t0 = (1e9 * bench_now_s());
    for (int i = 0; i < ops; i++) {
        const key *k = &keys[order[i]];
        fl_keyed_backend_set_key(b, k->bytes, 24, k->hash);
        fl_kstate_add(rs, (const fl_row *)onerow);
    }
    t1 = (1e9 * bench_now_s());
    printf("%9d keys: set_key + reducing add       %6.1f ns/op\n", nkeys, (t1 - t0) / ops);

    /* windowed word count: one window, timer per (key, window) deduplicated */
    int64_t win[2] = {0, 1000};
    for (int i = 0; i < nkeys; i++) {
        fl_keyed_backend_set_key(b, keys[i].bytes, 24, keys[i].hash);
        fl_kstate_set_namespace(rs, win, sizeof win);
        fl_kstate_add(rs, (const fl_row *)onerow);
        fl_timer_register(b, FL_EVENT_TIME, 999, win, sizeof win);
    }
    t0 = (1e9 * bench_now_s());
    for (int i = 0; i < ops; i++) {
        const key *k = &keys[order[i]];
        fl_keyed_backend_set_key(b, k->bytes, 24, k->hash);
        fl_kstate_set_namespace(rs, win, sizeof win);
        fl_kstate_add(rs, (const fl_row *)onerow);
        fl_timer_register(b, FL_EVENT_TIME, 999, win, sizeof win);
    }
    t1 = (1e9 * bench_now_s());
    printf("%9d keys: windowed add + timer         %6.1f ns/op\n", nkeys, (t1 - t0) / ops);

    t0 = (1e9 * bench_now_s());
    fl_timer t;
    size_t fired = 0;
    while (fl_timer_pop(b, FL_EVENT_TIME, 999, &t)) {
        fl_kstate_set_namespace(rs, t.ns, t.ns_len);
        fl_kstate_clear(rs);
        fired++;
    }
    t1 = (1e9 * bench_now_s());
    printf("%9d keys: fire timer + clear window    %6.1f ns/timer (%zu)\n", nkeys,
           (t1 - t0) / (double)fired, fired);

    fl_schema_unref(one);
    fl_keyed_backend_destroy(b);
    free(order);
    free(keys);
}

int main(int argc, char **argv) { return bench_state_main(argc, argv, run); }
