/*
 * state_api.c - the state and timer calls of flinc/state.h, on top of the
 * keyed state backend (src/state) of the running keyed operator.
 *
 * A handle given to a user function remembers its backend state and the
 * operator; every access first puts the state into the operator's current
 * namespace (empty for process functions, the window for window functions),
 * so one handle serves all windows. Reduce and aggregate functions of states
 * are called back with the user's context. Operator list state (non-keyed)
 * lives in the operator itself. The broadcast state of a broadcast-connected
 * operator is a map-state handle on a backend of the operator's own, outside
 * keyed state, and read-only unless the operator allows writes.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "keyed_state.h"
#include "mem.h"
#include "runtime_int.h"

typedef struct fl_user_state {
    struct fl_user_state *next;
    fl_operator *op;
    fl_kstate *ks;              /* keyed states */
    fl_reduce_fn reduce;        /* reducing */
    fl_aggregate_function agg;  /* aggregating (copied) */
    fl_state_aggregate backend_agg;
    /* operator list state */
    char *name;
    fl_row **rows;
    const fl_row **view;
    size_t n_rows, cap_rows;
    bool union_redistribution;
    /* broadcast state (name set): the namespace never changes */
    bool broadcast, writable;
} fl_user_state;

void fl__user_states_free(fl_user_state **list) {
    fl_user_state *u = *list;
    while (u) {
        fl_user_state *next = u->next;
        for (size_t i = 0; i < u->n_rows; i++) free(u->rows[i]);
        free(u->rows);
        free(u->view);
        free(u->name);
        free(u);
        u = next;
    }
    *list = NULL;
}

static fl_kstate *ks_of(fl_user_state *u) {
    if (u->broadcast) return u->ks;
    fl_keyed_op *k = u->op->keyed;
    fl_kstate_set_namespace(u->ks, k->ns, k->ns_len);
    return u->ks;
}

/* ---- adapters: backend callbacks -> user functions ----------------------------------- */

static int reduce_adapter(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    fl_user_state *u = arg;
    return u->reduce(&u->op->ctx, acc, in, out);
}
static int agg_create(void *arg, fl_row_builder *acc) {
    fl_user_state *u = arg;
    return u->agg.create_accumulator(&u->op->ctx, acc);
}
static int agg_add(void *arg, const fl_row *in, const fl_row *acc, fl_row_builder *out) {
    fl_user_state *u = arg;
    return u->agg.add(&u->op->ctx, in, acc, out);
}
static int agg_result(void *arg, const fl_row *acc, fl_row_builder *out) {
    fl_user_state *u = arg;
    return u->agg.get_result(&u->op->ctx, acc, out);
}
static int agg_merge(void *arg, const fl_row *a, const fl_row *b, fl_row_builder *out) {
    fl_user_state *u = arg;
    if (!u->agg.merge)
        return fl_context_fail(&u->op->ctx, "the aggregate function has no merge function");
    return u->agg.merge(&u->op->ctx, a, b, out);
}

/* ---- declaring ------------------------------------------------------------------------- */

static fl_user_state *declare(fl_context *ctx, fl_state_desc *d, const fl_state_ttl *ttl,
                              fl_user_state *proto) {
    fl_operator *op = ctx->op;
    fl_keyed_op *k = op->keyed;
    if (!k) {
        fl_context_fail(ctx,
                        "state \"%s\" of \"%s\": keyed state needs a keyed stream (key_by "
                        "before this operator)",
                        d->name ? d->name : "(null)", op->node->name);
        return NULL;
    }
    if (!d->name || !d->value_schema) {
        fl_context_fail(ctx, "a state needs a name and a schema");
        return NULL;
    }
    if (ttl) {
        d->ttl_ms = ttl->ttl_ms;
        d->ttl_update = ttl->update_type == FL_TTL_UPDATE_ON_READ_AND_WRITE ? FL_TTL_ON_READ_AND_WRITE
                                                                     : FL_TTL_ON_CREATE_AND_WRITE;
    }
    fl_user_state *u = fl_xcalloc(1, sizeof *u);
    *u = *proto;
    u->op = op;
    if (d->kind == FL_STATE_REDUCING) {
        d->reduce = reduce_adapter;
        d->reduce_arg = u;
    } else if (d->kind == FL_STATE_AGGREGATING) {
        u->backend_agg = (fl_state_aggregate){
            .acc_schema = u->agg.acc_schema, .create = agg_create, .add = agg_add,
            .result = agg_result, .merge = agg_merge, .arg = u};
        d->aggregate = &u->backend_agg;
        d->result_schema = u->agg.out_schema;
    }
    fl_error err = {0};
    fl_kstate *ks = fl_keyed_backend_state(k->backend, d, &err);
    if (!ks) {
        free(u);
        fl_context_fail(ctx, "%s", err.message);
        return NULL;
    }
    for (fl_user_state *e = k->states; e; e = e->next) {
        if (e->ks == ks) {
            free(u);
            return e;
        }
    }
    u->ks = ks;
    u->next = k->states;
    k->states = u;
    return u;
}

