/*
 * source_nexmark.c - the "nexmark" source: the online-auction event stream of
 * the Nexmark benchmark (people, auctions, bids), generated in the process
 * for the queries in bench/nexmark/.
 *
 * Output: ONE row type, like Nexmark's single event stream. event_type says
 * which kind of event a row is (0 person, 1 auction, 2 bid); date_time is the
 * event time of every kind and extra the padding of every kind; the other
 * fields belong to one kind and are null in rows of the other kinds. The
 * option event-types keeps only some kinds (e.g. "bid"), which gives the
 * queries typed streams without a filter operator: the skipped events are
 * still counted (ids and times do not change) but never built.
 *
 * Every event has a global event number n (0, 1, 2, ...) and is a pure
 * function of (seed, n, rate, base time): its random generator is seeded
 * from the seed and n alone. Out of each 50 consecutive numbers the first is
 * a person, the next 3 auctions and the other 46 bids. Ids follow the event
 * number (the person of event n has id 1000 + the number of people before
 * it, and the same for auctions), and references to people and auctions are
 * drawn from recent ones, with hot sellers, bidders and auctions, as the
 * published Nexmark generator does. Event time is base-time + n * 1e6 / rate
 * microseconds (truncated to milliseconds), so with P generators each one
 * advances by 1e6 / rate * P microseconds per event it emits.
 *
 * Parallel generators take blocks of 50 events round-robin: generator i of
 * p emits the blocks i, i + p, i + 2p, ... so every generator sees the exact
 * proportions and all advance event time at the same pace. A split is such
 * a strided run of blocks and the next event number in it; a checkpoint
 * records the splits, and a restore resumes them exactly (rows depend on the
 * event number only, so restored and rescaled runs emit the events of an
 * uninterrupted one).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors_int.h"
#include "mem.h"

#define NAME          "nexmark"
#define SPLIT_TAG     "FLnx"
#define SPLIT_VERSION 1

/* The published generator's constants. */
#define PERSON_PROPORTION  1
#define AUCTION_PROPORTION 3
#define BID_PROPORTION     46
#define TOTAL_PROPORTION   (PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION)
#define FIRST_ID           1000
#define ACTIVE_PEOPLE      1000
#define IN_FLIGHT_AUCTIONS 100
#define ID_LEAD            10
#define HOT_RATIO          100 /* one hot auction / person per block of this many */
#define FIRST_CATEGORY     10
#define NUM_CATEGORIES     5
#define AVG_PERSON_BYTES   200
#define AVG_AUCTION_BYTES  500
#define AVG_BID_BYTES      100
#define MAX_EXTRA          1024
/* The events over which IN_FLIGHT_AUCTIONS auctions are created: the span of
 * an auction's life. */
#define AUCTION_SPAN_EVENTS (IN_FLIGHT_AUCTIONS * TOTAL_PROPORTION / AUCTION_PROPORTION)

enum { EV_PERSON = 0, EV_AUCTION = 1, EV_BID = 2 };

enum {
    F_EVENT_TYPE,
    F_DATE_TIME,
    F_PERSON_ID,
    F_NAME,
    F_EMAIL,
    F_CREDIT_CARD,
    F_CITY,
    F_STATE,
    F_AUCTION_ID,
    F_ITEM_NAME,
    F_DESCRIPTION,
    F_INITIAL_BID,
    F_RESERVE,
    F_EXPIRES,
    F_SELLER,
    F_CATEGORY,
    F_AUCTION,
    F_BIDDER,
    F_PRICE,
    F_CHANNEL,
    F_URL,
    F_EXTRA,
    N_FIELDS
};

static const fl_field schema_fields[N_FIELDS] = {
    {"event_type", FL_INT},   {"date_time", FL_TIMESTAMP},  {"person_id", FL_BIGINT},
    {"name", FL_STRING},      {"email_address", FL_STRING}, {"credit_card", FL_STRING},
    {"city", FL_STRING},      {"state", FL_STRING},         {"auction_id", FL_BIGINT},
    {"item_name", FL_STRING}, {"description", FL_STRING},   {"initial_bid", FL_BIGINT},
    {"reserve", FL_BIGINT},   {"expires", FL_TIMESTAMP},    {"seller", FL_BIGINT},
    {"category", FL_BIGINT},  {"auction", FL_BIGINT},       {"bidder", FL_BIGINT},
    {"price", FL_BIGINT},     {"channel", FL_STRING},       {"url", FL_STRING},
    {"extra", FL_STRING},
};

