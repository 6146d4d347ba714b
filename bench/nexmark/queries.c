/*
 * queries.c - the Nexmark queries written against flinc's DataStream API,
 * one builder per query (the table at the end), shared by the runner
 * (nexmark.c) and the correctness tests, which include this file.
 *
 * Every query reads the "nexmark" source with the kinds of events it needs
 * (the source skips the others without building them, so no filter on the
 * event type is needed) and returns its result stream. What each one
 * computes, and where it departs from the SQL versions that Flink runs, is
 * in docs/nexmark.md. User functions are exported (non-static) symbols, as
 * the API requires; their names start with nxq_.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queries.h"

#define WATERMARK_LAG_MS 4000

fl_stream *nexmark_source(fl_env *env, const nexmark_config *cfg, const char *types) {
    char events[64], rate[64], seed[64], kinds[64];
    snprintf(events, sizeof events, "events=%" PRId64, cfg->events);
    snprintf(rate, sizeof rate, "rate=%" PRId64, cfg->rate > 0 ? cfg->rate : 10000);
    snprintf(seed, sizeof seed, "seed=%" PRIu64, cfg->seed);
    snprintf(kinds, sizeof kinds, "event-types=%s", types);
    const char *options[] = {events, rate, seed, kinds, NULL};
    const char *connector = cfg->connector ? cfg->connector : "nexmark";
    fl_stream *s = fl_stream_name(fl_env_add_source(env, connector, NULL, options), "Nexmark");
    if (cfg->parallelism > 0) fl_stream_set_parallelism(s, cfg->parallelism);
    fl_watermark_strategy ws = {.max_out_of_orderness_ms = WATERMARK_LAG_MS,
                                .timestamp_field = "date_time"};
    s = fl_stream_assign_timestamps_and_watermarks(s, &ws);
    if (cfg->parallelism > 0) fl_stream_set_parallelism(s, cfg->parallelism);
    return s;
}

/* (auction, bidder, price, date_time, extra): a bid on its own. */
static fl_schema *bid_schema(fl_type price) {
    return fl_schema_of(5, "auction", FL_BIGINT, "bidder", FL_BIGINT, "price", price, "date_time",
                        FL_TIMESTAMP, "extra", FL_STRING);
}

/* Builds out from bid row `in`, price given. */
static void set_bid(fl_row_builder *out, const fl_row *in) {
    fl_row_builder_copy_field(out, 0, in, NX_AUCTION);
    fl_row_builder_copy_field(out, 1, in, NX_BIDDER);
    fl_row_builder_copy_field(out, 3, in, NX_DATE_TIME);
    fl_row_builder_copy_field(out, 4, in, NX_EXTRA);
}

/* ---- q0: pass-through --------------------------------------------------------------------- */

int nxq_q0_map(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    (void)ctx;
    set_bid(out, in);
    fl_row_builder_copy_field(out, 2, in, NX_PRICE);
    return 0;
}

static fl_stream *q0(fl_env *env, const nexmark_config *cfg) {
    fl_schema *s = bid_schema(FL_BIGINT);
    fl_stream *r = fl_stream_name(fl_stream_map(nexmark_source(env, cfg, "bid"), nxq_q0_map, s),
                                  "q0 pass-through");
    fl_schema_unref(s);
    return r;
}

/* ---- q1: currency conversion ------------------------------------------------------------ */

int nxq_q1_map(fl_context *ctx, const fl_row *in, fl_row_builder *out) {
    (void)ctx;
    set_bid(out, in);
    fl_row_builder_set_double(out, 2, NX_DOLLAR_TO_EURO * (double)fl_row_get_bigint(in, NX_PRICE));
    return 0;
}

static fl_stream *q1(fl_env *env, const nexmark_config *cfg) {
    fl_schema *s = bid_schema(FL_DOUBLE);
    fl_stream *r = fl_stream_name(fl_stream_map(nexmark_source(env, cfg, "bid"), nxq_q1_map, s),
                                  "q1 dollars to euros");
    fl_schema_unref(s);
    return r;
}

/* ---- q2: selection ------------------------------------------------------------------------ */

int nxq_q2_select(fl_context *ctx, const fl_row *in, fl_collector *out) {
    (void)ctx;
    int64_t auction = fl_row_get_bigint(in, NX_AUCTION);
    if (auction % NX_Q2_MODULUS != 0) return 0;
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 0, auction);
    fl_row_builder_copy_field(b, 1, in, NX_PRICE);
    return fl_collector_emit(out);
}

static fl_stream *q2(fl_env *env, const nexmark_config *cfg) {
    fl_schema *s = fl_schema_of(2, "auction", FL_BIGINT, "price", FL_BIGINT);
    fl_stream *r = fl_stream_name(
        fl_stream_flat_map(nexmark_source(env, cfg, "bid"), nxq_q2_select, s), "q2 selection");
    fl_schema_unref(s);
    return r;
}

/* ---- q14: filter, calculated fields, a scalar function ------------------------------------ */