fl_value_state *fl_context_value_state(fl_context *ctx, const char *name, const fl_schema *schema,
                                       const fl_state_ttl *ttl) {
    fl_state_desc d = {.name = name, .kind = FL_STATE_VALUE, .value_schema = schema};
    fl_user_state proto = {0};
    return (fl_value_state *)declare(ctx, &d, ttl, &proto);
}

fl_list_state *fl_context_list_state(fl_context *ctx, const char *name, const fl_schema *schema,
                                     const fl_state_ttl *ttl) {
    fl_state_desc d = {.name = name, .kind = FL_STATE_LIST, .value_schema = schema};
    fl_user_state proto = {0};
    return (fl_list_state *)declare(ctx, &d, ttl, &proto);
}

fl_map_state *fl_context_map_state(fl_context *ctx, const char *name, const fl_schema *key_schema,
                                   const fl_schema *value_schema, const fl_state_ttl *ttl) {
    fl_state_desc d = {.name = name, .kind = FL_STATE_MAP, .value_schema = value_schema,
                       .map_key_schema = key_schema};
    fl_user_state proto = {0};
    return (fl_map_state *)declare(ctx, &d, ttl, &proto);
}

fl_reducing_state *fl_context_reducing_state(fl_context *ctx, const char *name,
                                             const fl_schema *schema, fl_reduce_fn fn,
                                             const fl_state_ttl *ttl) {
    fl_state_desc d = {.name = name, .kind = FL_STATE_REDUCING, .value_schema = schema};
    fl_user_state proto = {.reduce = fn};
    if (!fn) {
        fl_context_fail(ctx, "reducing state \"%s\" needs a reduce function", name);
        return NULL;
    }
    return (fl_reducing_state *)declare(ctx, &d, ttl, &proto);
}

fl_aggregating_state *fl_context_aggregating_state(fl_context *ctx, const char *name,
                                                   const fl_schema *in_schema,
                                                   const fl_aggregate_function *agg,
                                                   const fl_state_ttl *ttl) {
    if (!agg || !agg->create_accumulator || !agg->add || !agg->get_result || !agg->acc_schema ||
        !agg->out_schema) {
        fl_context_fail(ctx, "aggregating state \"%s\" needs create_accumulator, add, get_result "
                             "and both schemas",
                        name);
        return NULL;
    }
    fl_state_desc d = {.name = name, .kind = FL_STATE_AGGREGATING, .value_schema = in_schema};
    fl_user_state proto = {.agg = *agg};
    return (fl_aggregating_state *)declare(ctx, &d, ttl, &proto);
}

/* ---- access -------------------------------------------------------------------------------- */

#define U(s) ((fl_user_state *)(s))

/* A failing reduce/aggregate function has already said why in the context;
 * otherwise name the state. */
static int access_failed(fl_user_state *u, int rc) {
    if (!u->op->ctx.failure) fl_context_fail(&u->op->ctx, "state access failed: %s", fl_strerror(rc));
    return rc;
}