static const fl_option_def options[] = {
    {"events", "0", false, "events over all generators; 0 = unbounded"},
    {"rate", "10000", false,
     "events per second of event time over all generators (spaces the timestamps only; "
     "events are emitted as fast as the job takes them)"},
    {"seed", "0", false, "seed of the generators (mixed with each event's number)"},
    {"base-time", "1704067200000", false, "event time of event 0, epoch milliseconds"},
    {"event-types", "person,auction,bid", false,
     "the kinds of events emitted, comma-separated (the others are skipped)"},
    {NULL, NULL, false, NULL},
};

static const char *const first_names[] = {"Peter", "Paul", "Luke",  "John",  "Saul",
                                          "Vicky", "Kate", "Julie", "Sarah", "Deiter"};
static const char *const last_names[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith",  "Jones",   "Noris", "Kramer"};
static const char *const states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const cities[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                     "Portland", "Bend",        "Redmond",       "Seattle",
                                     "Kent",     "Cheyenne"};
static const char *const channels[] = {"Google", "Facebook", "Baidu", "Apple"};
#define NUM_CHANNEL_IDS 10000

typedef struct nexmark_spec {
    uint64_t total; /* events over all generators; UINT64_MAX when unbounded */
    bool bounded;
    int64_t rate;
    uint64_t seed;
    int64_t base_ms;
    unsigned types; /* bit per EV_* kind */
} nexmark_spec;

/* A strided run of blocks: next is the next event number, in block
 * next / 50, which is congruent to the run's generator modulo stride. */
typedef struct nexmark_split {
    uint64_t stride, next, end;
} nexmark_split;

typedef struct nexmark_state {
    nexmark_spec spec;
    uint64_t seed_key;
    uint64_t rng[4];
    nexmark_split *splits; /* unfinished ones */
    size_t n_splits, cur;
    char text[MAX_EXTRA + 256]; /* strings are built here */
} nexmark_state;

/* ---- random numbers (xoshiro256**, seeded per event) ------------------------------------ */

static void rng_seed_event(uint64_t rng[4], uint64_t seed_key, uint64_t event) {
    uint64_t x = seed_key ^ (event * UINT64_C(0xD6E8FEB86659FD93));
    for (int i = 0; i < 4; i++) rng[i] = fl__splitmix64(&x);
}

/* Uniform in [0, n) (n > 0); the bias of the multiply-shift is below 2^-32
 * for the small n used here. */
static uint64_t rng_below(uint64_t s[4], uint64_t n) {
    return (uint64_t)(((unsigned __int128)fl__rng_next(s) * n) >> 64);
}

/* Lower-case letters, digits and a space, 12 characters per draw. */
static uint32_t random_text(uint64_t s[4], char *out, uint32_t len) {
    static const char alphabet[32] = "abcdefghijklmnopqrstuvwxyz 01234";
    uint32_t i = 0;
    while (i < len) {
        uint64_t r = fl__rng_next(s);
        for (int k = 0; k < 12 && i < len; k++, i++, r >>= 5) out[i] = alphabet[r & 31];
    }
    return len;
}

/* Log-uniform between 100 and 100,000,000 cents. */
static int64_t random_price(uint64_t s[4]) {
    /* 10^(6u) as e^(6u ln 10): exp is cheaper than pow. */
    return (int64_t)llround(exp(fl__rng_unit(s) * 13.815510557964274) * 100.0);
}

/* Writes v in decimal at out; returns the number of digits. */
static int put_uint(char *out, unsigned v) {
    char digits[16];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (int i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

static int put_str(char *out, const char *s) {
    size_t n = strlen(s);
    memcpy(out, s, n);
    return (int)n;
}

/* ---- ids and times ------------------------------------------------------------------------ */

/* Base-0 id of the last person created at or before event n. */
static int64_t last_person(uint64_t n) {
    return (int64_t)(n / TOTAL_PROPORTION) * PERSON_PROPORTION;
}

/* Base-0 id of the last auction created at or before event n (-1 before any). */
static int64_t last_auction(uint64_t n) {
    int64_t epoch = (int64_t)(n / TOTAL_PROPORTION);
    int64_t offset = (int64_t)(n % TOTAL_PROPORTION);
    if (offset < PERSON_PROPORTION) {
        epoch--;
        offset = AUCTION_PROPORTION - 1;
    } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
        offset = AUCTION_PROPORTION - 1;
    } else {
        offset -= PERSON_PROPORTION;
    }
    return epoch * AUCTION_PROPORTION + offset;
}

/* A person among the ~1000 most recent (and a few not created yet). */
static int64_t recent_person(uint64_t s[4], uint64_t n) {
    int64_t people = last_person(n) + 1;
    int64_t active = people < ACTIVE_PEOPLE ? people : ACTIVE_PEOPLE;
    return people - active + (int64_t)rng_below(s, (uint64_t)(active + ID_LEAD));
}

/* An auction among the ~100 in flight (and a few not created yet). */
static int64_t recent_auction(uint64_t s[4], uint64_t n) {
    int64_t last = last_auction(n);
    int64_t first = last - IN_FLIGHT_AUCTIONS > 0 ? last - IN_FLIGHT_AUCTIONS : 0;
    return first + (int64_t)rng_below(s, (uint64_t)(last - first + 1 + ID_LEAD));
}

/* Event time of event n in microseconds after the base time. */
static int64_t event_us(const nexmark_spec *spec, uint64_t n) {
    return (int64_t)((unsigned __int128)n * 1000000u / (uint64_t)spec->rate);
}

/* Padding that brings an event of `size` bytes towards `average` (+-20%). */
static uint32_t extra_length(uint64_t s[4], uint32_t size, uint32_t average) {
    if (size >= average) return 0;
    uint32_t want = average - size;
    uint32_t delta = (want + 2) / 5;
    return want - delta + (uint32_t)rng_below(s, 2 * (uint64_t)delta + 1);
}

/* ---- building events ---------------------------------------------------------------------- */

static void build_person(nexmark_state *st, fl_row_builder *b, uint64_t n) {
    uint64_t *s = st->rng;
    char *t = st->text;
    uint32_t size = 16;
    fl_row_builder_set_bigint(b, F_PERSON_ID, FIRST_ID + last_person(n));
    int len = snprintf(t, 64, "%s %s", first_names[rng_below(s, 10)], last_names[rng_below(s, 10)]);
    fl_row_builder_set_string(b, F_NAME, t, (uint32_t)len);
    size += (uint32_t)len;
    uint32_t user = 5 + (uint32_t)rng_below(s, 6);
    random_text(s, t, user);
    t[user] = '@';
    random_text(s, t + user + 1, 5);
    memcpy(t + user + 6, ".com", 4);
    for (uint32_t i = 0; i < user + 10; i++)
        if (t[i] == ' ') t[i] = '_';
    fl_row_builder_set_string(b, F_EMAIL, t, user + 10);
    size += user + 10;
    len = snprintf(t, 64, "%04u %04u %04u %04u", (unsigned)rng_below(s, 10000),
                   (unsigned)rng_below(s, 10000), (unsigned)rng_below(s, 10000),
                   (unsigned)rng_below(s, 10000));
    fl_row_builder_set_string(b, F_CREDIT_CARD, t, (uint32_t)len);
    size += (uint32_t)len;
    const char *city = cities[rng_below(s, 10)];
    const char *state = states[rng_below(s, 6)];
    fl_row_builder_set_cstring(b, F_CITY, city);
    fl_row_builder_set_cstring(b, F_STATE, state);
    size += (uint32_t)(strlen(city) + strlen(state));
    uint32_t extra = extra_length(s, size, AVG_PERSON_BYTES);
    fl_row_builder_set_string(b, F_EXTRA, t, random_text(s, t, extra));
}

static void build_auction(nexmark_state *st, fl_row_builder *b, uint64_t n, int64_t now_us) {
    uint64_t *s = st->rng;
    char *t = st->text;
    uint32_t size = 48;
    fl_row_builder_set_bigint(b, F_AUCTION_ID, FIRST_ID + last_auction(n));
    uint32_t len = 10 + (uint32_t)rng_below(s, 11);
    fl_row_builder_set_string(b, F_ITEM_NAME, t, random_text(s, t, len));
    size += len;
    len = 60 + (uint32_t)rng_below(s, 81);
    fl_row_builder_set_string(b, F_DESCRIPTION, t, random_text(s, t, len));
    size += len;
    int64_t initial = random_price(s);
    fl_row_builder_set_bigint(b, F_INITIAL_BID, initial);
    fl_row_builder_set_bigint(b, F_RESERVE, initial + random_price(s));
    /* Lives 1..2 times the event time over which the auctions in flight
     * are created. */
    int64_t span_us = event_us(&st->spec, n + AUCTION_SPAN_EVENTS) - now_us;
    int64_t life_us = span_us + (int64_t)rng_below(s, (uint64_t)span_us + 1);
    if (life_us < 1000) life_us = 1000;
    fl_row_builder_set_timestamp(b, F_EXPIRES, st->spec.base_ms + (now_us + life_us) / 1000);
    int64_t seller =
        rng_below(s, 4) > 0 ? last_person(n) / HOT_RATIO * HOT_RATIO : recent_person(s, n);
    fl_row_builder_set_bigint(b, F_SELLER, FIRST_ID + seller);
    fl_row_builder_set_bigint(b, F_CATEGORY,
                              FIRST_CATEGORY + (int64_t)rng_below(s, NUM_CATEGORIES));
    uint32_t extra = extra_length(s, size, AVG_AUCTION_BYTES);
    fl_row_builder_set_string(b, F_EXTRA, t, random_text(s, t, extra));
}

static void build_bid(nexmark_state *st, fl_row_builder *b, uint64_t n) {
    uint64_t *s = st->rng;
    char *t = st->text;
    uint32_t size = 32;
    int64_t auction =
        rng_below(s, 2) > 0 ? last_auction(n) / HOT_RATIO * HOT_RATIO : recent_auction(s, n);
    int64_t bidder =
        rng_below(s, 4) > 0 ? last_person(n) / HOT_RATIO * HOT_RATIO + 1 : recent_person(s, n);
    fl_row_builder_set_bigint(b, F_AUCTION, FIRST_ID + auction);
    fl_row_builder_set_bigint(b, F_BIDDER, FIRST_ID + bidder);
    fl_row_builder_set_bigint(b, F_PRICE, random_price(s));
    int len;
    if (rng_below(s, 2) == 0) {
        const char *channel = channels[rng_below(s, 4)];
        fl_row_builder_set_cstring(b, F_CHANNEL, channel);
        len = put_str(t, "https://www.nexmark.com/");
        len += put_str(t + len, channel);
        len += put_str(t + len, "/item.htm?query=1");
        size += (uint32_t)strlen(channel);
    } else {
        unsigned id = (unsigned)rng_below(s, NUM_CHANNEL_IDS);
        len = put_str(t, "channel-");
        len += put_uint(t + len, id);
        fl_row_builder_set_string(b, F_CHANNEL, t, (uint32_t)len);
        size += (uint32_t)len;
        len = put_str(t, "https://www.nexmark.com/");
        for (int part = 0; part < 3; part++) {
            random_text(s, t + len, 5);
            for (int i = 0; i < 5; i++)
                if (t[len + i] == ' ') t[len + i] = '_';
            len += 5;
            t[len++] = '/';
        }
        len += put_str(t + len, "item.htm?query=1");
        /* Nine in ten of them name the channel in the url too. */
        if (rng_below(s, 10) > 0) {
            len += put_str(t + len, "&channel_id=");
            len += put_uint(t + len, id);
        }
    }
    fl_row_builder_set_string(b, F_URL, t, (uint32_t)len);
    size += (uint32_t)len;
    uint32_t extra = extra_length(s, size, AVG_BID_BYTES);
    fl_row_builder_set_string(b, F_EXTRA, t, random_text(s, t, extra));
}

static int event_type_of(uint64_t n) {
    uint64_t offset = n % TOTAL_PROPORTION;
    if (offset < PERSON_PROPORTION) return EV_PERSON;
    if (offset < PERSON_PROPORTION + AUCTION_PROPORTION) return EV_AUCTION;
    return EV_BID;
}

/* Builds event n into b (reset); returns its event time in milliseconds. */
static int64_t build_event(nexmark_state *st, fl_row_builder *b, uint64_t n, int type) {
    rng_seed_event(st->rng, st->seed_key, n);
    int64_t now_us = event_us(&st->spec, n);
    int64_t ms = st->spec.base_ms + now_us / 1000;
    fl_row_builder_set_int(b, F_EVENT_TYPE, type);
    fl_row_builder_set_timestamp(b, F_DATE_TIME, ms);
    if (type == EV_PERSON)
        build_person(st, b, n);
    else if (type == EV_AUCTION)
        build_auction(st, b, n, now_us);
    else
        build_bid(st, b, n);
    return ms;
}

/* ---- options ------------------------------------------------------------------------------ */

static int parse_types(const char *list, unsigned *out, fl_error *err) {
    *out = 0;
    const char *p = list;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        if (len == 6 && strncmp(p, "person", 6) == 0)
            *out |= 1u << EV_PERSON;
        else if (len == 7 && strncmp(p, "auction", 7) == 0)
            *out |= 1u << EV_AUCTION;
        else if (len == 3 && strncmp(p, "bid", 3) == 0)
            *out |= 1u << EV_BID;
        else
            return fl_error_set(err, FL_ECONFIG,
                                "connector \"" NAME "\": option event-types: unknown event type "
                                "\"%.*s\" (known: person, auction, bid)",
                                (int)len, p);
        p += len;
        if (*p == ',') p++;
    }
    if (*out == 0)
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"" NAME "\": option event-types names no event type");
    return 0;
}