int nxq_q14_calc(fl_context *ctx, const fl_row *in, fl_collector *out) {
    (void)ctx;
    double price = NX_DOLLAR_TO_EURO * (double)fl_row_get_bigint(in, NX_PRICE);
    if (price < 1000000.0 || price > 50000000.0) return 0;
    int64_t ms = fl_row_get_timestamp(in, NX_DATE_TIME);
    int64_t hour = ((ms % 86400000 + 86400000) % 86400000) / 3600000;
    const char *kind = hour >= 8 && hour <= 18   ? "dayTime"
                       : hour <= 6 || hour >= 20 ? "nightTime"
                                                 : "otherTime";
    uint32_t len;
    const char *extra = fl_row_get_string(in, NX_EXTRA, &len);
    int64_t c = 0;
    for (uint32_t i = 0; i < len; i++) c += extra[i] == 'c';
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_copy_field(b, 0, in, NX_AUCTION);
    fl_row_builder_copy_field(b, 1, in, NX_BIDDER);
    fl_row_builder_set_double(b, 2, price);
    fl_row_builder_set_cstring(b, 3, kind);
    fl_row_builder_copy_field(b, 4, in, NX_DATE_TIME);
    fl_row_builder_copy_field(b, 5, in, NX_EXTRA);
    fl_row_builder_set_bigint(b, 6, c);
    return fl_collector_emit(out);
}

static fl_stream *q14(fl_env *env, const nexmark_config *cfg) {
    fl_schema *s = fl_schema_of(7, "auction", FL_BIGINT, "bidder", FL_BIGINT, "price", FL_DOUBLE,
                                "bid_time_type", FL_STRING, "date_time", FL_TIMESTAMP, "extra",
                                FL_STRING, "c_counts", FL_BIGINT);
    fl_stream *r = fl_stream_name(
        fl_stream_flat_map(nexmark_source(env, cfg, "bid"), nxq_q14_calc, s), "q14 calc");
    fl_schema_unref(s);
    return r;
}

/* ---- q3: local item suggestion (incremental join) ---------------------------------------- */

typedef struct q3_state {
    fl_schema *person_schema, *pending_schema;
    fl_value_state *person; /* (name, city, state) of the key's person */
    fl_list_state *pending; /* (auction_id) of auctions seen before their seller */
    fl_row_builder *person_row, *pending_row;
} q3_state;

int nxq_q3_open(fl_context *ctx) {
    q3_state *st = calloc(1, sizeof *st);
    st->person_schema = fl_schema_of(3, "name", FL_STRING, "city", FL_STRING, "state", FL_STRING);
    st->pending_schema = fl_schema_of(1, "auction_id", FL_BIGINT);
    st->person = fl_context_value_state(ctx, "person", st->person_schema, NULL);
    st->pending = fl_context_list_state(ctx, "pending", st->pending_schema, NULL);
    st->person_row = fl_row_builder_create(st->person_schema);
    st->pending_row = fl_row_builder_create(st->pending_schema);
    fl_context_set_user(ctx, st);
    return st->person && st->pending ? 0 : -1;
}

void nxq_q3_close(fl_context *ctx) {
    q3_state *st = fl_context_user(ctx);
    if (st == NULL) return;
    fl_row_builder_destroy(st->person_row);
    fl_row_builder_destroy(st->pending_row);
    fl_schema_unref(st->person_schema);
    fl_schema_unref(st->pending_schema);
    free(st);
}

int nxq_q3_person_filter(fl_context *ctx, const fl_row *in) {
    (void)ctx;
    uint32_t len;
    const char *s = fl_row_get_string(in, NX_STATE, &len);
    return len == 2 && ((s[0] == 'O' && s[1] == 'R') || (s[0] == 'I' && s[1] == 'D') ||
                        (s[0] == 'C' && s[1] == 'A'));
}

int nxq_q3_auction_filter(fl_context *ctx, const fl_row *in) {
    (void)ctx;
    return fl_row_get_bigint(in, NX_CATEGORY) == 10;
}

static int q3_emit(fl_collector *out, const fl_row *person, int64_t auction_id) {
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_copy_field(b, 0, person, 0);
    fl_row_builder_copy_field(b, 1, person, 1);
    fl_row_builder_copy_field(b, 2, person, 2);
    fl_row_builder_set_bigint(b, 3, auction_id);
    return fl_collector_emit(out);
}

int nxq_q3_on_person(fl_context *ctx, const fl_row *in, fl_collector *out) {
    q3_state *st = fl_context_user(ctx);
    fl_row_builder *b = st->person_row;
    fl_row_builder_reset(b);
    fl_row_builder_copy_field(b, 0, in, NX_NAME);
    fl_row_builder_copy_field(b, 1, in, NX_CITY);
    fl_row_builder_copy_field(b, 2, in, NX_STATE);
    const fl_row *person = fl_row_builder_finish(b);
    if (fl_value_state_update(st->person, person) < 0) return -1;
    size_t n;
    const fl_row *const *pending = fl_list_state_get(st->pending, &n);
    for (size_t i = 0; i < n; i++)
        if (q3_emit(out, person, fl_row_get_bigint(pending[i], 0)) < 0) return -1;
    if (n > 0) fl_list_state_clear(st->pending);
    return 0;
}

