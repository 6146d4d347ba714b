/*
 * snapshot_fixtures.h - what the keyed state snapshot tests share: a
 * "world" (a backend with one state of every kind: value, value with TTL,
 * list, map with TTL, reducing sum, aggregating average), a random operation
 * log over keys, namespaces, map keys, timers and a manual clock, an
 * independent reference model the log is also applied to, a check of a set
 * of backends against the model (through the public API, plus TTL deadlines
 * read white-box), and an in-memory sink for snapshot bytes.
 *
 * Operations are generated from a seeded generator only (never from what a
 * backend returns), so the same seed replays the same log on any number of
 * backends: that is how the copy-on-write tests build a reference backend.
 */
#ifndef FL_TEST_SNAPSHOT_FIXTURES_H
#define FL_TEST_SNAPSHOT_FIXTURES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "state_fixtures.h"
#include "state_int.h"

#define FX_NS   3 /* namespaces: 0 is the empty one, 1 and 2 windows */
#define FX_MK   6 /* map keys */
#define FX_T    8 /* timer times: 1000, 1010, ... */
#define FX_TTL  100
#define FX_MAXP 128

/* ---- bytes sink ---------------------------------------------------------------------------- */

typedef struct sink {
    uint8_t *p;
    size_t len, cap;
} sink;

static inline int sink_write(void *arg, const void *p, size_t n) {
    sink *s = arg;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n) cap *= 2;
        s->p = fl_xrealloc(s->p, cap);
        s->cap = cap;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    return 0;
}

static inline void sink_free(sink *s) {
    free(s->p);
    memset(s, 0, sizeof *s);
}

/* The bytes of a view (written at once). */
static inline sink snapshot_bytes(fl_keyed_snapshot *v) {
    sink s = {0};
    fl_error err;
    fl_error_clear(&err);
    if (fl_keyed_snapshot_write(v, sink_write, &s, &err) != 0) {
        fprintf(stderr, "snapshot write failed: %s\n", err.message);
        abort();
    }
    return s;
}

/* ---- schemas, functions, rows ------------------------------------------------------------- */

typedef struct fixture {
    fl_schema *one;  /* (n BIGINT) */
    fl_schema *elem; /* (n BIGINT, s STRING): list elements and map values */
    fl_schema *mkey; /* (k BIGINT) */
    fl_schema *acc;  /* (count BIGINT, sum BIGINT) */
    fl_schema *avg;  /* (avg DOUBLE) */
    fl_row_builder *b_one, *b_elem, *b_mkey, *b_acc;
    fl_state_aggregate agg;
    fl_ttl_update ttl; /* of "vt" and "m" */
    int n_keys;
    test_key *keys;
} fixture;

static inline int fx_sum(void *arg, const fl_row *acc, const fl_row *in, fl_row_builder *out) {
    (void)arg;
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0) + fl_row_get_bigint(in, 0));
    return 0;
}
static inline int fx_acc_create(void *arg, fl_row_builder *acc) {
    (void)arg;
    fl_row_builder_set_bigint(acc, 0, 0);
    fl_row_builder_set_bigint(acc, 1, 0);
    return 0;
}
static inline int fx_acc_add(void *arg, const fl_row *in, const fl_row *acc, fl_row_builder *out) {
    (void)arg;
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(acc, 0) + 1);
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(acc, 1) + fl_row_get_bigint(in, 0));
    return 0;
}
static inline int fx_acc_result(void *arg, const fl_row *acc, fl_row_builder *out) {
    (void)arg;
    int64_t c = fl_row_get_bigint(acc, 0);
    fl_row_builder_set_double(out, 0, c ? (double)fl_row_get_bigint(acc, 1) / (double)c : 0.0);
    return 0;
}
static inline int fx_acc_merge(void *arg, const fl_row *a, const fl_row *b, fl_row_builder *out) {
    (void)arg;
    fl_row_builder_set_bigint(out, 0, fl_row_get_bigint(a, 0) + fl_row_get_bigint(b, 0));
    fl_row_builder_set_bigint(out, 1, fl_row_get_bigint(a, 1) + fl_row_get_bigint(b, 1));
    return 0;
}