static int parse_spec(const fl_options *o, nexmark_spec *spec, fl_error *err) {
    memset(spec, 0, sizeof *spec);
    int64_t events, rate, seed, base;
    int rc = fl__conn_get_int_range(o, NAME, "events", 0, 0, INT64_MAX, &events, err);
    if (rc == 0)
        rc = fl__conn_get_int_range(o, NAME, "rate", 10000, 1, INT64_C(1000000000000), &rate, err);
    if (rc == 0) rc = fl_options_get_int64(o, "seed", 0, &seed, err);
    if (rc == 0) rc = fl_options_get_int64(o, "base-time", 0, &base, err);
    if (rc == 0) {
        const char *types = fl_options_get(o, "event-types");
        rc = parse_types(types != NULL ? types : "person,auction,bid", &spec->types, err);
    }
    if (rc < 0) return rc;
    spec->bounded = events > 0;
    spec->total = events > 0 ? (uint64_t)events : UINT64_MAX;
    spec->rate = rate;
    spec->seed = (uint64_t)seed;
    spec->base_ms = base;
    return 0;
}

static fl_schema *nexmark_schema(const fl_options *o, const fl_schema *declared, fl_error *err) {
    nexmark_spec spec;
    if (parse_spec(o, &spec, err) < 0) return NULL;
    fl_schema *own = fl_schema_create(schema_fields, N_FIELDS, err);
    if (own == NULL) return NULL;
    fl_schema *s = fl__conn_fixed_schema(NAME, own, declared, err);
    fl_schema_unref(own);
    return s;
}