int nxq_q3_on_auction(fl_context *ctx, const fl_row *in, fl_collector *out) {
    q3_state *st = fl_context_user(ctx);
    const fl_row *person = fl_value_state_get(st->person);
    int64_t id = fl_row_get_bigint(in, NX_AUCTION_ID);
    if (person != NULL) return q3_emit(out, person, id);
    fl_row_builder_reset(st->pending_row);
    fl_row_builder_set_bigint(st->pending_row, 0, id);
    return fl_list_state_add(st->pending, fl_row_builder_finish(st->pending_row));
}

static fl_stream *q3(fl_env *env, const nexmark_config *cfg) {
    fl_stream *persons = fl_stream_filter(nexmark_source(env, cfg, "person"), nxq_q3_person_filter);
    fl_stream *auctions =
        fl_stream_filter(nexmark_source(env, cfg, "auction"), nxq_q3_auction_filter);
    fl_schema *s =
        fl_schema_of(4, "name", FL_STRING, "city", FL_STRING, "state", FL_STRING, "id", FL_BIGINT);
    fl_stream *r = fl_connected_process(fl_keyed_connect(fl_stream_key_by(persons, "person_id"),
                                                         fl_stream_key_by(auctions, "seller")),
                                        nxq_q3_on_person, nxq_q3_on_auction, NULL, s);
    fl_stream_set_hooks(r, nxq_q3_open, nxq_q3_close);
    fl_stream_name(r, "q3 join");
    fl_schema_unref(s);
    return r;
}

/* ---- winning bids (q4, q9): auctions joined with their bids until they expire ------------- */

/* The auction part of q9's output, and the bid part (also the early bids). */
#define WIN_AUCTION_FIELDS 10
static const int win_auction_cols[WIN_AUCTION_FIELDS] = {
    NX_AUCTION_ID, NX_ITEM_NAME, NX_DESCRIPTION, NX_INITIAL_BID, NX_RESERVE,
    NX_DATE_TIME,  NX_EXPIRES,   NX_SELLER,      NX_CATEGORY,    NX_EXTRA};
enum {
    WA_ID,
    WA_ITEM,
    WA_DESC,
    WA_INITIAL,
    WA_RESERVE,
    WA_TIME,
    WA_EXPIRES,
    WA_SELLER,
    WA_CAT,
    WA_EXTRA
};
enum { WB_BIDDER, WB_PRICE, WB_TIME, WB_EXTRA };

static fl_schema *win_auction_schema(void) {
    return fl_schema_of(10, "id", FL_BIGINT, "item_name", FL_STRING, "description", FL_STRING,
                        "initial_bid", FL_BIGINT, "reserve", FL_BIGINT, "date_time", FL_TIMESTAMP,
                        "expires", FL_TIMESTAMP, "seller", FL_BIGINT, "category", FL_BIGINT,
                        "extra", FL_STRING);
}

static fl_schema *win_bid_schema(void) {
    return fl_schema_of(4, "bidder", FL_BIGINT, "price", FL_BIGINT, "bid_date_time", FL_TIMESTAMP,
                        "bid_extra", FL_STRING);
}

typedef struct win_state {
    fl_schema *auction_schema, *bid_schema;
    fl_value_state *auction; /* the key's auction, until it expires */
    fl_value_state *best;    /* the best valid bid so far */
    fl_list_state *early;    /* bids that came before their auction */
    fl_row_builder *auction_row, *bid_row;
} win_state;

int nxq_win_open(fl_context *ctx) {
    win_state *st = calloc(1, sizeof *st);
    st->auction_schema = win_auction_schema();
    st->bid_schema = win_bid_schema();
    st->auction = fl_context_value_state(ctx, "auction", st->auction_schema, NULL);
    st->best = fl_context_value_state(ctx, "best", st->bid_schema, NULL);
    st->early = fl_context_list_state(ctx, "early", st->bid_schema, NULL);
    st->auction_row = fl_row_builder_create(st->auction_schema);
    st->bid_row = fl_row_builder_create(st->bid_schema);
    fl_context_set_user(ctx, st);
    return st->auction && st->best && st->early ? 0 : -1;
}

void nxq_win_close(fl_context *ctx) {
    win_state *st = fl_context_user(ctx);
    if (st == NULL) return;
    fl_row_builder_destroy(st->auction_row);
    fl_row_builder_destroy(st->bid_row);
    fl_schema_unref(st->auction_schema);
    fl_schema_unref(st->bid_schema);
    free(st);
}

/* Keeps bid (a row of bid_schema) when it falls inside the auction's life
 * and beats the best so far: a higher price, or the same price earlier. */