static inline void fx_init(fixture *fx, int n_keys, fl_ttl_update ttl) {
    memset(fx, 0, sizeof *fx);
    fx->one = fl_schema_of(1, "n", FL_BIGINT);
    fx->elem = fl_schema_of(2, "n", FL_BIGINT, "s", FL_STRING);
    fx->mkey = fl_schema_of(1, "k", FL_BIGINT);
    fx->acc = fl_schema_of(2, "count", FL_BIGINT, "sum", FL_BIGINT);
    fx->avg = fl_schema_of(1, "avg", FL_DOUBLE);
    fx->b_one = fl_row_builder_create(fx->one);
    fx->b_elem = fl_row_builder_create(fx->elem);
    fx->b_mkey = fl_row_builder_create(fx->mkey);
    fx->b_acc = fl_row_builder_create(fx->acc);
    fx->agg = (fl_state_aggregate){.acc_schema = fx->acc,
                                   .create = fx_acc_create,
                                   .add = fx_acc_add,
                                   .result = fx_acc_result,
                                   .merge = fx_acc_merge};
    fx->ttl = ttl;
    fx->n_keys = n_keys;
    fx->keys = malloc((size_t)n_keys * sizeof *fx->keys);
    for (int i = 0; i < n_keys; i++) fx->keys[i] = make_key((int64_t)i * 7919 + 3);
}

static inline void fx_fini(fixture *fx) {
    fl_row_builder_destroy(fx->b_one);
    fl_row_builder_destroy(fx->b_elem);
    fl_row_builder_destroy(fx->b_mkey);
    fl_row_builder_destroy(fx->b_acc);
    fl_schema_unref(fx->one);
    fl_schema_unref(fx->elem);
    fl_schema_unref(fx->mkey);
    fl_schema_unref(fx->acc);
    fl_schema_unref(fx->avg);
    free(fx->keys);
}

static inline const fl_row *row_one(fixture *fx, int64_t n) {
    fl_row_builder_reset(fx->b_one);
    fl_row_builder_set_bigint(fx->b_one, 0, n);
    return fl_row_builder_finish(fx->b_one);
}
/* An element whose string's length and letters follow from n. */
static inline const fl_row *row_elem(fixture *fx, int64_t n) {
    char s[32];
    int len = (int)(n % 23);
    for (int i = 0; i < len; i++) s[i] = (char)('a' + (n + i) % 26);
    fl_row_builder_reset(fx->b_elem);
    fl_row_builder_set_bigint(fx->b_elem, 0, n);
    fl_row_builder_set_string(fx->b_elem, 1, s, (uint32_t)len);
    return fl_row_builder_finish(fx->b_elem);
}
static inline bool elem_is(const fl_row *r, int64_t n) {
    char s[32];
    int len = (int)(n % 23);
    for (int i = 0; i < len; i++) s[i] = (char)('a' + (n + i) % 26);
    uint32_t got_len;
    const char *got = fl_row_get_string(r, 1, &got_len);
    return fl_row_get_bigint(r, 0) == n && got_len == (uint32_t)len && memcmp(got, s, len) == 0;
}
static inline const fl_row *row_mkey(fixture *fx, int64_t k) {
    fl_row_builder_reset(fx->b_mkey);
    fl_row_builder_set_bigint(fx->b_mkey, 0, k);
    return fl_row_builder_finish(fx->b_mkey);
}

static inline test_ns fx_ns(int i) { return (test_ns){.start = i * 1000, .end = i * 1000 + 999}; }
static inline const void *ns_bytes(const test_ns *n, int i) { return i ? (const void *)n : NULL; }
static inline uint32_t ns_len(int i) { return i ? (uint32_t)sizeof(test_ns) : 0; }

/* ---- worlds: a backend with every kind declared ---------------------------------------------- */

typedef struct world {
    fl_keyed_backend *b;
    fl_kstate *v, *vt, *l, *m, *r, *a;
} world;

