/*
 * restart.c - restart strategies (see restart.h), Flink's rules:
 * fixed-delay allows `attempts` restarts, each after `delay`; failure-rate
 * allows at most `max-failures-per-interval` failures within any sliding
 * `failure-rate-interval`; exponential-delay always restarts, doubling (times
 * the multiplier) the backoff up to max-backoff, with jitter, and resets it
 * after a quiet reset-backoff-threshold.
 */
#include "restart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

int fl_restart_strategy_init(fl_restart_strategy *s, const fl_config *c, bool checkpointing,
                             fl_error *err) {
    memset(s, 0, sizeof *s);
    s->attempts_before_reset = -1;
    s->rng = 0x2545F4914F6CDD1DULL;
    const char *type = fl_config_get(c, "restart-strategy.type");
    if (!type) type = fl_config_get(c, "restart-strategy"); /* Flink's older key */
    if (!type) type = checkpointing ? "exponential-delay" : "none";
    int rc = 0;
    if (!strcasecmp(type, "none") || !strcasecmp(type, "off") || !strcasecmp(type, "disable")) {
        s->kind = FL_RESTART_NONE;
    } else if (!strcasecmp(type, "fixed-delay") || !strcasecmp(type, "fixeddelay")) {
        s->kind = FL_RESTART_FIXED_DELAY;
        rc = fl_config_get_int(c, "restart-strategy.fixed-delay.attempts", 1, &s->attempts, err);
        if (rc == 0)
            rc = fl_config_get_duration_ms(c, "restart-strategy.fixed-delay.delay", 1000,
                                           &s->delay_ms, err);
        if (rc == 0 && s->attempts < 0)
            rc = fl_error_set(err, FL_ECONFIG,
                              "restart-strategy.fixed-delay.attempts must be >= 0, not %lld",
                              (long long)s->attempts);
    } else if (!strcasecmp(type, "failure-rate") || !strcasecmp(type, "failurerate")) {
        s->kind = FL_RESTART_FAILURE_RATE;
        rc = fl_config_get_int(c, "restart-strategy.failure-rate.max-failures-per-interval", 1,
                               &s->max_failures, err);
        if (rc == 0)
            rc = fl_config_get_duration_ms(c, "restart-strategy.failure-rate.failure-rate-interval",
                                           60000, &s->interval_ms, err);
        if (rc == 0)
            rc = fl_config_get_duration_ms(c, "restart-strategy.failure-rate.delay", 1000,
                                           &s->delay_ms, err);
        if (rc == 0 && (s->max_failures < 1 || s->interval_ms <= 0))
            rc = fl_error_set(err, FL_ECONFIG,
                              "restart-strategy.failure-rate needs max-failures-per-interval >= 1 "
                              "and a positive failure-rate-interval");
        if (rc == 0) s->failure_times = fl_xcalloc((size_t)s->max_failures, sizeof(int64_t));
    } else if (!strcasecmp(type, "exponential-delay") || !strcasecmp(type, "exponentialdelay")) {
        s->kind = FL_RESTART_EXPONENTIAL_DELAY;
        rc = fl_config_get_duration_ms(c, "restart-strategy.exponential-delay.initial-backoff",
                                       1000, &s->initial_backoff_ms, err);
        if (rc == 0)
            rc = fl_config_get_duration_ms(c, "restart-strategy.exponential-delay.max-backoff",
                                           60000, &s->max_backoff_ms, err);
        if (rc == 0)
            rc = fl_config_get_double(c, "restart-strategy.exponential-delay.backoff-multiplier",
                                      2.0, &s->multiplier, err);
        if (rc == 0)
            rc = fl_config_get_duration_ms(
                c, "restart-strategy.exponential-delay.reset-backoff-threshold", 3600000,
                &s->reset_threshold_ms, err);
        if (rc == 0)
            rc = fl_config_get_double(c, "restart-strategy.exponential-delay.jitter-factor", 0.1,
                                      &s->jitter, err);
        if (rc == 0)
            rc = fl_config_get_int(c,
                                   "restart-strategy.exponential-delay.attempts-before-reset-"
                                   "backoff",
                                   -1, &s->attempts_before_reset, err);
        if (rc == 0 && (s->multiplier < 1.0 || s->jitter < 0 || s->jitter > 1 ||
                        s->initial_backoff_ms < 0 || s->max_backoff_ms < s->initial_backoff_ms))
            rc = fl_error_set(err, FL_ECONFIG,
                              "restart-strategy.exponential-delay needs backoff-multiplier >= 1, "
                              "jitter-factor in [0, 1] and initial-backoff <= max-backoff");
        s->current_backoff_ms = s->initial_backoff_ms;
    } else {
        rc = fl_error_set(err, FL_ECONFIG,
                          "invalid value \"%s\" for \"restart-strategy.type\": expected none, "
                          "fixed-delay, failure-rate or exponential-delay",
                          type);
    }
    if (rc < 0) fl_restart_strategy_fini(s);
    return rc;
}

