/*
 * restart.h - restart strategies: whether and when a failed job runs again
 * (Flink's restart-strategy.* keys).
 *
 *   restart-strategy.type: none | fixed-delay | failure-rate | exponential-delay
 *     (also Flink's aliases off/disable, fixeddelay, failurerate, exponentialdelay)
 *   fixed-delay:        .attempts (default 1), .delay (1 s)
 *   failure-rate:       .max-failures-per-interval (1), .failure-rate-interval (1 min),
 *                       .delay (1 s)
 *   exponential-delay:  .initial-backoff (1 s), .max-backoff (1 min),
 *                       .backoff-multiplier (2.0), .reset-backoff-threshold (1 h),
 *                       .jitter-factor (0.1), .attempts-before-reset-backoff (unbounded)
 *
 * Without restart-strategy.type the strategy is none, unless checkpointing is
 * enabled: then exponential-delay, as in Flink 1.19+. Times are milliseconds
 * of the caller's clock, so the logic is tested without waiting.
 */
#ifndef FL_CLUSTER_RESTART_H
#define FL_CLUSTER_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "flinc/error.h"

typedef enum fl_restart_kind {
    FL_RESTART_NONE = 0,
    FL_RESTART_FIXED_DELAY,
    FL_RESTART_FAILURE_RATE,
    FL_RESTART_EXPONENTIAL_DELAY,
} fl_restart_kind;

typedef struct fl_restart_strategy {
    fl_restart_kind kind;
    int64_t attempts;           /* fixed-delay */
    int64_t delay_ms;           /* fixed-delay, failure-rate */
    int64_t max_failures;       /* failure-rate, per interval */
    int64_t interval_ms;        /* failure-rate */
    int64_t initial_backoff_ms; /* exponential-delay */
    int64_t max_backoff_ms;
    double multiplier;
    int64_t reset_threshold_ms;
    double jitter;
    int64_t attempts_before_reset; /* < 0: unbounded */

    /* progress */
    int64_t failures;           /* restarts granted so far */
    int64_t *failure_times;     /* failure-rate: recent failure times (ring) */
    int64_t current_backoff_ms;
    int64_t last_failure_ms;
    uint64_t rng;
} fl_restart_strategy;

/* Reads the strategy from configuration; checkpointing tells the default. */
int fl_restart_strategy_init(fl_restart_strategy *s, const fl_config *c, bool checkpointing,
                             fl_error *err);
void fl_restart_strategy_fini(fl_restart_strategy *s);

/* A failure at now_ms: true and the delay before restarting in *delay_ms when
 * the job may restart; false when the strategy gives up. */
bool fl_restart_strategy_on_failure(fl_restart_strategy *s, int64_t now_ms, int64_t *delay_ms);

/* "fixed-delay (3 attempts, 1000 ms)" for logs and errors. */
void fl_restart_strategy_describe(const fl_restart_strategy *s, char *buf, unsigned size);

#endif
