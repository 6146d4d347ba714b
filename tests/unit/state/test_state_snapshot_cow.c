/*
 * test_state_snapshot_cow.c - copy-on-write views of the heap keyed backend.
 *
 * The oracle is a reference backend that replays the same operation log
 * (snapshot_fixtures.h) without ever keeping a view: whenever the tested
 * backend takes a view, the reference writes a snapshot at that very moment.
 * The tested backend then goes on changing every kind of state (updates,
 * list growth, map puts and removes, TTL refreshes on read, expiry, merges,
 * timer registrations, deletions and pops) with up to four views alive, and
 * the bytes each view writes later must equal the reference's. After every
 * view is released, the backend's bytes and entries equal the reference's.
 *
 * The concurrent test writes views in another thread (and releases them
 * there) while the owner thread keeps changing state: each view's bytes must
 * equal those written in the owner thread right after it was taken. Run it
 * under ThreadSanitizer as well (a separate -fsanitize=thread build).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "snapshot_fixtures.h"

typedef struct pending {
    fl_keyed_snapshot *v;
    sink expected;
} pending;

static bool same_bytes(const sink *a, const sink *b) {
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

static void write_and_check(pending *p) {
    sink got = snapshot_bytes(p->v);
    if (!same_bytes(&got, &p->expected))
        fail_msg("a view wrote %zu bytes unlike the reference's %zu", got.len, p->expected.len);
    sink_free(&got);
    sink_free(&p->expected);
}

static void views_match_reference(fl_ttl_update ttl, uint64_t seed) {
    fixture fx;
    fx_init(&fx, 400, ttl);
    int64_t now_a = 0, now_r = 0;
    world a = world_create(&fx, 0, FX_MAXP - 1, &now_a);
    world r = world_create(&fx, 0, FX_MAXP - 1, &now_r);
    test_rng ra = {seed}, rr = {seed}, pick = {seed * 31 + 7};
    pending live[4];
    int n_live = 0, taken = 0;
    for (int round = 0; round < 100; round++) {
        int steps = rng_below(&pick, 5) == 0 ? 0 : (int)rng_below(&pick, 2000);
        for (int i = 0; i < steps; i++) {
            step(&fx, &a, 1, NULL, &ra, &now_a);
            step(&fx, &r, 1, NULL, &rr, &now_r);
        }
        if (n_live < 4 && (n_live == 0 || rng_below(&pick, 2))) {
            live[n_live].v = fl_keyed_backend_snapshot(a.b);
            fl_keyed_snapshot *rv = fl_keyed_backend_snapshot(r.b);
            live[n_live].expected = snapshot_bytes(rv);
            fl_keyed_snapshot_release(rv);
            n_live++;
            taken++;
        } else {
            int i = (int)rng_below(&pick, (uint32_t)n_live); /* any order */
            write_and_check(&live[i]);
            fl_keyed_snapshot_release(live[i].v);
            live[i] = live[--n_live];
        }
        if (n_live == 0) {
            assert_int_equal(fl_keyed_backend_bytes(a.b), fl_keyed_backend_bytes(r.b));
            assert_int_equal(fl_keyed_backend_entries(a.b), fl_keyed_backend_entries(r.b));
        }
    }
    while (n_live > 0) {
        write_and_check(&live[n_live - 1]);
        fl_keyed_snapshot_release(live[--n_live].v);
    }
    print_message("%d views, %zu entries, %zu bytes\n", taken, fl_keyed_backend_entries(a.b),
                  fl_keyed_backend_bytes(a.b));
    assert_int_equal(fl_keyed_backend_bytes(a.b), fl_keyed_backend_bytes(r.b));
    assert_int_equal(fl_keyed_backend_entries(a.b), fl_keyed_backend_entries(r.b));
    fl_keyed_backend_destroy(a.b);
    fl_keyed_backend_destroy(r.b);
    fx_fini(&fx);
}