static int win_offer(win_state *st, const fl_row *auction, const fl_row *bid) {
    int64_t t = fl_row_get_timestamp(bid, WB_TIME);
    if (t < fl_row_get_timestamp(auction, WA_TIME) || t > fl_row_get_timestamp(auction, WA_EXPIRES))
        return 0;
    const fl_row *best = fl_value_state_get(st->best);
    if (best != NULL) {
        int64_t p = fl_row_get_bigint(bid, WB_PRICE), bp = fl_row_get_bigint(best, WB_PRICE);
        if (p < bp || (p == bp && t >= fl_row_get_timestamp(best, WB_TIME))) return 0;
    }
    return fl_value_state_update(st->best, bid);
}

int nxq_win_on_auction(fl_context *ctx, const fl_row *in, fl_collector *out) {
    (void)out;
    win_state *st = fl_context_user(ctx);
    fl_row_builder *b = st->auction_row;
    fl_row_builder_reset(b);
    for (int i = 0; i < WIN_AUCTION_FIELDS; i++)
        fl_row_builder_copy_field(b, i, in, win_auction_cols[i]);
    const fl_row *auction = fl_row_builder_finish(b);
    if (fl_value_state_update(st->auction, auction) < 0) return -1;
    fl_context_register_event_timer(ctx, fl_row_get_timestamp(auction, WA_EXPIRES));
    size_t n;
    const fl_row *const *early = fl_list_state_get(st->early, &n);
    for (size_t i = 0; i < n; i++)
        if (win_offer(st, auction, early[i]) < 0) return -1;
    if (n > 0) fl_list_state_clear(st->early);
    return 0;
}

int nxq_win_on_bid(fl_context *ctx, const fl_row *in, fl_collector *out) {
    (void)out;
    win_state *st = fl_context_user(ctx);
    fl_row_builder *b = st->bid_row;
    fl_row_builder_reset(b);
    fl_row_builder_copy_field(b, WB_BIDDER, in, NX_BIDDER);
    fl_row_builder_copy_field(b, WB_PRICE, in, NX_PRICE);
    fl_row_builder_copy_field(b, WB_TIME, in, NX_DATE_TIME);
    fl_row_builder_copy_field(b, WB_EXTRA, in, NX_EXTRA);
    const fl_row *bid = fl_row_builder_finish(b);
    const fl_row *auction = fl_value_state_get(st->auction);
    if (auction != NULL) return win_offer(st, auction, bid);
    /* Before its auction (ids run a little ahead), or after it closed: kept
     * until the watermark passes it, when the auction, if any, is there. */
    fl_context_register_event_timer(ctx, fl_row_get_timestamp(bid, WB_TIME) + 1);
    return fl_list_state_add(st->early, bid);
}

/* At an auction's expiry: its winner (q9's full row, or q4's (id, category,
 * price)), then the key's state is dropped. */
static int win_fire(fl_context *ctx, int64_t time, fl_collector *out, bool full) {
    win_state *st = fl_context_user(ctx);
    const fl_row *auction = fl_value_state_get(st->auction);
    if (auction == NULL) {
        fl_list_state_clear(st->early); /* bids of an auction that is gone or never came */
        return 0;
    }
    if (time != fl_row_get_timestamp(auction, WA_EXPIRES)) return 0;
    const fl_row *best = fl_value_state_get(st->best);
    int rc = 0;
    if (best != NULL) {
        fl_row_builder *b = fl_collector_builder(out);
        if (full) {
            for (int i = 0; i < WIN_AUCTION_FIELDS; i++)
                fl_row_builder_copy_field(b, i, auction, i);
            for (int i = 0; i < 4; i++)
                fl_row_builder_copy_field(b, WIN_AUCTION_FIELDS + i, best, i);
        } else {
            fl_row_builder_copy_field(b, 0, auction, WA_ID);
            fl_row_builder_copy_field(b, 1, auction, WA_CAT);
            fl_row_builder_copy_field(b, 2, best, WB_PRICE);
        }
        rc = fl_collector_emit(out);
    }
    fl_value_state_clear(st->auction);
    fl_value_state_clear(st->best);
    fl_list_state_clear(st->early);
    return rc;
}

int nxq_q9_fire(fl_context *ctx, int64_t time, fl_collector *out) {
    return win_fire(ctx, time, out, true);
}

int nxq_q4_fire(fl_context *ctx, int64_t time, fl_collector *out) {
    return win_fire(ctx, time, out, false);
}

static fl_stream *winning_bids(fl_env *env, const nexmark_config *cfg, fl_on_timer_fn fire,
                               const fl_schema *out) {
    fl_keyed_stream *auctions = fl_stream_key_by(nexmark_source(env, cfg, "auction"), "auction_id");
    fl_keyed_stream *bids = fl_stream_key_by(nexmark_source(env, cfg, "bid"), "auction");
    fl_stream *r = fl_connected_process(fl_keyed_connect(auctions, bids), nxq_win_on_auction,
                                        nxq_win_on_bid, fire, out);
    fl_stream_set_hooks(r, nxq_win_open, nxq_win_close);
    return fl_stream_name(r, "winning bids");
}