static bool nexmark_bounded(const fl_options *o) {
    int64_t events = 0;
    return fl_options_get_int64(o, "events", 0, &events, NULL) == 0 && events > 0;
}

/* ---- running ------------------------------------------------------------------------------ */

static int nexmark_open(fl_source_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    nexmark_state *st = fl_xcalloc(1, sizeof *st);
    int rc = parse_spec(o, &st->spec, err);
    if (rc < 0) {
        free(st);
        return rc;
    }
    uint64_t x = st->spec.seed;
    st->seed_key = fl__splitmix64(&x);
    uint64_t index = (uint64_t)fl_source_subtask_index(ctx);
    uint64_t p = (uint64_t)fl_source_parallelism(ctx);
    st->splits = fl_xmalloc(sizeof *st->splits);
    uint64_t first = index * TOTAL_PROPORTION;
    if (first < st->spec.total) {
        st->splits[0] = (nexmark_split){p, first, st->spec.total};
        st->n_splits = 1;
    }
    *state = st;
    return 0;
}

/* Moves past event n of split sp; false when the split is finished. */
static bool advance(nexmark_split *sp) {
    uint64_t n = sp->next + 1;
    if (n % TOTAL_PROPORTION == 0) {
        uint64_t skip = (sp->stride - 1) * TOTAL_PROPORTION;
        n = n > UINT64_MAX - skip ? UINT64_MAX : n + skip;
    }
    sp->next = n;
    return n < sp->end;
}

