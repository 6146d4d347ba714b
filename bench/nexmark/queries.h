/*
 * queries.h - the Nexmark queries as DataStream jobs on flinc (see
 * docs/nexmark.md): the source of the auction events with its watermarks,
 * the columns of its one row type, and one function per query that builds
 * the query on an environment and returns its result stream. The runner
 * (nexmark.c) ends each result in a discard sink; the correctness tests
 * (tests/runtime/test_nexmark_queries.c) collect it instead.
 */
#ifndef FLINC_BENCH_NEXMARK_QUERIES_H
#define FLINC_BENCH_NEXMARK_QUERIES_H

#include <stdint.h>

#include "flinc/flinc.h"

/* Columns of the "nexmark" source's rows (src/connectors/source_nexmark.c). */
enum {
    NX_EVENT_TYPE, /* INT: 0 person, 1 auction, 2 bid */
    NX_DATE_TIME,  /* TIMESTAMP: event time of every kind */
    NX_PERSON_ID,
    NX_NAME,
    NX_EMAIL,
    NX_CREDIT_CARD,
    NX_CITY,
    NX_STATE,
    NX_AUCTION_ID,
    NX_ITEM_NAME,
    NX_DESCRIPTION,
    NX_INITIAL_BID,
    NX_RESERVE,
    NX_EXPIRES,
    NX_SELLER,
    NX_CATEGORY,
    NX_AUCTION, /* a bid's auction */
    NX_BIDDER,
    NX_PRICE,
    NX_CHANNEL,
    NX_URL,
    NX_EXTRA, /* padding of every kind */
    NX_N_FIELDS
};

enum { NX_PERSON = 0, NX_AUCTION_EVENT = 1, NX_BID = 2 };

/* How the events are generated; the same config gives the same events. */
typedef struct nexmark_config {
    int64_t events; /* over all generators; 0 = unbounded */
    int64_t rate;   /* events per second of event time */
    uint64_t seed;
    int parallelism; /* of the generators; 0 = the environment's */
    /* The source connector that generates them: NULL = "nexmark"; another
     * name must take the nexmark source's options and give its rows (a
     * test's wrapper around it, registered with fl_source_connector_register). */
    const char *connector;
} nexmark_config;

/* The events of `types` ("bid", "person,auction", ...) with event-time
 * timestamps and watermarks 4 seconds behind the highest time seen. */
fl_stream *nexmark_source(fl_env *env, const nexmark_config *cfg, const char *types);

/* Each builds the query on env and returns its result stream. */
typedef fl_stream *(*nexmark_query_fn)(fl_env *env, const nexmark_config *cfg);

typedef struct nexmark_query {
    const char *name;
    nexmark_query_fn build;
    double flink_per_core; /* Flink 1.13's published events/s per core (Nexmark V1) */
} nexmark_query;

/* All queries, in order, ending with a {NULL} entry. */
extern const nexmark_query nexmark_queries[];
const nexmark_query *nexmark_query_find(const char *name);

/* Shared by the queries and their tests. */
#define NX_DOLLAR_TO_EURO 0.908
#define NX_Q2_MODULUS     123
#define NX_WINDOW_MS      10000
#define NX_Q5_SLIDE_MS    2000
#define NX_Q19_TOP        10

#endif
