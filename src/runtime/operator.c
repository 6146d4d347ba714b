/*
 * operator.c - the table of operator kinds a stream node can name, what
 * the connector-backed operators (source, sink) share, and how operators
 * read their node's options.
 */
#include <stdio.h>
#include <string.h>

#include "runtime_int.h"

fl_options *fl__connector_options(const fl_operator *op, const char *connector,
                                  const fl_option_def *defs, fl_error *err) {
    char what[128];
    snprintf(what, sizeof what, "connector \"%s\"", connector);
    return fl_options_create(defs, op->node->options, what, err);
}

const fl_operator_ops *fl__operator_ops(const char *kind) {
    static const fl_operator_ops *const all[] = {
        &fl__op_source, &fl__op_map,       &fl__op_flat_map, &fl__op_filter,
        &fl__op_reduce, &fl__op_aggregate, &fl__op_sink, &fl__op_timestamps,
        &fl__op_process,      &fl__op_keyed_process,
        &fl__op_window, &fl__op_window_local,
        &fl__op_co_process,
        &fl__op_broadcast_process,
        &fl__op_interval_join,
    };
    for (size_t i = 0; kind && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->kind, kind) == 0) return all[i];
    return NULL;
}

void *fl__op_fn(const fl_operator *op, const char *role) {
    for (int i = 0; i < op->n_fns; i++)
        if (strcmp(op->fns[i].role, role) == 0) return op->fns[i].fn;
    return NULL;
}

/* Integer options are decimal numbers the API wrote (fl_parse_int reads them). */
int64_t fl__op_option_int(const fl_operator *op, const char *key, int64_t dflt) {
    const char *v = fl_kv_get(op->node->options, key);
    int64_t x;
    return v && fl_parse_int(v, &x) == 0 ? x : dflt;
}

int fl__op_option_int_required(const fl_operator *op, const char *key, int64_t *out,
                               fl_error *err) {
    const char *v = fl_kv_get(op->node->options, key);
    if (!v || fl_parse_int(v, out) != 0)
        return fl_error_set(err, FL_EINVAL, "\"%s\" needs an integer option \"%s\"", op->node->name,
                            key);
    return 0;
}

bool fl__op_option_true(const fl_operator *op, const char *key) {
    const char *v = fl_kv_get(op->node->options, key);
    return v && strcmp(v, "true") == 0;
}