static void test_views_match_reference(void **state) {
    (void)state;
    views_match_reference(FL_TTL_ON_READ_AND_WRITE, 0xfeed);
    views_match_reference(FL_TTL_ON_CREATE_AND_WRITE, 0xbeef);
}

/* Views left unreleased are freed with the backend (no leak, no double free
 * of what they share with it). */
static void test_destroy_with_live_views(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 200, FL_TTL_ON_READ_AND_WRITE);
    int64_t now = 0;
    world a = world_create(&fx, 0, FX_MAXP - 1, &now);
    test_rng rng = {3};
    for (int v = 0; v < 3; v++) {
        for (int i = 0; i < 3000; i++) step(&fx, &a, 1, NULL, &rng, &now);
        fl_keyed_backend_snapshot(a.b);
    }
    for (int i = 0; i < 3000; i++) step(&fx, &a, 1, NULL, &rng, &now);
    fl_keyed_backend_destroy(a.b);
    fx_fini(&fx);
}

/* ---- a writer thread ------------------------------------------------------------------------- */

#define QUEUE 8

typedef struct writer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pending jobs[QUEUE];
    int head, count;
    bool done;
    int written, mismatches;
} writer;

static void *writer_main(void *arg) {
    writer *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->count == 0 && !w->done) pthread_cond_wait(&w->cv, &w->mu);
        if (w->count == 0) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        pending job = w->jobs[w->head];
        w->head = (w->head + 1) % QUEUE;
        w->count--;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);

        sink got = snapshot_bytes(job.v); /* while the owner changes the backend */
        fl_keyed_snapshot_release(job.v); /* in this thread: the owner reclaims */
        bool same = same_bytes(&got, &job.expected);
        sink_free(&got);
        sink_free(&job.expected);
        pthread_mutex_lock(&w->mu);
        w->written++;
        if (!same) w->mismatches++;
        pthread_mutex_unlock(&w->mu);
    }
}

static void test_concurrent_writer(void **state) {
    (void)state;
    fixture fx;
    fx_init(&fx, 400, FL_TTL_ON_READ_AND_WRITE);
    int64_t now_a = 0, now_r = 0;
    world a = world_create(&fx, 0, FX_MAXP - 1, &now_a);
    world r = world_create(&fx, 0, FX_MAXP - 1, &now_r);
    test_rng ra = {0xc0c0a}, rr = {0xc0c0a};
    writer w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    int sent = 0;
    for (int i = 0; i < 80000; i++) {
        step(&fx, &a, 1, NULL, &ra, &now_a);
        step(&fx, &r, 1, NULL, &rr, &now_r);
        if (i % 2000 != 1999) continue;
        pending job = {.v = fl_keyed_backend_snapshot(a.b)};
        job.expected = snapshot_bytes(job.v); /* the view as taken, before any change */
        pthread_mutex_lock(&w.mu);
        while (w.count == QUEUE) pthread_cond_wait(&w.cv, &w.mu);
        w.jobs[(w.head + w.count) % QUEUE] = job;
        w.count++;
        pthread_cond_broadcast(&w.cv);
        pthread_mutex_unlock(&w.mu);
        sent++;
    }
    pthread_mutex_lock(&w.mu);
    w.done = true;
    pthread_cond_broadcast(&w.cv);
    pthread_mutex_unlock(&w.mu);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.written, sent);
    assert_int_equal(w.mismatches, 0);
    /* every view was released by the writer: the next operation reclaims */
    set_key(a.b, &fx.keys[0]);
    assert_int_equal(fl_keyed_backend_bytes(a.b), fl_keyed_backend_bytes(r.b));
    assert_int_equal(fl_keyed_backend_entries(a.b), fl_keyed_backend_entries(r.b));
    print_message("%d views written concurrently\n", sent);
    fl_keyed_backend_destroy(a.b);
    fl_keyed_backend_destroy(r.b);
    fx_fini(&fx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_match_reference),
        cmocka_unit_test(test_destroy_with_live_views),
        cmocka_unit_test(test_concurrent_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