static int nexmark_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    (void)err;
    nexmark_state *st = state;
    if (st->n_splits == 0) return FL_SOURCE_END;
    /* One batch from the current split, then the next split's turn, so that
     * the splits of an unbounded source all advance. */
    nexmark_split *sp = &st->splits[st->cur];
    bool finished = false;
    int emitted = 0;
    for (int looked = 0;
         looked < 4 * FL__CONN_BATCH_ROWS && emitted < FL__CONN_BATCH_ROWS && !finished; looked++) {
        uint64_t n = sp->next;
        int type = event_type_of(n);
        if (st->spec.types & (1u << type)) {
            fl_row_builder *b = fl_source_builder(ctx);
            int64_t ts = build_event(st, b, n, type);
            int rc = fl_source_emit(ctx, ts);
            if (rc < 0) return rc;
            emitted++;
        }
        finished = !advance(sp);
    }
    fl__split_next_turn(st->splits, sizeof *st->splits, &st->n_splits, &st->cur, finished);
    return st->n_splits > 0 ? FL_SOURCE_MORE : FL_SOURCE_END;
}

static int nexmark_snapshot(void *state, fl_split_list *out, fl_error *err) {
    (void)err;
    nexmark_state *st = state;
    for (size_t i = 0; i < st->n_splits; i++) {
        const nexmark_split *sp = &st->splits[i];
        uint64_t fields[] = {sp->stride, sp->next, sp->end};
        fl__blob_add_u64s(out, SPLIT_TAG, SPLIT_VERSION, fields, 3);
    }
    return 0;
}