static inline fl_kstate *fx_declare(fixture *fx, fl_keyed_backend *b, const char *name,
                                    fl_error *err) {
    fl_state_desc d = {.name = name, .value_schema = fx->one};
    if (!strcmp(name, "v")) {
        d.kind = FL_STATE_VALUE;
    } else if (!strcmp(name, "vt")) {
        d.kind = FL_STATE_VALUE;
        d.ttl_ms = FX_TTL;
        d.ttl_update = fx->ttl;
    } else if (!strcmp(name, "l")) {
        d.kind = FL_STATE_LIST;
        d.value_schema = fx->elem;
    } else if (!strcmp(name, "m")) {
        d.kind = FL_STATE_MAP;
        d.value_schema = fx->elem;
        d.map_key_schema = fx->mkey;
        d.ttl_ms = FX_TTL;
        d.ttl_update = fx->ttl;
    } else if (!strcmp(name, "r")) {
        d.kind = FL_STATE_REDUCING;
        d.reduce = fx_sum;
    } else {
        d.kind = FL_STATE_AGGREGATING;
        d.aggregate = &fx->agg;
        d.result_schema = fx->avg;
    }
    return fl_keyed_backend_state(b, &d, err);
}

/* Declares every state of w->b (created or restored). */
static inline bool world_declare(fixture *fx, world *w) {
    fl_error err;
    fl_error_clear(&err);
    w->v = fx_declare(fx, w->b, "v", &err);
    w->vt = fx_declare(fx, w->b, "vt", &err);
    w->l = fx_declare(fx, w->b, "l", &err);
    w->m = fx_declare(fx, w->b, "m", &err);
    w->r = fx_declare(fx, w->b, "r", &err);
    w->a = fx_declare(fx, w->b, "a", &err);
    if (err.code) fprintf(stderr, "declare: %s\n", err.message);
    return !err.code;
}

static inline world world_create(fixture *fx, int first, int last, int64_t *now) {
    world w = {.b = fl_keyed_backend_create(first, last, FX_MAXP, manual_now, now)};
    if (!world_declare(fx, &w)) abort();
    return w;
}

/* The world among n that owns key i. */
static inline world *world_of(fixture *fx, world *ws, int n, int key) {
    int g = fl_key_group_of_hash(fx->keys[key].hash, FX_MAXP);
    for (int i = 0; i < n; i++)
        if (g >= ws[i].b->first_key_group && g <= ws[i].b->last_key_group) return &ws[i];
    abort();
}

/* ---- the reference model ------------------------------------------------------------------- */

typedef struct mrec {
    bool v_has, vt_has, r_has, a_has;
    int64_t v, vt, vt_dl, r, a_cnt, a_sum;
    int64_t *l;
    size_t l_n, l_cap;
    bool m_has[FX_MK];
    int64_t m[FX_MK], m_dl[FX_MK];
    uint8_t timers[2]; /* bit t: a timer at 1000 + 10 t */
} mrec;

typedef struct model {
    int n_keys;
    mrec *recs; /* [key * FX_NS + ns] */
} model;

static inline model model_create(int n_keys) {
    model m = {.n_keys = n_keys, .recs = calloc((size_t)n_keys * FX_NS, sizeof(mrec))};
    return m;
}
static inline void model_free(model *m) {
    for (int i = 0; i < m->n_keys * FX_NS; i++) free(m->recs[i].l);
    free(m->recs);
}
static inline mrec *rec(model *m, int key, int ns) { return &m->recs[key * FX_NS + ns]; }
static inline void l_push(mrec *r, int64_t v) {
    if (r->l_n == r->l_cap) {
        r->l_cap = r->l_cap ? r->l_cap * 2 : 4;
        r->l = realloc(r->l, r->l_cap * sizeof *r->l);
    }
    r->l[r->l_n++] = v;
}
/* Live entries at now, as fl_keyed_backend_entries counts them. */
static inline size_t model_entries(model *m, int64_t now) {
    size_t n = 0;
    for (int i = 0; i < m->n_keys * FX_NS; i++) {
        mrec *r = &m->recs[i];
        n += r->v_has + (r->vt_has && r->vt_dl > now) + (r->l_n > 0) + r->r_has + r->a_has;
        for (int k = 0; k < FX_MK; k++) n += r->m_has[k] && r->m_dl[k] > now;
    }
    return n;
}

/* ---- operations ---------------------------------------------------------------------------- */

enum {
    OP_V_PUT,
    OP_V_CLEAR,
    OP_VT_PUT,
    OP_VT_CLEAR,
    OP_L_ADD,
    OP_L_SET,
    OP_L_CLEAR,
    OP_M_PUT,
    OP_M_DEL,
    OP_M_CLEAR,
    OP_R_ADD,
    OP_A_ADD,
    OP_MERGE,
    OP_T_REG,
    OP_T_DEL,
    OP_T_POP,
    OP_TICK,
    OP_READ,
};