void fl_restart_strategy_fini(fl_restart_strategy *s) {
    free(s->failure_times);
    s->failure_times = NULL;
}

static double next_unit(fl_restart_strategy *s) {
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (double)(s->rng >> 11) / (double)(1ULL << 53);
}

bool fl_restart_strategy_on_failure(fl_restart_strategy *s, int64_t now, int64_t *delay_ms) {
    *delay_ms = 0;
    switch (s->kind) {
    case FL_RESTART_NONE:
        return false;
    case FL_RESTART_FIXED_DELAY:
        if (s->failures >= s->attempts) return false;
        s->failures++;
        *delay_ms = s->delay_ms;
        return true;
    case FL_RESTART_FAILURE_RATE: {
        /* failure_times holds the last max_failures failures (ring). */
        int64_t slot = s->failures % s->max_failures;
        if (s->failures >= s->max_failures && now - s->failure_times[slot] <= s->interval_ms)
            return false; /* max_failures + 1 within the interval */
        s->failure_times[slot] = now;
        s->failures++;
        *delay_ms = s->delay_ms;
        return true;
    }
    case FL_RESTART_EXPONENTIAL_DELAY: {
        bool quiet = s->failures > 0 && now - s->last_failure_ms >= s->reset_threshold_ms;
        bool reset_count = s->attempts_before_reset >= 0 && s->failures > 0 &&
                           s->failures % (s->attempts_before_reset + 1) == 0;
        if (s->failures == 0 || quiet || reset_count) {
            s->current_backoff_ms = s->initial_backoff_ms;
        } else {
            double next = (double)s->current_backoff_ms * s->multiplier;
            s->current_backoff_ms =
                next > (double)s->max_backoff_ms ? s->max_backoff_ms : (int64_t)next;
        }
        s->failures++;
        s->last_failure_ms = now;
        double j = s->jitter * (2.0 * next_unit(s) - 1.0);
        int64_t d = (int64_t)llround((double)s->current_backoff_ms * (1.0 + j));
        *delay_ms = d < 0 ? 0 : d;
        return true;
    }
    }
    return false;
}

void fl_restart_strategy_describe(const fl_restart_strategy *s, char *buf, unsigned size) {
    switch (s->kind) {
    case FL_RESTART_NONE:
        snprintf(buf, size, "none");
        break;
    case FL_RESTART_FIXED_DELAY:
        snprintf(buf, size, "fixed-delay (%lld attempts, %lld ms)", (long long)s->attempts,
                 (long long)s->delay_ms);
        break;
    case FL_RESTART_FAILURE_RATE:
        snprintf(buf, size, "failure-rate (%lld failures per %lld ms, %lld ms delay)",
                 (long long)s->max_failures, (long long)s->interval_ms, (long long)s->delay_ms);
        break;
    case FL_RESTART_EXPONENTIAL_DELAY:
        snprintf(buf, size, "exponential-delay (%lld..%lld ms, x%.2f)",
                 (long long)s->initial_backoff_ms, (long long)s->max_backoff_ms, s->multiplier);
        break;
    }
}