static int nexmark_restore(void *state, const fl_split *splits, size_t n, fl_error *err) {
    nexmark_state *st = state;
    nexmark_split *restored = fl_xmalloc((n ? n : 1) * sizeof *restored);
    for (size_t i = 0; i < n; i++) {
        uint64_t fields[3];
        bool ok = fl__blob_read_u64s(splits[i], SPLIT_TAG, SPLIT_VERSION, fields, 3);
        nexmark_split *sp = &restored[i];
        *sp = (nexmark_split){fields[0], fields[1], fields[2]};
        if (!ok || sp->stride == 0 || sp->next >= sp->end) {
            free(restored);
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": split %zu is not a nexmark split", i);
        }
        if (sp->end != st->spec.total) {
            uint64_t end = sp->end;
            free(restored);
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": split %zu ends at event %" PRIu64
                                ", not at the %s; were the options changed?",
                                i, end,
                                st->spec.bounded ? "configured number of events"
                                                 : "end of an unbounded stream");
        }
    }
    free(st->splits);
    st->splits = restored;
    st->n_splits = n;
    st->cur = 0;
    return 0;
}

static void nexmark_close(void *state) {
    nexmark_state *st = state;
    if (st == NULL) return;
    free(st->splits);
    free(st);
}

const fl_source_connector fl__source_nexmark = {
    .name = NAME,
    .description = "The Nexmark benchmark's auction events (persons, auctions, bids) in one "
                   "row type, reproducible for a seed; bounded with events.",
    .options = options,
    .parallel = true,
    .schema = nexmark_schema,
    .bounded = nexmark_bounded,
    .open = nexmark_open,
    .read = nexmark_read,
    .close = nexmark_close,
    .snapshot = nexmark_snapshot,
    .restore = nexmark_restore,
};