static fl_stream *q9(fl_env *env, const nexmark_config *cfg) {
    fl_schema *a = win_auction_schema(), *b = win_bid_schema();
    fl_field fields[WIN_AUCTION_FIELDS + 4];
    for (int i = 0; i < WIN_AUCTION_FIELDS; i++)
        fields[i] = (fl_field){fl_schema_field_name(a, i), fl_schema_field_type(a, i)};
    for (int i = 0; i < 4; i++)
        fields[WIN_AUCTION_FIELDS + i] =
            (fl_field){fl_schema_field_name(b, i), fl_schema_field_type(b, i)};
    fl_schema *s = fl_schema_create(fields, WIN_AUCTION_FIELDS + 4, NULL);
    fl_stream *r = winning_bids(env, cfg, nxq_q9_fire, s);
    fl_schema_unref(s);
    fl_schema_unref(a);
    fl_schema_unref(b);
    return r;
}

/* q4: the running average winning price per category. */
typedef struct q4_state {
    fl_schema *schema;
    fl_value_state *sum_count; /* (sum, count) of the category's winning prices */
    fl_row_builder *row;
} q4_state;

int nxq_q4_open(fl_context *ctx) {
    q4_state *st = calloc(1, sizeof *st);
    st->schema = fl_schema_of(2, "sum", FL_BIGINT, "count", FL_BIGINT);
    st->sum_count = fl_context_value_state(ctx, "sum_count", st->schema, NULL);
    st->row = fl_row_builder_create(st->schema);
    fl_context_set_user(ctx, st);
    return st->sum_count ? 0 : -1;
}

void nxq_q4_close(fl_context *ctx) {
    q4_state *st = fl_context_user(ctx);
    if (st == NULL) return;
    fl_row_builder_destroy(st->row);
    fl_schema_unref(st->schema);
    free(st);
}

int nxq_q4_average(fl_context *ctx, const fl_row *in, fl_collector *out) {
    q4_state *st = fl_context_user(ctx);
    const fl_row *acc = fl_value_state_get(st->sum_count);
    int64_t sum = acc ? fl_row_get_bigint(acc, 0) : 0, count = acc ? fl_row_get_bigint(acc, 1) : 0;
    sum += fl_row_get_bigint(in, 2);
    count++;
    fl_row_builder_reset(st->row);
    fl_row_builder_set_bigint(st->row, 0, sum);
    fl_row_builder_set_bigint(st->row, 1, count);
    if (fl_value_state_update(st->sum_count, fl_row_builder_finish(st->row)) < 0) return -1;
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_copy_field(b, 0, in, 1);
    fl_row_builder_set_double(b, 1, (double)sum / (double)count);
    return fl_collector_emit(out);
}

static fl_stream *q4(fl_env *env, const nexmark_config *cfg) {
    fl_schema *w = fl_schema_of(3, "id", FL_BIGINT, "category", FL_BIGINT, "final", FL_BIGINT);
    fl_stream *winners = winning_bids(env, cfg, nxq_q4_fire, w);
    fl_schema *s = fl_schema_of(2, "category", FL_BIGINT, "avg", FL_DOUBLE);
    fl_stream *r = fl_keyed_process(fl_stream_key_by(winners, "category"), nxq_q4_average, NULL, s);
    fl_stream_set_hooks(r, nxq_q4_open, nxq_q4_close);
    fl_stream_name(r, "q4 average");
    fl_schema_unref(w);
    fl_schema_unref(s);
    return r;
}

/* ---- q18: the last bid of every (bidder, auction) ------------------------------------------ */

typedef struct q18_state {
    fl_schema *schema;
    fl_value_state *last; /* (date_time) of the key's last bid */
    fl_row_builder *row;
} q18_state;

int nxq_q18_open(fl_context *ctx) {
    q18_state *st = calloc(1, sizeof *st);
    st->schema = fl_schema_of(1, "date_time", FL_TIMESTAMP);
    st->last = fl_context_value_state(ctx, "last", st->schema, NULL);
    st->row = fl_row_builder_create(st->schema);
    fl_context_set_user(ctx, st);
    return st->last ? 0 : -1;
}

void nxq_q18_close(fl_context *ctx) {
    q18_state *st = fl_context_user(ctx);
    if (st == NULL) return;
    fl_row_builder_destroy(st->row);
    fl_schema_unref(st->schema);
    free(st);
}

int nxq_q18_last(fl_context *ctx, const fl_row *in, fl_collector *out) {
    q18_state *st = fl_context_user(ctx);
    int64_t t = fl_row_get_timestamp(in, NX_DATE_TIME);
    const fl_row *last = fl_value_state_get(st->last);
    if (last != NULL && fl_row_get_timestamp(last, 0) > t) return 0;
    fl_row_builder_reset(st->row);
    fl_row_builder_set_timestamp(st->row, 0, t);
    if (fl_value_state_update(st->last, fl_row_builder_finish(st->row)) < 0) return -1;
    fl_row_builder *b = fl_collector_builder(out);
    set_bid(b, in);
    fl_row_builder_copy_field(b, 2, in, NX_PRICE);
    return fl_collector_emit(out);
}