typedef struct op {
    int type, key, ns, mk, dom, t, which, n;
    int64_t val;
} op;

static inline op gen_op(test_rng *rng, int n_keys) {
    static const struct {
        int type, weight;
    } mix[] = {{OP_V_PUT, 10}, {OP_V_CLEAR, 2}, {OP_VT_PUT, 8}, {OP_VT_CLEAR, 1}, {OP_L_ADD, 10},
               {OP_L_SET, 3},  {OP_L_CLEAR, 2}, {OP_M_PUT, 12}, {OP_M_DEL, 4},    {OP_M_CLEAR, 1},
               {OP_R_ADD, 8},  {OP_A_ADD, 8},   {OP_MERGE, 2},  {OP_T_REG, 8},    {OP_T_DEL, 3},
               {OP_T_POP, 1},  {OP_TICK, 2},    {OP_READ, 6}};
    int total = 0;
    for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++) total += mix[i].weight;
    int x = (int)rng_below(rng, (uint32_t)total);
    op o = {0};
    for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++) {
        if (x < mix[i].weight) {
            o.type = mix[i].type;
            break;
        }
        x -= mix[i].weight;
    }
    o.key = (int)rng_below(rng, (uint32_t)n_keys);
    o.ns = (int)rng_below(rng, FX_NS);
    o.mk = (int)rng_below(rng, FX_MK);
    o.dom = (int)rng_below(rng, 2);
    o.t = (int)rng_below(rng, FX_T);
    o.which = (int)rng_below(rng, 6);
    o.n = (int)rng_below(rng, 4);
    o.val = (int64_t)rng_below(rng, 1000);
    if (o.type == OP_TICK) o.val = 1 + (int64_t)rng_below(rng, 30);
    return o;
}

static inline int fx_count_key(void *arg, const void *key, uint32_t klen) {
    (void)key;
    (void)klen;
    ++*(int *)arg;
    return 0;
}