const fl_row *fl_value_state_get(fl_value_state *s) { return fl_kstate_value_get(ks_of(U(s))); }
int fl_value_state_update(fl_value_state *s, const fl_row *v) {
    int rc = fl_kstate_value_update(ks_of(U(s)), v);
    return rc < 0 ? access_failed(U(s), rc) : 0;
}
void fl_value_state_clear(fl_value_state *s) { fl_kstate_clear(ks_of(U(s))); }

static fl_user_state *op_list(fl_list_state *s) {
    fl_user_state *u = U(s);
    return u->ks ? NULL : u;
}

int fl_list_state_add(fl_list_state *s, const fl_row *e) {
    fl_user_state *u = op_list(s);
    if (!u) {
        int rc = fl_kstate_list_add(ks_of(U(s)), e);
        return rc < 0 ? access_failed(U(s), rc) : 0;
    }
    if (u->n_rows == u->cap_rows) {
        u->cap_rows = u->cap_rows ? u->cap_rows * 2 : 16;
        u->rows = fl_xrealloc(u->rows, u->cap_rows * sizeof *u->rows);
        u->view = fl_xrealloc(u->view, u->cap_rows * sizeof *u->view);
    }
    u->rows[u->n_rows] = fl_row_copy(e);
    u->view[u->n_rows] = u->rows[u->n_rows];
    u->n_rows++;
    return 0;
}

const fl_row *const *fl_list_state_get(fl_list_state *s, size_t *n) {
    fl_user_state *u = op_list(s);
    if (!u) return fl_kstate_list_get(ks_of(U(s)), n);
    *n = u->n_rows;
    return u->n_rows ? u->view : NULL;
}

void fl_list_state_clear(fl_list_state *s) {
    fl_user_state *u = op_list(s);
    if (!u) {
        fl_kstate_clear(ks_of(U(s)));
        return;
    }
    for (size_t i = 0; i < u->n_rows; i++) free(u->rows[i]);
    u->n_rows = 0;
}

int fl_list_state_update(fl_list_state *s, const fl_row *const *elements, size_t n) {
    fl_user_state *u = op_list(s);
    if (!u) {
        int rc = fl_kstate_list_update(ks_of(U(s)), elements, n);
        return rc < 0 ? access_failed(U(s), rc) : 0;
    }
    fl_list_state_clear(s);
    for (size_t i = 0; i < n; i++) fl_list_state_add(s, elements[i]);
    return 0;
}

const fl_row *fl_map_state_get(fl_map_state *s, const fl_row *key) {
    return fl_kstate_map_get(ks_of(U(s)), key);
}
/* Writes to a read-only broadcast state fail the function (Flink's
 * ReadOnlyBroadcastState). */
static bool read_only(fl_user_state *u) {
    if (!u->broadcast || u->writable) return false;
    fl_context_fail(&u->op->ctx,
                    "broadcast state \"%s\" of \"%s\" is read-only in the element function; only "
                    "the broadcast function may change it",
                    u->name, u->op->node->name);
    return true;
}

int fl_map_state_put(fl_map_state *s, const fl_row *key, const fl_row *value) {
    if (read_only(U(s))) return FL_EUSER;
    int rc = fl_kstate_map_put(ks_of(U(s)), key, value);
    return rc < 0 ? access_failed(U(s), rc) : 0;
}
int fl_map_state_remove(fl_map_state *s, const fl_row *key) {
    if (read_only(U(s))) return FL_EUSER;
    return fl_kstate_map_remove(ks_of(U(s)), key);
}
bool fl_map_state_contains(fl_map_state *s, const fl_row *key) {
    return fl_kstate_map_contains(ks_of(U(s)), key);
}
bool fl_map_state_is_empty(fl_map_state *s) { return fl_kstate_is_empty(ks_of(U(s))); }
size_t fl_map_state_entries(fl_map_state *s, const fl_row *const **keys,
                            const fl_row *const **values) {
    return fl_kstate_map_entries(ks_of(U(s)), keys, values);
}
void fl_map_state_clear(fl_map_state *s) {
    if (!read_only(U(s))) fl_kstate_clear(ks_of(U(s)));
}

