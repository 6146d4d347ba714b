/*
 * test_connectors_nexmark.c - the "nexmark" source: exactly 1 person, 3
 * auctions and 46 bids in every block of 50 events (also in each parallel
 * generator), output reproducible for a seed and independent of the
 * parallelism, ids growing with the event number, references to recent
 * people and auctions, prices, categories, states and timestamps in range,
 * the padding sizes, the event-types filter, option errors, and snapshot /
 * restore of its splits (also to another parallelism) giving exactly the
 * events of an uninterrupted run. Oracles: the arithmetic of the event
 * number (kind, ids, time) written here, and the uninterrupted run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectors.h"
#include "fake_ctx.h"
#include "mem.h"
#include "options.h"

enum {
    C_TYPE = 0,
    C_TIME = 1,
    C_PERSON_ID = 2,
    C_STATE = 7,
    C_AUCTION_ID = 8,
    C_INITIAL = 11,
    C_RESERVE = 12,
    C_EXPIRES = 13,
    C_SELLER = 14,
    C_CATEGORY = 15,
    C_AUCTION = 16,
    C_BIDDER = 17,
    C_PRICE = 18,
    C_EXTRA = 21,
};

#define BASE_MS INT64_C(1704067200000)

static fl_source_ctx *run(const char *const *kv, int index, int p) {
    fl_error err = {0};
    fl_source_ctx *ctx = fake_source_collect("nexmark", NULL, kv, index, p, &err);
    if (ctx == NULL) fail_msg("%s", err.message);
    return ctx;
}

/* The event number of row i of generator `index` of p (blocks of 50 dealt
 * round-robin). */
static uint64_t event_number(size_t i, int index, int p) {
    uint64_t block = i / 50, offset = i % 50;
    return (block * (uint64_t)p + (uint64_t)index) * 50 + offset;
}

static void proportions_and_ids(void **unused) {
    (void)unused;
    const char *kv[] = {"events=20000", "rate=1000", NULL};
    for (int p = 1; p <= 3; p += 2) {
        size_t total = 0;
        for (int i = 0; i < p; i++) {
            fl_source_ctx *ctx = run(kv, i, p);
            total += ctx->n_rows;
            for (size_t r = 0; r < ctx->n_rows; r++) {
                const fl_row *row = ctx->rows[r];
                uint64_t n = event_number(r, i, p);
                int expect = n % 50 == 0 ? 0 : n % 50 < 4 ? 1 : 2;
                assert_int_equal(fl_row_get_int(row, C_TYPE), expect);
                /* rate 1000: one millisecond per event */
                assert_int_equal(fl_row_get_timestamp(row, C_TIME), BASE_MS + (int64_t)n);
                assert_int_equal(ctx->timestamps[r], BASE_MS + (int64_t)n);
                int64_t people = (int64_t)(n / 50) + 1;
                int64_t auctions = (int64_t)(n / 50) * 3 + (n % 50 < 4 ? (int64_t)(n % 50) : 3);
                if (expect == 0) {
                    assert_int_equal(fl_row_get_bigint(row, C_PERSON_ID), 1000 + (int64_t)(n / 50));
                    assert_true(fl_row_is_null(row, C_AUCTION_ID));
                    assert_true(fl_row_is_null(row, C_PRICE));
                } else if (expect == 1) {
                    assert_int_equal(fl_row_get_bigint(row, C_AUCTION_ID), 1000 + auctions - 1);
                    int64_t seller = fl_row_get_bigint(row, C_SELLER);
                    assert_true(seller >= 1000 && seller < 1000 + people + 10);
                    int64_t cat = fl_row_get_bigint(row, C_CATEGORY);
                    assert_true(cat >= 10 && cat <= 14);
                    int64_t initial = fl_row_get_bigint(row, C_INITIAL);
                    assert_true(initial >= 100 && initial <= 100000000);
                    assert_true(fl_row_get_bigint(row, C_RESERVE) > initial);
                    int64_t life = fl_row_get_timestamp(row, C_EXPIRES) - (BASE_MS + (int64_t)n);
                    /* 1..2 times the time of 1666 events */
                    assert_true(life >= 1666 && life <= 2 * 1667);
                    assert_true(fl_row_is_null(row, C_PERSON_ID));
                } else {
                    int64_t a = fl_row_get_bigint(row, C_AUCTION);
                    int64_t b = fl_row_get_bigint(row, C_BIDDER);
                    assert_true(a >= 1000 && a <= 1000 + auctions - 1 + 10);
                    assert_true(a >= 1000 + auctions - 1 - 100 ||
                                (a - 1000) % 100 == 0); /* in flight, or the hot one */
                    assert_true(b >= 1000 && b <= 1000 + people + 10);
                    int64_t price = fl_row_get_bigint(row, C_PRICE);
                    assert_true(price >= 100 && price <= 100000000);
                    assert_true(fl_row_is_null(row, C_PERSON_ID));
                }
            }
            fake_source_destroy(ctx);
        }
        assert_int_equal(total, 20000);
    }
}