static fl_stream *q18(fl_env *env, const nexmark_config *cfg) {
    fl_schema *s = bid_schema(FL_BIGINT);
    fl_stream *r = fl_keyed_process(
        fl_stream_key_by(nexmark_source(env, cfg, "bid"), "bidder,auction"), nxq_q18_last, NULL, s);
    fl_stream_set_hooks(r, nxq_q18_open, nxq_q18_close);
    fl_stream_name(r, "q18 last bid");
    fl_schema_unref(s);
    return r;
}

/* ---- q19: the 10 highest bids of every auction --------------------------------------------- */

typedef struct q19_state {
    fl_schema *schema;
    fl_list_state *top; /* (price, bidder, date_time), at most NX_Q19_TOP, unordered */
    fl_row_builder *row;
    char scratch[NX_Q19_TOP + 1][64]; /* copies of the rows while the list is rewritten */
} q19_state;

int nxq_q19_open(fl_context *ctx) {
    q19_state *st = calloc(1, sizeof *st);
    st->schema =
        fl_schema_of(3, "price", FL_BIGINT, "bidder", FL_BIGINT, "date_time", FL_TIMESTAMP);
    st->top = fl_context_list_state(ctx, "top", st->schema, NULL);
    st->row = fl_row_builder_create(st->schema);
    fl_context_set_user(ctx, st);
    return st->top ? 0 : -1;
}

void nxq_q19_close(fl_context *ctx) {
    q19_state *st = fl_context_user(ctx);
    if (st == NULL) return;
    fl_row_builder_destroy(st->row);
    fl_schema_unref(st->schema);
    free(st);
}

int nxq_q19_top(fl_context *ctx, const fl_row *in, fl_collector *out) {
    q19_state *st = fl_context_user(ctx);
    int64_t price = fl_row_get_bigint(in, NX_PRICE);
    size_t n;
    const fl_row *const *top = fl_list_state_get(st->top, &n);
    size_t lowest = 0, higher = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t p = fl_row_get_bigint(top[i], 0);
        if (p < fl_row_get_bigint(top[lowest], 0)) lowest = i;
        higher += p >= price;
    }
    if (n >= NX_Q19_TOP && price <= fl_row_get_bigint(top[lowest], 0)) return 0;
    fl_row_builder_reset(st->row);
    fl_row_builder_set_bigint(st->row, 0, price);
    fl_row_builder_copy_field(st->row, 1, in, NX_BIDDER);
    fl_row_builder_copy_field(st->row, 2, in, NX_DATE_TIME);
    const fl_row *entry = fl_row_builder_finish(st->row);
    int rc;
    if (n < NX_Q19_TOP) {
        rc = fl_list_state_add(st->top, entry);
    } else {
        /* Replace the lowest: the rows are copied out first, as the state's
         * own rows are invalid once it changes. */
        const fl_row *rows[NX_Q19_TOP];
        for (size_t i = 0; i < n; i++) {
            const fl_row *src = i == lowest ? entry : top[i];
            memcpy(st->scratch[i], src, fl_row_size(src));
            rows[i] = (const fl_row *)st->scratch[i];
        }
        rc = fl_list_state_update(st->top, rows, n);
    }
    if (rc < 0) return -1;
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_copy_field(b, 0, in, NX_AUCTION);
    fl_row_builder_copy_field(b, 1, in, NX_BIDDER);
    fl_row_builder_set_bigint(b, 2, price);
    fl_row_builder_copy_field(b, 3, in, NX_DATE_TIME);
    fl_row_builder_set_bigint(b, 4, (int64_t)higher + 1);
    return fl_collector_emit(out);
}

static fl_stream *q19(fl_env *env, const nexmark_config *cfg) {
    fl_schema *s = fl_schema_of(5, "auction", FL_BIGINT, "bidder", FL_BIGINT, "price", FL_BIGINT,
                                "date_time", FL_TIMESTAMP, "rank_number", FL_BIGINT);
    fl_stream *r = fl_keyed_process(fl_stream_key_by(nexmark_source(env, cfg, "bid"), "auction"),
                                    nxq_q19_top, NULL, s);
    fl_stream_set_hooks(r, nxq_q19_open, nxq_q19_close);
    fl_stream_name(r, "q19 top bids");
    fl_schema_unref(s);
    return r;
}

/* ---- window counts (q5, q11, q12): one BIGINT accumulator per key and window ---------------- */

int nxq_count_create(fl_context *ctx, fl_row_builder *acc) {
    (void)ctx;
    fl_row_builder_set_bigint(acc, 0, 0);
    return 0;
}

int nxq_count_add(fl_context *ctx, const fl_row *in, const fl_row *acc, fl_row_builder *out) {
    (void)ctx;
    (void)in;
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0) + 1);
    return 0;
}

int nxq_count_result(fl_context *ctx, const fl_row *acc, fl_row_builder *out) {
    (void)ctx;
    fl_row_builder_copy_field(out, 0, acc, 0);
    return 0;
}