int fl_reducing_state_add(fl_reducing_state *s, const fl_row *v) {
    int rc = fl_kstate_add(ks_of(U(s)), v);
    return rc < 0 ? access_failed(U(s), rc) : 0;
}
const fl_row *fl_reducing_state_get(fl_reducing_state *s) { return fl_kstate_get(ks_of(U(s))); }
void fl_reducing_state_clear(fl_reducing_state *s) { fl_kstate_clear(ks_of(U(s))); }

int fl_aggregating_state_add(fl_aggregating_state *s, const fl_row *v) {
    int rc = fl_kstate_add(ks_of(U(s)), v);
    return rc < 0 ? access_failed(U(s), rc) : 0;
}
const fl_row *fl_aggregating_state_get(fl_aggregating_state *s) {
    return fl_kstate_get(ks_of(U(s)));
}
void fl_aggregating_state_clear(fl_aggregating_state *s) { fl_kstate_clear(ks_of(U(s))); }

/* ---- operator state ----------------------------------------------------------------------- */

fl_list_state *fl_context_operator_list_state(fl_context *ctx, const char *name,
                                              const fl_schema *schema, bool union_redistribution) {
    fl_operator *op = ctx->op;
    for (fl_user_state *u = op->op_states; u; u = u->next) {
        if (strcmp(u->name, name) != 0) continue;
        if (u->union_redistribution != union_redistribution) {
            fl_context_fail(ctx, "operator state \"%s\" was declared with %s redistribution",
                            name, u->union_redistribution ? "union" : "even-split");
            return NULL;
        }
        return (fl_list_state *)u;
    }
    if (!schema) {
        fl_context_fail(ctx, "operator state \"%s\" needs a schema", name);
        return NULL;
    }
    /* Restored from a checkpoint: the declaration takes the restored rows. */
    for (fl_user_state **p = &op->restored_states; *p; p = &(*p)->next) {
        fl_user_state *r = *p;
        if (strcmp(r->name, name) != 0) continue;
        *p = r->next;
        r->union_redistribution = union_redistribution;
        r->next = op->op_states;
        op->op_states = r;
        return (fl_list_state *)r;
    }
    fl_user_state *u = fl_xcalloc(1, sizeof *u);
    u->op = op;
    u->name = fl_xstrdup(name);
    u->union_redistribution = union_redistribution;
    u->next = op->op_states;
    op->op_states = u;
    return (fl_list_state *)u;
}

/* ---- broadcast state ----------------------------------------------------------------------- */

fl_user_state *fl__broadcast_state_create(fl_operator *op, fl_kstate *ks, const char *name,
                                          fl_user_state **list) {
    fl_user_state *u = fl_xcalloc(1, sizeof *u);
    u->op = op;
    u->ks = ks;
    u->name = fl_xstrdup(name);
    u->broadcast = true;
    u->next = *list;
    *list = u;
    return u;
}

void fl__broadcast_state_set_writable(fl_user_state *u, bool writable) { u->writable = writable; }

/* ---- operator state in checkpoints ------------------------------------------------------------ */

void fl__op_states_encode(const fl_operator *op, uint8_t **out, size_t *len) {
    size_t cap = 64, n = 0;
    uint8_t *b = fl_xmalloc(cap);
#define PUT(p, l)                                                                                  \
    do {                                                                                           \
        size_t l_ = (l);                                                                           \
        while (n + l_ > cap) b = fl_xrealloc(b, cap *= 2);                                         \
        memcpy(b + n, (p), l_);                                                                    \
        n += l_;                                                                                   \
    } while (0)
    uint32_t count = 0;
    for (const fl_user_state *u = op->op_states; u; u = u->next) count++;
    PUT(&count, 4);
    for (const fl_user_state *u = op->op_states; u; u = u->next) {
        uint32_t nl = (uint32_t)strlen(u->name), rows = (uint32_t)u->n_rows;
        uint8_t un = u->union_redistribution;
        PUT(&nl, 4);
        PUT(u->name, nl);
        PUT(&un, 1);
        PUT(&rows, 4);
        for (size_t i = 0; i < u->n_rows; i++) PUT(u->rows[i], fl_row_size(u->rows[i]));
    }
#undef PUT
    *out = b;
    *len = n;
}