static void distributions(void **unused) {
    (void)unused;
    const char *kv[] = {"events=50000", "seed=5", NULL};
    fl_source_ctx *ctx = run(kv, 0, 1);
    assert_int_equal(ctx->n_rows, 50000);
    size_t bytes[3] = {0}, count[3] = {0}, cats[5] = {0}, hot_auction = 0, cheap = 0;
    bool states_seen[256] = {false};
    for (size_t r = 0; r < ctx->n_rows; r++) {
        const fl_row *row = ctx->rows[r];
        int type = fl_row_get_int(row, C_TYPE);
        uint32_t len;
        fl_row_get_string(row, C_EXTRA, &len);
        count[type]++;
        /* The event's data: string bytes, 8 per other non-null field. */
        for (int f = 0; f < fl_row_num_fields(row); f++) {
            if (fl_row_is_null(row, f)) continue;
            bool text = f == 3 || f == 4 || f == 5 || f == 6 || f == 7 || f == 9 || f == 10 ||
                        f == 19 || f == 20 || f == 21;
            if (text) fl_row_get_string(row, f, &len);
            bytes[type] += text ? len : 8;
        }
        if (type == 0) {
            const char *st = fl_row_get_string(row, C_STATE, &len);
            states_seen[(unsigned char)st[0] ^ (unsigned char)st[1]] = true;
        } else if (type == 1) {
            cats[fl_row_get_bigint(row, C_CATEGORY) - 10]++;
        } else {
            if ((fl_row_get_bigint(row, C_AUCTION) - 1000) % 100 == 0) hot_auction++;
            if (fl_row_get_bigint(row, C_PRICE) < 10000) cheap++;
        }
    }
    assert_int_equal(count[0], 1000);
    assert_int_equal(count[1], 3000);
    assert_int_equal(count[2], 46000);
    /* Padding brings rows near 200 / 500 / 100 bytes of data. */
    double avg[3];
    for (int t = 0; t < 3; t++) avg[t] = (double)bytes[t] / (double)count[t];
    assert_true(avg[0] > 190 && avg[0] < 210);
    assert_true(avg[1] > 480 && avg[1] < 520);
    assert_true(avg[2] > 95 && avg[2] < 125);
    for (int c = 0; c < 5; c++) assert_true(cats[c] > 450 && cats[c] < 750);
    /* Half the bids go to a hot auction (plus the few others that are one). */
    assert_true(hot_auction > 22000 && hot_auction < 25500);
    /* log-uniform over 6 decades: prices below 100.00 dollars are a third */
    assert_true(cheap > 14000 && cheap < 16700);
    int n_states = 0;
    for (int i = 0; i < 256; i++) n_states += states_seen[i];
    assert_true(n_states >= 5 && n_states <= 6);
    fake_source_destroy(ctx);
}

static bool same_rows(const fl_source_ctx *a, const fl_source_ctx *b) {
    if (a->n_rows != b->n_rows) return false;
    for (size_t i = 0; i < a->n_rows; i++)
        if (!fl_row_equals(a->rows[i], b->rows[i])) return false;
    return true;
}