int nxq_count_merge(fl_context *ctx, const fl_row *a, const fl_row *b, fl_row_builder *out) {
    (void)ctx;
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(a, 0) + fl_row_get_bigint(b, 0));
    return 0;
}

/* (key, count, window start, window end) from the window's one count. */
int nxq_count_window(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                     fl_collector *out) {
    if (n == 0) return 0;
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_copy_field(b, 0, fl_context_current_key(ctx), 0);
    fl_row_builder_copy_field(b, 1, rows[0], 0);
    fl_row_builder_set_timestamp(b, 2, w->start);
    fl_row_builder_set_timestamp(b, 3, w->end);
    return fl_collector_emit(out);
}

static fl_stream *counts(fl_keyed_stream *k, fl_window_assigner assigner, const char *key_name) {
    fl_schema *acc = fl_schema_of(1, "count", FL_BIGINT);
    fl_aggregate_function agg = {
        acc, acc, nxq_count_create, nxq_count_add, nxq_count_result, nxq_count_merge};
    fl_schema *s = fl_schema_of(4, key_name, FL_BIGINT, "count", FL_BIGINT, "window_start",
                                FL_TIMESTAMP, "window_end", FL_TIMESTAMP);
    fl_stream *r =
        fl_window_aggregate_process(fl_keyed_window(k, assigner), &agg, nxq_count_window, s);
    fl_schema_unref(acc);
    fl_schema_unref(s);
    return r;
}

/* ---- q5: hot items -------------------------------------------------------------------------- */

/* All counts of one sliding window (keyed by its end): the auctions with
 * the most bids. */
int nxq_q5_hottest(fl_context *ctx, const fl_window *w, const fl_row *const *rows, size_t n,
                   fl_collector *out) {
    (void)ctx;
    (void)w;
    int64_t most = 0;
    for (size_t i = 0; i < n; i++)
        if (fl_row_get_bigint(rows[i], 1) > most) most = fl_row_get_bigint(rows[i], 1);
    for (size_t i = 0; i < n; i++) {
        if (fl_row_get_bigint(rows[i], 1) != most) continue;
        fl_row_builder *b = fl_collector_builder(out);
        fl_row_builder_copy_field(b, 0, rows[i], 0);
        fl_row_builder_copy_field(b, 1, rows[i], 1);
        fl_row_builder_copy_field(b, 2, rows[i], 3);
        if (fl_collector_emit(out) < 0) return -1;
    }
    return 0;
}

static fl_stream *q5(fl_env *env, const nexmark_config *cfg) {
    fl_stream *c =
        counts(fl_stream_key_by(nexmark_source(env, cfg, "bid"), "auction"),
               fl_sliding_event_time_windows(NX_WINDOW_MS, NX_Q5_SLIDE_MS, 0), "auction");
    fl_stream_name(c, "q5 counts");
    /* A window's counts carry the timestamp end - 1: the tumbling windows of
     * the slide hold exactly the counts of one sliding window. */
    fl_schema *s =
        fl_schema_of(3, "auction", FL_BIGINT, "num", FL_BIGINT, "window_end", FL_TIMESTAMP);
    fl_stream *r =
        fl_window_process(fl_keyed_window(fl_stream_key_by(c, "window_end"),
                                          fl_tumbling_event_time_windows(NX_Q5_SLIDE_MS, 0)),
                          nxq_q5_hottest, s);
    fl_stream_name(r, "q5 hottest");
    fl_schema_unref(s);
    return r;
}

/* ---- q7: highest bid per window ---------------------------------------------------------- */

typedef struct q7_state {
    fl_schema *schema;
    fl_list_state *best; /* the window's bids at its highest price */
    fl_row_builder *row;
} q7_state;

int nxq_q7_open(fl_context *ctx) {
    q7_state *st = calloc(1, sizeof *st);
    st->schema = bid_schema(FL_BIGINT);
    st->best = fl_context_list_state(ctx, "best", st->schema, NULL);
    st->row = fl_row_builder_create(st->schema);
    fl_context_set_user(ctx, st);
    return st->best ? 0 : -1;
}

void nxq_q7_close(fl_context *ctx) {
    q7_state *st = fl_context_user(ctx);
    if (st == NULL) return;
    fl_row_builder_destroy(st->row);
    fl_schema_unref(st->schema);
    free(st);
}

static int64_t window_start(int64_t t) {
    int64_t r = t % NX_WINDOW_MS;
    return t - (r < 0 ? r + NX_WINDOW_MS : r);
}

int nxq_q7_window_key(fl_context *ctx, const fl_row *in, fl_row_builder *key) {
    (void)ctx;
    fl_row_builder_set_timestamp(key, 0, window_start(fl_row_get_timestamp(in, NX_DATE_TIME)));
    return 0;
}