fl_user_state *fl__restored_list(fl_operator *op, const char *name, bool union_lists) {
    for (fl_user_state *u = op->restored_states; u; u = u->next)
        if (!strcmp(u->name, name)) return u;
    fl_user_state *u = fl_xcalloc(1, sizeof *u);
    u->op = op;
    u->name = fl_xstrdup(name);
    u->union_redistribution = union_lists;
    u->next = op->restored_states;
    op->restored_states = u;
    return u;
}

void fl__user_list_append(fl_user_state *u, const fl_row *row) {
    fl_list_state_add((fl_list_state *)u, row);
}

void fl__restored_lists_cut(fl_operator *op, int subtask, int parallelism) {
    for (fl_user_state *u = op->restored_states; u; u = u->next) {
        if (u->union_redistribution) continue; /* union: every instance gets all */
        /* Even split: this subtask's contiguous share of all elements. */
        size_t from = u->n_rows * (size_t)subtask / (size_t)parallelism;
        size_t to = u->n_rows * (size_t)(subtask + 1) / (size_t)parallelism;
        for (size_t i = 0; i < from; i++) free(u->rows[i]);
        for (size_t i = to; i < u->n_rows; i++) free(u->rows[i]);
        memmove(u->rows, u->rows + from, (to - from) * sizeof *u->rows);
        for (size_t i = 0; i < to - from; i++) u->view[i] = u->rows[i];
        u->n_rows = to - from;
    }
}

/* ---- keys and timers ------------------------------------------------------------------------ */

static fl_keyed_op *keyed_or_fail(fl_context *ctx, const char *what) {
    if (ctx->op->keyed) return ctx->op->keyed;
    fl_context_fail(ctx, "%s needs a keyed stream (key_by before \"%s\")", what,
                    ctx->op->node->name);
    return NULL;
}

const fl_row *fl_context_current_key(const fl_context *ctx) {
    if (!ctx->op->keyed) return NULL;
    uint32_t len;
    return fl_keyed_backend_key(ctx->op->keyed->backend, &len);
}

/* Only operators whose timers call the user's on_timer take user timers
 * (Flink's KeyedProcessFunction and KeyedCoProcessFunction): elsewhere --
 * a rolling reduce, a join or window function -- a timer would fire into
 * the operator's own timer handling, or into none. */
static void timer_call(fl_context *ctx, fl_time_domain d, int64_t time, bool add) {
    fl_keyed_op *k = keyed_or_fail(ctx, "a timer");
    if (!k) return;
    if (k->on_timer != fl__keyed_process_on_timer) {
        fl_context_fail(ctx,
                        "\"%s\" cannot register timers: timers are for the functions of "
                        "fl_keyed_process and of fl_connected_process on keyed streams",
                        ctx->op->node->name);
        return;
    }
    fl__keyed_timer(ctx->op, d, time, k->ns, k->ns_len, add);
}

void fl_context_register_event_timer(fl_context *ctx, int64_t t) {
    timer_call(ctx, FL_EVENT_TIME, t, true);
}
void fl_context_register_processing_timer(fl_context *ctx, int64_t t) {
    timer_call(ctx, FL_PROCESSING_TIME, t, true);
}
void fl_context_delete_event_timer(fl_context *ctx, int64_t t) {
    timer_call(ctx, FL_EVENT_TIME, t, false);
}
void fl_context_delete_processing_timer(fl_context *ctx, int64_t t) {
    timer_call(ctx, FL_PROCESSING_TIME, t, false);
}

fl_time_domain_kind fl_context_timer_domain(const fl_context *ctx) {
    const fl_keyed_op *k = ctx->op->keyed;
    return k && k->firing_domain == FL_PROCESSING_TIME ? FL_TIME_PROCESSING : FL_TIME_EVENT;
}

/* ---- per-window state ------------------------------------------------------------------------ */

void fl__user_states_clear_current(fl_keyed_op *k) {
    for (fl_user_state *u = k->states; u; u = u->next)
        if (u->ks && !u->broadcast) fl_kstate_clear(ks_of(u));
}
