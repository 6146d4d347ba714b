/*
 * bench_state_snapshot.c - keyed state snapshots of the heap backend,
 * measured directly on the backend (no job around it).
 *
 *   bin/bench_state_snapshot [keys]
 *
 * With one value state of [keys] keys (10 000, then 1 000 000 by default) (24-byte key and value
 * rows) and one event-time timer per key, it prints: the synchronous step (taking a view), writing
 * the view (MB/s, to memory), restoring it, and the owner's hot path (set_key + value get + update)
 * without a view, with a live view while every key is touched once (each touch copies its entry),
 * with a live view afterwards, and while another thread writes the view.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_state_keys.h"
#include "keyed_state.h"
#include "row_int.h"

typedef struct buffer {
    uint8_t *p;
    size_t len, cap;
} buffer;

static int to_buffer(void *arg, const void *p, size_t n) {
    buffer *b = arg;
    if (b->len + n > b->cap) {
        while (b->len + n > b->cap) b->cap = b->cap ? b->cap * 2 : 1 << 20;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static int64_t fake_clock(void *arg) {
    (void)arg;
    return 0;
}

/* set_key + value get + update over ops keys in order[] */
static double hot_path(fl_keyed_backend *b, fl_kstate *vs, const key *keys, const uint32_t *order,
                       int ops) {
    double t0 = (1e9 * bench_now_s());
    int64_t check = touch_keys(b, vs, keys, order, ops);
    double t = ((1e9 * bench_now_s()) - t0) / ops;
    if (check == 42) printf("!");
    return t;
}

typedef struct job {
    fl_keyed_snapshot *v;
    buffer out;
    double ns;
} job;

static void *write_job(void *arg) {
    job *j = arg;
    double t0 = (1e9 * bench_now_s());
    fl_keyed_snapshot_write(j->v, to_buffer, &j->out, NULL);
    j->ns = (1e9 * bench_now_s()) - t0;
    fl_keyed_snapshot_release(j->v);
    return NULL;
}

static void run(int nkeys) {
    key *keys = make_keys(nkeys);
    const int ops = 10000000;
    uint32_t *order = make_order(ops, nkeys);
    uint32_t *seq = malloc((size_t)nkeys * sizeof *seq);
    for (int i = 0; i < nkeys; i++) seq[i] = (uint32_t)i;

    fl_keyed_backend *b = fl_keyed_backend_create(0, 127, 128, fake_clock, NULL);
    fl_schema *one = fl_schema_of(1, "n", FL_BIGINT);
    fl_state_desc vd = {.name = "v", .kind = FL_STATE_VALUE, .value_schema = one};
    fl_kstate *vs = fl_keyed_backend_state(b, &vd, NULL);
    uint8_t row[24];
    for (int i = 0; i < nkeys; i++) {
        fl_keyed_backend_set_key(b, keys[i].bytes, 24, keys[i].hash);
        bigint_row(row, i);
        fl_kstate_value_update(vs, (const fl_row *)row);
        fl_timer_register(b, FL_EVENT_TIME, 1000 + i % 1000, NULL, 0);
    }
    size_t base_bytes = fl_keyed_backend_bytes(b);
    printf("%d keys, %d timers: %.1f MB of state\n", nkeys, nkeys, base_bytes / 1e6);

    /* the synchronous step */
    double best = 1e18, sum = 0;
    for (int i = 0; i < 20; i++) {
        double t0 = (1e9 * bench_now_s());
        fl_keyed_snapshot *v = fl_keyed_backend_snapshot(b);
        double t = (1e9 * bench_now_s()) - t0;
        fl_keyed_snapshot_release(v);
        best = t < best ? t : best;
        sum += t;
    }
    printf("  sync step (take a view)             %8.1f us (best %.1f us)\n", sum / 20 / 1e3,
           best / 1e3);

    /* writing (twice; the second, with a warm buffer, is reported) */
    buffer out = {0};
    double wns = 0;
    for (int i = 0; i < 2; i++) {
        out.len = 0;
        fl_keyed_snapshot *v = fl_keyed_backend_snapshot(b);
        double t0 = (1e9 * bench_now_s());
        fl_keyed_snapshot_write(v, to_buffer, &out, NULL);
        wns = (1e9 * bench_now_s()) - t0;
        fl_keyed_snapshot_release(v);
    }
    printf("  write                               %8.1f ms, %zu bytes, %.0f MB/s\n", wns / 1e6,
           out.len, out.len / (wns / 1e9) / 1e6);

    /* restoring */
    fl_keyed_backend *r = fl_keyed_backend_create(0, 127, 128, fake_clock, NULL);
    double t0 = (1e9 * bench_now_s());
    int rc = fl_keyed_backend_restore(r, out.p, out.len, NULL);
    double rns = (1e9 * bench_now_s()) - t0;
    if (rc != 0 || fl_keyed_backend_entries(r) != (size_t)nkeys) {
        fprintf(stderr, "bench_state_snapshot: the restore gave rc %d and %zu entries, not %d\n",
                rc, fl_keyed_backend_entries(r), nkeys);
        exit(1);
    }
    printf("  restore                             %8.1f ms, %.0f MB/s, %.0f ns per key\n",
           rns / 1e6, out.len / (rns / 1e9) / 1e6, rns / nkeys);
    fl_keyed_backend_destroy(r);

    /* the hot path */
    double no_view = hot_path(b, vs, keys, order, ops);
    printf("  get + update, no view               %8.1f ns/op\n", no_view);
    fl_keyed_snapshot *v = fl_keyed_backend_snapshot(b);
    double first = hot_path(b, vs, keys, seq, nkeys);
    printf("  get + update, live view, 1st touch  %8.1f ns/op (each copies its entry; %.1f MB "
           "more)\n",
           first, (fl_keyed_backend_bytes(b) - base_bytes) / 1e6);
    double later = hot_path(b, vs, keys, order, ops);
    printf("  get + update, live view, after      %8.1f ns/op\n", later);
    t0 = (1e9 * bench_now_s());
    fl_keyed_snapshot_release(v);
    printf("  release (frees the old entries)     %8.1f ms\n", ((1e9 * bench_now_s()) - t0) / 1e6);
    double again = hot_path(b, vs, keys, seq, nkeys);
    printf("  get + update, view released         %8.1f ns/op (same order as 1st touch)\n", again);

    /* while another thread writes */
    job j = {.v = fl_keyed_backend_snapshot(b)};
    pthread_t th;
    pthread_create(&th, NULL, write_job, &j);
    double during = hot_path(b, vs, keys, order, ops / 4);
    pthread_join(th, NULL);
    fl_keyed_backend_set_key(b, keys[0].bytes, 24, keys[0].hash); /* reclaims */
    printf("  get + update, view written by another thread %6.1f ns/op (write took %.1f ms, %.0f "
           "MB/s)\n",
           during, j.ns / 1e6, j.out.len / (j.ns / 1e9) / 1e6);
    printf("  bytes after release: %zu, before the views %zu\n", fl_keyed_backend_bytes(b),
           base_bytes);

    free(j.out.p);
    free(out.p);
    fl_schema_unref(one);
    fl_keyed_backend_destroy(b);
    free(order);
    free(seq);
    free(keys);
}

int main(int argc, char **argv) { return bench_state_main(argc, argv, run); }