int nxq_q7_bid(fl_context *ctx, const fl_row *in, fl_collector *out) {
    (void)out;
    q7_state *st = fl_context_user(ctx);
    int64_t price = fl_row_get_bigint(in, NX_PRICE);
    size_t n;
    const fl_row *const *best = fl_list_state_get(st->best, &n);
    int64_t top = n > 0 ? fl_row_get_bigint(best[0], 2) : -1;
    if (price < top) return 0;
    fl_row_builder_reset(st->row);
    set_bid(st->row, in);
    fl_row_builder_set_bigint(st->row, 2, price);
    const fl_row *bid = fl_row_builder_finish(st->row);
    if (price > top) {
        if (n == 0)
            fl_context_register_event_timer(
                ctx, fl_row_get_timestamp(fl_context_current_key(ctx), 0) + NX_WINDOW_MS - 1);
        return fl_list_state_update(st->best, &bid, 1);
    }
    return fl_list_state_add(st->best, bid);
}

int nxq_q7_fire(fl_context *ctx, int64_t time, fl_collector *out) {
    (void)time;
    q7_state *st = fl_context_user(ctx);
    size_t n;
    const fl_row *const *best = fl_list_state_get(st->best, &n);
    for (size_t i = 0; i < n; i++)
        if (fl_collector_emit_row(out, best[i]) < 0) return -1;
    fl_list_state_clear(st->best);
    return 0;
}

static fl_stream *q7(fl_env *env, const nexmark_config *cfg) {
    fl_schema *key = fl_schema_of(1, "window_start", FL_TIMESTAMP);
    fl_schema *s = bid_schema(FL_BIGINT);
    fl_stream *r = fl_keyed_process(
        fl_stream_key_by_fn(nexmark_source(env, cfg, "bid"), nxq_q7_window_key, key), nxq_q7_bid,
        nxq_q7_fire, s);
    fl_stream_set_hooks(r, nxq_q7_open, nxq_q7_close);
    fl_stream_name(r, "q7 highest bid");
    fl_schema_unref(key);
    fl_schema_unref(s);
    return r;
}

/* ---- q8: new users who opened an auction in the same window ------------------------------- */

int nxq_q8_match(fl_context *ctx, const fl_row *const *persons, size_t n_persons,
                 const fl_row *const *auctions, size_t n_auctions, fl_collector *out) {
    (void)ctx;
    if (n_auctions == 0) return 0;
    for (size_t i = 0; i < n_persons; i++) {
        fl_row_builder *b = fl_collector_builder(out);
        fl_row_builder_copy_field(b, 0, persons[i], NX_PERSON_ID);
        fl_row_builder_copy_field(b, 1, persons[i], NX_NAME);
        fl_row_builder_set_timestamp(b, 2,
                                     window_start(fl_row_get_timestamp(persons[i], NX_DATE_TIME)));
        if (fl_collector_emit(out) < 0) return -1;
    }
    return 0;
}

static fl_stream *q8(fl_env *env, const nexmark_config *cfg) {
    fl_schema *s = fl_schema_of(3, "id", FL_BIGINT, "name", FL_STRING, "starttime", FL_TIMESTAMP);
    fl_stream *r = fl_window_co_group(
        nexmark_source(env, cfg, "person"), "person_id", nexmark_source(env, cfg, "auction"),
        "seller", fl_tumbling_event_time_windows(NX_WINDOW_MS, 0), nxq_q8_match, s);
    fl_stream_name(r, "q8 window join");
    fl_schema_unref(s);
    return r;
}

/* ---- q11: user sessions, q12: processing-time windows ------------------------------------ */

static fl_stream *q11(fl_env *env, const nexmark_config *cfg) {
    fl_stream *r = counts(fl_stream_key_by(nexmark_source(env, cfg, "bid"), "bidder"),
                          fl_event_time_session_windows(NX_WINDOW_MS), "bidder");
    return fl_stream_name(r, "q11 sessions");
}

static fl_stream *q12(fl_env *env, const nexmark_config *cfg) {
    fl_stream *r = counts(fl_stream_key_by(nexmark_source(env, cfg, "bid"), "bidder"),
                          fl_tumbling_processing_time_windows(NX_WINDOW_MS, 0), "bidder");
    return fl_stream_name(r, "q12 processing-time windows");
}

/* ---- the table ------------------------------------------------------------------------------ */

const nexmark_query nexmark_queries[] = {
    {"q0", q0, 155e3},  {"q1", q1, 158e3},  {"q2", q2, 175e3},  {"q3", q3, 152e3},
    {"q4", q4, 34e3},   {"q5", q5, 22e3},   {"q7", q7, 12e3},   {"q8", q8, 146e3},
    {"q9", q9, 14e3},   {"q11", q11, 40e3}, {"q12", q12, 76e3}, {"q14", q14, 161e3},
    {"q18", q18, 54e3}, {"q19", q19, 44e3}, {NULL, NULL, 0},
};

const nexmark_query *nexmark_query_find(const char *name) {
    for (const nexmark_query *q = nexmark_queries; q->name != NULL; q++)
        if (strcmp(q->name, name) == 0) return q;
    return NULL;
}
