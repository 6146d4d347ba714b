/*
 * config.h - flinc's configuration: Flink's flat key names, read from
 * conf/flink-conf.yaml and overridden by -D key=value.
 *
 * The YAML file may be flat ("rest.port: 8081") or nested ("rest: {port:
 * 8081}"); nested maps are flattened with dots, sequences are joined with
 * ';' as Flink does for list options. Values are kept as strings and parsed by
 * the typed getters, which name the key and the expected form on a bad value.
 */
#ifndef FL_CORE_CONFIG_H
#define FL_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "flinc/error.h"
#include "kv.h"

/* Well-known keys and their defaults (Flink's names). */
#define FL_CONF_PARALLELISM "parallelism.default"                  /* 1 */
#define FL_CONF_MAX_PARALLELISM "pipeline.max-parallelism"          /* 128 */
#define FL_CONF_SLOTS "taskmanager.numberOfTaskSlots"               /* job's max parallelism */
#define FL_CONF_BUFFER_TIMEOUT "execution.buffer-timeout"           /* 100 ms */
#define FL_CONF_BUFFER_SIZE "taskmanager.memory.segment-size"       /* 32kb */
#define FL_CONF_BUFFERS_PER_CHANNEL "taskmanager.network.memory.buffers-per-channel" /* 2 */
#define FL_CONF_FLOATING_BUFFERS "taskmanager.network.memory.floating-buffers-per-gate" /* 8 */
#define FL_CONF_CHAINING "pipeline.operator-chaining"               /* true */
#define FL_CONF_WINDOW_LOCAL_AGGREGATION "pipeline.window.local-aggregation" /* true */
#define FL_CONF_LOG_LEVEL "rootLogger.level"                        /* INFO */
#define FL_CONF_LOG_FILE "env.log.file"                             /* unset: stderr */
#define FL_CONF_JM_ADDRESS "jobmanager.rpc.address"
#define FL_CONF_REST_PORT "rest.port"

/* Flink's upper bound for a max parallelism (and so for any parallelism). */
#define FL_MAX_PARALLELISM_LIMIT 32768

typedef struct fl_config fl_config;

fl_config *fl_config_create(void); /* empty: every getter returns its default */
void fl_config_destroy(fl_config *c);
fl_config *fl_config_clone(const fl_config *c);
/* A configuration holding a copy of every entry of kv (NULL: none), as a plan
 * carries its configuration. Returns new. */
fl_config *fl_config_from_kv(const fl_kv *kv);

/* Loads a YAML file into c (keys already in c are replaced). A missing file
 * is FL_ENOENT; malformed YAML is FL_ECONFIG with "file:line:column: problem". */
int fl_config_load_file(fl_config *c, const char *path, fl_error *err);
/* Same from a string (name is used in messages). */
int fl_config_load_string(fl_config *c, const char *yaml, const char *name, fl_error *err);
/* "key=value" (the -D form). FL_ECONFIG when there is no '=' or key is empty. */
int fl_config_set_pair(fl_config *c, const char *pair, fl_error *err);
void fl_config_set(fl_config *c, const char *key, const char *value);
const char *fl_config_get(const fl_config *c, const char *key); /* borrowed or NULL */
const fl_kv *fl_config_entries(const fl_config *c);

/* Typed getters: absent -> dflt; present but malformed -> FL_ECONFIG naming
 * the key, the value and the expected form. */
int fl_config_get_int(const fl_config *c, const char *key, int64_t dflt, int64_t *out,
                      fl_error *err);
int fl_config_get_bool(const fl_config *c, const char *key, bool dflt, bool *out,
                       fl_error *err);
int fl_config_get_double(const fl_config *c, const char *key, double dflt, double *out,
                         fl_error *err);
/* Durations as Flink writes them: "100", "100 ms", "5 s", "2 min", "1 h";
 * a bare number is milliseconds. Result in milliseconds. */
int fl_config_get_duration_ms(const fl_config *c, const char *key, int64_t dflt,
                              int64_t *out, fl_error *err);
/* Sizes: "32kb", "32 KiB", "1 mb", "4096" (bytes). Result in bytes. */
int fl_config_get_size(const fl_config *c, const char *key, int64_t dflt, int64_t *out,
                       fl_error *err);

/* Parsers behind the getters, usable on any string. 0 or FL_ECONFIG. */
int fl_parse_duration_ms(const char *s, int64_t *out);
int fl_parse_size(const char *s, int64_t *out);
int fl_parse_int(const char *s, int64_t *out);
int fl_parse_bool(const char *s, bool *out);
int fl_parse_double(const char *s, double *out);

#endif