static void deterministic(void **unused) {
    (void)unused;
    const char *kv42[] = {"events=5000", "seed=42", NULL};
    const char *kv43[] = {"events=5000", "seed=43", NULL};
    fl_source_ctx *a = run(kv42, 0, 1), *b = run(kv42, 0, 1), *c = run(kv43, 0, 1);
    assert_true(same_rows(a, b));
    assert_false(same_rows(a, c));
    /* Each generator of 4 emits exactly the events of its blocks. */
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        fl_source_ctx *g = run(kv42, i, 4);
        for (size_t r = 0; r < g->n_rows; r++)
            assert_true(fl_row_equals(g->rows[r], a->rows[event_number(r, i, 4)]));
        total += g->n_rows;
        fake_source_destroy(g);
    }
    assert_int_equal(total, 5000);
    /* event-types=bid: the bids of the full stream, nothing else. */
    const char *bids[] = {"events=5000", "seed=42", "event-types=bid", NULL};
    fl_source_ctx *only = run(bids, 0, 1);
    size_t k = 0;
    for (size_t r = 0; r < a->n_rows; r++)
        if (fl_row_get_int(a->rows[r], C_TYPE) == 2) {
            assert_true(k < only->n_rows);
            assert_true(fl_row_equals(only->rows[k++], a->rows[r]));
        }
    assert_int_equal(k, only->n_rows);
    fake_source_destroy(only);
    fake_source_destroy(a);
    fake_source_destroy(b);
    fake_source_destroy(c);
}

static void bad_options(void **unused) {
    (void)unused;
    const char *types[] = {"event-types=bid,car", NULL};
    const char *rate[] = {"rate=0", NULL};
    const char *unknown[] = {"speed=3", NULL};
    fl_error err = {0};
    assert_null(fake_source_collect("nexmark", NULL, types, 0, 1, &err));
    assert_non_null(strstr(err.message, "car"));
    fl_error_clear(&err);
    assert_null(fake_source_collect("nexmark", NULL, rate, 0, 1, &err));
    assert_non_null(strstr(err.message, "rate"));
    fl_error_clear(&err);
    assert_null(fake_source_collect("nexmark", NULL, unknown, 0, 1, &err));
    assert_non_null(strstr(err.message, "speed"));
    const fl_source_connector *c = fl_source_connector_find("nexmark");
    fl_options *o = fake_options(c->options, "nexmark", (const char *const[]){NULL}, &err);
    assert_false(c->bounded(o));
    fl_options_destroy(o);
}

/* ---- splits ---------------------------------------------------------------------------------- */

typedef struct reader {
    fl_source_ctx *ctx;
    void *state;
} reader;

static reader reader_open(const fl_source_connector *c, const fl_options *o, const fl_schema *s,
                          int index, int p) {
    reader r = {fake_source_create(s, index, p), NULL};
    fl_error err = {0};
    assert_int_equal(c->open(r.ctx, o, &r.state, &err), 0);
    return r;
}