/* Applies o to the world that owns its key (and to m when not NULL). */
static inline void apply_op(fixture *fx, world *ws, int n_worlds, model *md, const op *o,
                            int64_t now) {
    if (o->type == OP_TICK) return; /* the caller moves the clock */
    if (o->type == OP_T_POP) {
        int64_t upto = 1000 + 10 * o->t;
        fl_timer t;
        for (int i = 0; i < n_worlds; i++)
            while (fl_timer_pop(ws[i].b, FL_PROCESSING_TIME, upto, &t)) {
            }
        if (md)
            for (int i = 0; i < md->n_keys * FX_NS; i++)
                md->recs[i].timers[1] &= (uint8_t) ~((2u << o->t) - 1);
        return;
    }
    world *w = world_of(fx, ws, n_worlds, o->key);
    set_key(w->b, &fx->keys[o->key]);
    test_ns nsb = fx_ns(o->ns);
    const void *ns = ns_bytes(&nsb, o->ns);
    uint32_t nl = ns_len(o->ns);
    mrec *r = md ? rec(md, o->key, o->ns) : NULL;
    switch (o->type) {
    case OP_V_PUT:
        fl_kstate_set_namespace(w->v, ns, nl);
        fl_kstate_value_update(w->v, row_one(fx, o->val));
        if (r) r->v_has = true, r->v = o->val;
        break;
    case OP_V_CLEAR:
        fl_kstate_set_namespace(w->v, ns, nl);
        fl_kstate_clear(w->v);
        if (r) r->v_has = false;
        break;
    case OP_VT_PUT:
        fl_kstate_set_namespace(w->vt, ns, nl);
        fl_kstate_value_update(w->vt, row_one(fx, o->val));
        if (r) r->vt_has = true, r->vt = o->val, r->vt_dl = now + FX_TTL;
        break;
    case OP_VT_CLEAR:
        fl_kstate_set_namespace(w->vt, ns, nl);
        fl_kstate_value_update(w->vt, NULL);
        if (r) r->vt_has = false;
        break;
    case OP_L_ADD:
        fl_kstate_set_namespace(w->l, ns, nl);
        fl_kstate_list_add(w->l, row_elem(fx, o->val));
        if (r) l_push(r, o->val);
        break;
    case OP_L_SET: {
        fl_kstate_set_namespace(w->l, ns, nl);
        fl_row *rows[4];
        for (int i = 0; i < o->n; i++) rows[i] = fl_row_copy(row_elem(fx, o->val + i));
        fl_kstate_list_update(w->l, (const fl_row *const *)rows, (size_t)o->n);
        for (int i = 0; i < o->n; i++) free(rows[i]);
        if (r) {
            r->l_n = 0;
            for (int i = 0; i < o->n; i++) l_push(r, o->val + i);
        }
        break;
    }
    case OP_L_CLEAR:
        fl_kstate_set_namespace(w->l, ns, nl);
        fl_kstate_clear(w->l);
        if (r) r->l_n = 0;
        break;
    case OP_M_PUT: {
        fl_kstate_set_namespace(w->m, ns, nl);
        fl_row *k = fl_row_copy(row_mkey(fx, o->mk));
        fl_kstate_map_put(w->m, k, row_elem(fx, o->val));
        free(k);
        if (r) r->m_has[o->mk] = true, r->m[o->mk] = o->val, r->m_dl[o->mk] = now + FX_TTL;
        break;
    }
    case OP_M_DEL:
        fl_kstate_set_namespace(w->m, ns, nl);
        fl_kstate_map_remove(w->m, row_mkey(fx, o->mk));
        if (r) r->m_has[o->mk] = false;
        break;
    case OP_M_CLEAR:
        fl_kstate_set_namespace(w->m, ns, nl);
        fl_kstate_clear(w->m);
        if (r) memset(r->m_has, 0, sizeof r->m_has);
        break;
    case OP_R_ADD:
        fl_kstate_set_namespace(w->r, ns, nl);
        fl_kstate_add(w->r, row_one(fx, o->val));
        if (r) r->r = (r->r_has ? r->r : 0) + o->val, r->r_has = true;
        break;
    case OP_A_ADD:
        fl_kstate_set_namespace(w->a, ns, nl);
        fl_kstate_add(w->a, row_one(fx, o->val));
        if (r) {
            if (!r->a_has) r->a_cnt = r->a_sum = 0;
            r->a_has = true;
            r->a_cnt++;
            r->a_sum += o->val;
        }
        break;
    case OP_MERGE: {
        /* the other two namespaces into o->ns, in one of the three states */
        test_ns src_ns[2];
        const void *srcs[2];
        uint32_t lens[2];
        int idx[2], k = 0;
        for (int i = 0; i < FX_NS; i++)
            if (i != o->ns) {
                idx[k] = i;
                src_ns[k] = fx_ns(i);
                srcs[k] = ns_bytes(&src_ns[k], i);
                lens[k] = ns_len(i);
                k++;
            }
        fl_kstate *s = o->which % 3 == 0 ? w->l : o->which % 3 == 1 ? w->r : w->a;
        fl_kstate_merge_namespaces(s, ns, nl, srcs, lens, 2);
        if (!md) break;
        for (int i = 0; i < 2; i++) {
            mrec *src = rec(md, o->key, idx[i]);
            if (s == w->l) {
                for (size_t j = 0; j < src->l_n; j++) l_push(r, src->l[j]);
                src->l_n = 0;
            } else if (s == w->r && src->r_has) {
                r->r = (r->r_has ? r->r : 0) + src->r;
                r->r_has = true;
                src->r_has = false;
            } else if (s == w->a && src->a_has) {
                if (!r->a_has) r->a_cnt = r->a_sum = 0;
                r->a_has = true;
                r->a_cnt += src->a_cnt;
                r->a_sum += src->a_sum;
                src->a_has = false;
            }
        }
        break;
    }
    case OP_T_REG:
        fl_timer_register(w->b, o->dom ? FL_PROCESSING_TIME : FL_EVENT_TIME, 1000 + 10 * o->t, ns,
                          nl);
        if (r) r->timers[o->dom] |= (uint8_t)(1u << o->t);
        break;
    case OP_T_DEL:
        fl_timer_delete(w->b, o->dom ? FL_PROCESSING_TIME : FL_EVENT_TIME, 1000 + 10 * o->t, ns,
                        nl);
        if (r) r->timers[o->dom] &= (uint8_t) ~(1u << o->t);
        break;
    case OP_READ: {
        /* reads: no effect on the model under FL_TTL_ON_CREATE_AND_WRITE */
        const fl_row *const *keys, *const *vals;
        size_t n;
        int count = 0;
        switch (o->which) {
        case 0:
            fl_kstate_set_namespace(w->vt, ns, nl);
            fl_kstate_value_get(w->vt);
            break;
        case 1:
            fl_kstate_set_namespace(w->m, ns, nl);
            fl_kstate_map_get(w->m, row_mkey(fx, o->mk));
            break;
        case 2:
            fl_kstate_set_namespace(w->m, ns, nl);
            fl_kstate_map_entries(w->m, &keys, &vals);
            break;
        case 3:
            fl_kstate_for_each_key(w->r, ns, nl, fx_count_key, &count);
            break;
        case 4:
            fl_kstate_set_namespace(w->m, ns, nl);
            fl_kstate_is_empty(w->m);
            break;
        default:
            fl_kstate_set_namespace(w->l, ns, nl);
            fl_kstate_list_get(w->l, &n);
            break;
        }
        break;
    }
    }
}

/* One random operation on the worlds (and the model); moves *now on a tick. */
static inline void step(fixture *fx, world *ws, int n_worlds, model *md, test_rng *rng,
                        int64_t *now) {
    op o = gen_op(rng, fx->n_keys);
    if (o.type == OP_TICK) {
        *now += o.val;
        return;
    }
    apply_op(fx, ws, n_worlds, md, &o, *now);
}

/* ---- checking backends against the model ----------------------------------------------------- */

/* The deadline of the current (key, namespace) entry of s, white-box; and of
 * map entry mk when s is a map. INT64_MIN when absent. */
static inline int64_t entry_deadline(fixture *fx, fl_kstate *s, int mk) {
    fl__loc loc;
    if (!fl__kstate_locate(s, &loc) || !loc.e) return INT64_MIN;
    if (s->kind != FL_STATE_MAP) return loc.e->deadline;
    const fl_row *k = row_mkey(fx, mk);
    uint32_t slot;
    fl__entry *me = fl__table_find(fl__map_nested(loc.e), fl__map_key_hash(k, fl__row_len(k)), k,
                                   fl__row_len(k), NULL, 0, &slot);
    return me ? me->deadline : INT64_MIN;
}

#define FX_FAIL(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        return false;                                                                              \
    } while (0)

/* Every (key, namespace) of the model read back from the world that owns
 * it (the others must not have it), TTL deadlines included; every timer
 * popped from the worlds is one of the model's, and each of the model's is
 * popped once. Consumes the timers (of the worlds and the model). With
 * exact, the worlds' entry counts must be the model's (true after a
 * restore, which drops expired entries; not before, when expired entries
 * nobody read again are still there). */