static int row_cmp(const void *a, const void *b) {
    const fl_row *x = *(const fl_row *const *)a, *y = *(const fl_row *const *)b;
    uint32_t lx = fl_row_size(x), ly = fl_row_size(y);
    int c = memcmp(x, y, lx < ly ? lx : ly);
    return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* p_before generators read `cut` rows each, snapshot, read 300 more (lost
 * to a failure), then p_after restored generators read the rest; kept rows
 * must be exactly those of one uninterrupted generator. */
static void restore_case(const char *const *kv, int p_before, int p_after, size_t cut) {
    const fl_source_connector *c = fl_source_connector_find("nexmark");
    fl_error err = {0};
    fl_options *o = fake_options(c->options, "nexmark", kv, &err);
    assert_non_null(o);
    fl_schema *s = c->schema(o, NULL, &err);
    const fl_row **got = NULL;
    size_t n_got = 0;
    fl_source_ctx **keep = fl_xcalloc((size_t)(p_before + p_after), sizeof *keep);
    fl_split_list *splits = fl_split_list_create();
    for (int i = 0; i < p_before; i++) {
        reader r = reader_open(c, o, s, i, p_before);
        fake_source_read_until(c, r.state, r.ctx, cut, &err);
        size_t before = r.ctx->n_rows;
        assert_int_equal(c->snapshot(r.state, splits, &err), 0);
        fake_source_read_until(c, r.state, r.ctx, before + 300, &err);
        c->close(r.state);
        got = fl_xrealloc(got, (n_got + before) * sizeof *got);
        for (size_t k = 0; k < before; k++) got[n_got++] = r.ctx->rows[k];
        keep[i] = r.ctx;
    }
    for (int i = 0; i < p_after; i++) {
        size_t first, n;
        fake_even_split(fl_split_list_count(splits), p_after, i, &first, &n);
        reader r = reader_open(c, o, s, i, p_after);
        assert_int_equal(c->restore(r.state, fl_split_list_items(splits) + first, n, &err), 0);
        assert_int_equal(fake_source_read_until(c, r.state, r.ctx, SIZE_MAX, &err), FL_SOURCE_END);
        c->close(r.state);
        got = fl_xrealloc(got, (n_got + r.ctx->n_rows + 1) * sizeof *got);
        for (size_t k = 0; k < r.ctx->n_rows; k++) got[n_got++] = r.ctx->rows[k];
        keep[p_before + i] = r.ctx;
    }
    fl_source_ctx *all = run(kv, 0, 1);
    assert_int_equal(n_got, all->n_rows);
    const fl_row **expect = fl_xmalloc(all->n_rows * sizeof *expect);
    for (size_t k = 0; k < all->n_rows; k++) expect[k] = all->rows[k];
    qsort(got, n_got, sizeof *got, row_cmp);
    qsort(expect, n_got, sizeof *expect, row_cmp);
    for (size_t k = 0; k < n_got; k++) assert_true(fl_row_equals(got[k], expect[k]));
    free(expect);
    free(got);
    fake_source_destroy(all);
    for (int i = 0; i < p_before + p_after; i++) fake_source_destroy(keep[i]);
    free(keep);
    fl_split_list_destroy(splits);
    fl_schema_unref(s);
    fl_options_destroy(o);
}

static void split_restore(void **unused) {
    (void)unused;
    const char *kv[] = {"events=6000", "seed=9", NULL};
    restore_case(kv, 1, 1, 1234);
    restore_case(kv, 2, 3, 777);
    restore_case(kv, 3, 1, 51);
    restore_case(kv, 2, 2, 0);

    /* A split from another configuration is refused. */
    const fl_source_connector *c = fl_source_connector_find("nexmark");
    fl_error err = {0};
    fl_options *o = fake_options(c->options, "nexmark", kv, &err);
    const char *other_kv[] = {"events=7000", NULL};
    fl_options *other = fake_options(c->options, "nexmark", other_kv, &err);
    fl_schema *s = c->schema(o, NULL, &err);
    reader r = reader_open(c, o, s, 0, 1);
    fl_split_list *splits = fl_split_list_create();
    assert_int_equal(c->snapshot(r.state, splits, &err), 0);
    c->close(r.state);
    fake_source_destroy(r.ctx);
    reader q = reader_open(c, other, s, 0, 1);
    assert_int_equal(c->restore(q.state, fl_split_list_items(splits), 1, &err), FL_EFORMAT);
    fl_split junk = {"garbage", 7};
    assert_int_equal(c->restore(q.state, &junk, 1, &err), FL_EFORMAT);
    c->close(q.state);
    fake_source_destroy(q.ctx);
    fl_split_list_destroy(splits);
    fl_schema_unref(s);
    fl_options_destroy(o);
    fl_options_destroy(other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(proportions_and_ids), cmocka_unit_test(distributions),
        cmocka_unit_test(deterministic),       cmocka_unit_test(bad_options),
        cmocka_unit_test(split_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