static inline bool check_worlds(fixture *fx, world *ws, int n_worlds, model *md, int64_t now,
                                bool exact) {
    size_t entries = 0;
    for (int i = 0; i < n_worlds; i++) entries += fl_keyed_backend_entries(ws[i].b);
    if (exact && entries != model_entries(md, now))
        FX_FAIL("entries: backends have %zu, the model %zu", entries, model_entries(md, now));
    for (int key = 0; key < md->n_keys; key++) {
        world *w = world_of(fx, ws, n_worlds, key);
        for (int i = 0; i < n_worlds; i++) {
            set_key(ws[i].b, &fx->keys[key]);
            if ((&ws[i] == w) != (fl_keyed_backend_key_group(ws[i].b) >= 0))
                FX_FAIL("key %d: key group ownership is wrong", key);
        }
        set_key(w->b, &fx->keys[key]);
        for (int nsi = 0; nsi < FX_NS; nsi++) {
            mrec *r = rec(md, key, nsi);
            test_ns nsb = fx_ns(nsi);
            const void *ns = ns_bytes(&nsb, nsi);
            uint32_t nl = ns_len(nsi);
            fl_kstate *all[] = {w->v, w->vt, w->l, w->m, w->r, w->a};
            for (int s = 0; s < 6; s++) fl_kstate_set_namespace(all[s], ns, nl);

            bool vt_live = r->vt_has && r->vt_dl > now;
            if (vt_live && entry_deadline(fx, w->vt, 0) != r->vt_dl)
                FX_FAIL("key %d ns %d: vt deadline %lld, model %lld", key, nsi,
                        (long long)entry_deadline(fx, w->vt, 0), (long long)r->vt_dl);
            for (int k = 0; k < FX_MK; k++) {
                bool live = r->m_has[k] && r->m_dl[k] > now;
                if (live && entry_deadline(fx, w->m, k) != r->m_dl[k])
                    FX_FAIL("key %d ns %d mk %d: map deadline is wrong", key, nsi, k);
            }

            const fl_row *got = fl_kstate_value_get(w->v);
            if (r->v_has != (got != NULL) || (got && fl_row_get_bigint(got, 0) != r->v))
                FX_FAIL("key %d ns %d: value differs", key, nsi);
            got = fl_kstate_value_get(w->vt);
            if (vt_live != (got != NULL) || (got && fl_row_get_bigint(got, 0) != r->vt))
                FX_FAIL("key %d ns %d: ttl value differs", key, nsi);
            size_t n;
            const fl_row *const *els = fl_kstate_list_get(w->l, &n);
            if (n != r->l_n) FX_FAIL("key %d ns %d: list has %zu, model %zu", key, nsi, n, r->l_n);
            for (size_t j = 0; j < n; j++)
                if (!elem_is(els[j], r->l[j]))
                    FX_FAIL("key %d ns %d: list element %zu", key, nsi, j);
            size_t live_m = 0;
            for (int k = 0; k < FX_MK; k++) {
                bool live = r->m_has[k] && r->m_dl[k] > now;
                live_m += live;
                got = fl_kstate_map_get(w->m, row_mkey(fx, k));
                if (live != (got != NULL) || (got && !elem_is(got, r->m[k])))
                    FX_FAIL("key %d ns %d: map key %d differs", key, nsi, k);
            }
            const fl_row *const *mks, *const *mvs;
            if (fl_kstate_map_entries(w->m, &mks, &mvs) != live_m)
                FX_FAIL("key %d ns %d: map size differs", key, nsi);
            got = fl_kstate_get(w->r);
            if (r->r_has != (got != NULL) || (got && fl_row_get_bigint(got, 0) != r->r))
                FX_FAIL("key %d ns %d: reducing differs", key, nsi);
            got = fl_kstate_get(w->a);
            if (r->a_has != (got != NULL) ||
                (got && fl_row_get_double(got, 0) != (double)r->a_sum / (double)r->a_cnt))
                FX_FAIL("key %d ns %d: aggregating differs", key, nsi);
        }
    }
    /* timers: pop everything, each must be expected and seen once */
    uint8_t *seen = calloc((size_t)md->n_keys * FX_NS * 2, 1);
    bool ok = true;
    for (int i = 0; i < n_worlds && ok; i++)
        for (int d = 0; d < 2 && ok; d++) {
            fl_timer t;
            int64_t last = INT64_MIN;
            while (ok &&
                   fl_timer_pop(ws[i].b, d ? FL_PROCESSING_TIME : FL_EVENT_TIME, INT64_MAX, &t)) {
                int64_t kv = key_value(t.key);
                int key = (int)((kv - 3) / 7919), nsi = 0, ti = (int)((t.time - 1000) / 10);
                if (t.ns_len) nsi = (int)(((const test_ns *)t.ns)->start / 1000);
                uint8_t *bits = &seen[(key * FX_NS + nsi) * 2 + d];
                if (t.time < last || key < 0 || key >= md->n_keys || (*bits >> ti & 1) ||
                    !(rec(md, key, nsi)->timers[d] >> ti & 1)) {
                    fprintf(stderr, "timer (%d, key %d, ns %d, t %d) unexpected\n", d, key, nsi,
                            ti);
                    ok = false;
                }
                *bits |= (uint8_t)(1u << ti);
                last = t.time;
            }
        }
    for (int i = 0; i < md->n_keys * FX_NS && ok; i++)
        for (int d = 0; d < 2; d++)
            if (seen[i * 2 + d] != md->recs[i].timers[d]) {
                fprintf(stderr, "timers of key %d ns %d domain %d missing\n", i / FX_NS, i % FX_NS,
                        d);
                ok = false;
            }
    free(seen);
    for (int i = 0; i < md->n_keys * FX_NS; i++) md->recs[i].timers[0] = md->recs[i].timers[1] = 0;
    return ok;
}

#endif
