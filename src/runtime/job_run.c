/*
 * job_run.c - turns an ExecutionGraph into running tasks and reports how the
 * job ended.
 *
 * Creation does everything that can fail before a thread starts: reading the
 * run settings, resolving every user function by name, building each task's
 * operator chain, and wiring channels (producer subtask i of an edge writes to
 * channel base + i - first_producer of each consumer it feeds). The first
 * task failure cancels every other task; wait() reports it with the subtask's
 * name.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "mem.h"
#include "runtime_int.h"
#include "storage.h"

struct fl_job_run {
    const fl_execution_graph *eg;
    fl_run_settings settings;
    fl_task *tasks; /* like eg->subtasks */
    int n_tasks;
    fl_kv *params;

    fl_checkpoint_settings ckpt;
    fl_coordinator *coordinator;
    fl_snapshot_writer *snapshot_writer;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_running;
    bool started;
    bool cancel_requested;
    bool stopped; /* stop-with-savepoint */
    fl_job_status status;
    fl_error failure;
};

const char *fl_job_status_name(fl_job_status s) {
    static const char *const names[] = {"CREATED", "RUNNING", "FINISHED", "FAILED", "CANCELED"};
    return (unsigned)s < 5 ? names[s] : "UNKNOWN";
}

const fl_kv *fl__task_params(const fl_task *t) { return t->run->params; }

/* ---- settings -------------------------------------------------------------------------- */

static int read_checkpoint_settings(const fl_config *c, fl_checkpoint_settings *s,
                                    fl_error *err) {
    int64_t interval, timeout, pause, conc, tol;
    int rc = fl_config_get_duration_ms(c, "execution.checkpointing.interval", 0, &interval, err);
    if (rc == 0)
        rc = fl_config_get_duration_ms(c, "execution.checkpointing.timeout", 600000, &timeout, err);
    if (rc == 0)
        rc = fl_config_get_duration_ms(c, "execution.checkpointing.min-pause", 0, &pause, err);
    if (rc == 0)
        rc = fl_config_get_int(c, "execution.checkpointing.max-concurrent-checkpoints", 1, &conc,
                               err);
    if (rc == 0)
        rc = fl_config_get_int(c, "execution.checkpointing.tolerable-failed-checkpoints", 0, &tol,
                               err);
    if (rc < 0) return rc;
    const char *mode = fl_config_get(c, "execution.checkpointing.mode");
    if (mode && strcasecmp(mode, "EXACTLY_ONCE") && strcasecmp(mode, "AT_LEAST_ONCE"))
        return fl_error_set(err, FL_ECONFIG,
                            "invalid value \"%s\" for \"execution.checkpointing.mode\": expected "
                            "EXACTLY_ONCE or AT_LEAST_ONCE",
                            mode);
    if (interval < 0 || timeout <= 0 || pause < 0 || conc < 1 || tol < 0)
        return fl_error_set(err, FL_ECONFIG,
                            "checkpointing needs interval >= 0, timeout > 0, min-pause >= 0, "
                            "max-concurrent-checkpoints >= 1 and tolerable-failed-checkpoints >= 0");
    s->interval_ms = interval;
    s->timeout_ms = timeout;
    s->min_pause_ms = pause;
    s->max_concurrent = (int)conc;
    s->tolerable_failures = (int)tol;
    s->mode = (mode && !strcasecmp(mode, "AT_LEAST_ONCE")) ? FL_CKPT_AT_LEAST_ONCE
                                                           : FL_CKPT_EXACTLY_ONCE;
    return 0;
}

static int read_settings(const fl_stream_graph *g, fl_run_settings *s,
                         fl_checkpoint_settings *ckpt, fl_error *err) {
    fl_config *c = fl_config_create();
    for (size_t i = 0; i < fl_kv_count(g->config); i++)
        fl_config_set(c, fl_kv_key(g->config, i), fl_kv_value(g->config, i));
    int64_t size, per_channel, floating, wm_interval;
    int rc = fl_config_get_size(c, FL_CONF_BUFFER_SIZE, 32 * 1024, &size, err);
    if (rc == 0)
        rc = fl_config_get_duration_ms(c, "pipeline.auto-watermark-interval", 200, &wm_interval,
                                       err);
    if (rc == 0) rc = fl_config_get_int(c, FL_CONF_BUFFERS_PER_CHANNEL, 2, &per_channel, err);
    if (rc == 0) rc = fl_config_get_int(c, FL_CONF_FLOATING_BUFFERS, 8, &floating, err);
    const char *mode = fl_config_get(c, "execution.runtime-mode");
    if (rc == 0 && (size < 4096 || size > (1 << 30)))
        rc = fl_error_set(err, FL_ECONFIG, "%s must be between 4kb and 1gb, not \"%s\"",
                          FL_CONF_BUFFER_SIZE, fl_config_get(c, FL_CONF_BUFFER_SIZE));
    if (rc == 0 && (per_channel < 1 || floating < 0))
        rc = fl_error_set(err, FL_ECONFIG, "%s must be >= 1 and %s >= 0",
                          FL_CONF_BUFFERS_PER_CHANNEL, FL_CONF_FLOATING_BUFFERS);
    if (rc == 0) {
        s->watermark_interval_ms = wm_interval;
        s->buffer_size = (uint32_t)size;
        s->buffers_per_channel = (int)per_channel;
        s->floating_buffers = (int)floating;
        s->buffer_timeout_ns = g->buffer_timeout_ms < 0 ? -1 : g->buffer_timeout_ms * 1000000LL;
        s->runtime_mode =
            (mode && strcasecmp(mode, "BATCH") == 0) ? FL_RUNTIME_BATCH : FL_RUNTIME_STREAMING;
    }
    if (rc == 0) rc = read_checkpoint_settings(c, ckpt, err);
    if (rc == 0) {
        int64_t rows = 0, at_ms = 0;
        const char *at = fl_config_get(c, "flinc.savepoint-at");
        if (at && fl_parse_int(at, &rows) < 0 && fl_parse_duration_ms(at, &at_ms) < 0)
            rc = fl_error_set(err, FL_ECONFIG,
                              "invalid value \"%s\" for \"flinc.savepoint-at\": expected a row "
                              "count such as 100000 or a duration such as \"10 s\"",
                              at);
        ckpt->savepoint_at_rows = rows;
        ckpt->savepoint_at_ms = at_ms;
        bool on_interrupt = false;
        const char *oi = fl_config_get(c, "flinc.savepoint-on-interrupt");
        if (oi) fl_parse_bool(oi, &on_interrupt);
        const char *drain = fl_config_get(c, "flinc.savepoint-drain");
        if (drain && fl_parse_bool(drain, &ckpt->savepoint_drain) < 0)
            rc = fl_error_set(err, FL_ECONFIG,
                              "invalid value \"%s\" for \"flinc.savepoint-drain\": expected true "
                              "or false",
                              drain);
        /* Tasks take snapshots when checkpoints or savepoints can happen. */
        bool savepoints = rows > 0 || at_ms > 0 || on_interrupt ||
                          fl_checkpoint_config_get(c, FL_CONF_SAVEPOINTS_DIR, NULL) != NULL;
        s->checkpoint_mode = ckpt->interval_ms > 0 || savepoints ? ckpt->mode : 0;
        bool unaligned = false;
        const char *u = fl_config_get(c, "execution.checkpointing.unaligned");
        if (!u) u = fl_config_get(c, "execution.checkpointing.unaligned.enabled");
        if (u && fl_parse_bool(u, &unaligned) < 0)
            rc = fl_error_set(err, FL_ECONFIG,
                              "invalid value \"%s\" for \"execution.checkpointing.unaligned\": "
                              "expected true or false",
                              u);
        /* Unaligned needs exactly-once; at-least-once has no alignment to skip. */
        s->unaligned = unaligned && s->checkpoint_mode == FL_CKPT_EXACTLY_ONCE;
    }
    fl_config_destroy(c);
    return rc;
}

/* ---- function resolution ------------------------------------------------------------------ */

static int resolve(const fl_job_run_options *o, const fl_stream_node *n, const char *symbol,
                   const char *role, void **out, fl_error *err) {
    *out = NULL;
    if (!symbol) return 0;
    *out = o->resolve ? o->resolve(o->resolve_arg, symbol) : NULL;
    if (*out) return 0;
    return fl_error_set(err, FL_ERESOLVE,
                        "%s \"%s\" of operator \"%s\" cannot be resolved in %s; user functions "
                        "must be exported (non-static) symbols of the job",
                        role, symbol, n->name, o->job_file ? o->job_file : "the program");
}

/* Resolves the node's "fn.<role>" options into op->fns. */
static int resolve_role_fns(const fl_job_run_options *o, fl_operator *op, fl_error *err) {
    const fl_kv *opts = op->node->options;
    op->fns = fl_xcalloc(fl_kv_count(opts) + 1, sizeof *op->fns);
    for (size_t i = 0; i < fl_kv_count(opts); i++) {
        const char *key = fl_kv_key(opts, i);
        if (strncmp(key, "fn.", 3) != 0) continue;
        void *fn;
        int rc = resolve(o, op->node, fl_kv_value(opts, i), key + 3, &fn, err);
        if (rc < 0) return rc;
        op->fns[op->n_fns].role = key + 3;
        op->fns[op->n_fns].fn = fn;
        op->n_fns++;
    }
    return 0;
}

/* ---- wiring -----------------------------------------------------------------------------------
 */

static fl_task *task_of(fl_job_run *r, int vertex, int subtask) {
    return &r->tasks[r->eg->first_subtask[vertex] + subtask];
}

/* Channel index at consumer subtask `consumer` of job edge e for producer subtask
 * `producer`: channels are numbered over the consumer vertex's input edges in
 * order, each edge contributing its producers. */
static int channel_index(const fl_job_graph *jg, const fl_job_edge *e, int consumer, int producer) {
    const fl_job_vertex *cv = &jg->vertices[e->target_vertex];
    int base = 0;
    for (int i = 0; i < cv->n_inputs; i++) {
        const fl_job_edge *in = &jg->edges[cv->inputs[i]];
        int P = jg->vertices[in->source_vertex].parallelism;
        int first, count;
        fl_edge_producers(in->partitioner, P, cv->parallelism, consumer, &first, &count);
        if (in == e) return base + producer - first;
        base += count;
    }
    return -1;
}

static int count_channels(const fl_job_graph *jg, const fl_job_vertex *v, int subtask,
                          fl_input_channel **channels) {
    int total = 0;
    for (int pass = 0; pass < 2; pass++) {
        int c = 0;
        for (int i = 0; i < v->n_inputs; i++) {
            const fl_job_edge *in = &jg->edges[v->inputs[i]];
            int P = jg->vertices[in->source_vertex].parallelism;
            int first, count;
            fl_edge_producers(in->partitioner, P, v->parallelism, subtask, &first, &count);
            for (int k = 0; pass == 1 && k < count; k++) {
                (*channels)[c + k].watermark = INT64_MIN;
                (*channels)[c + k].input =
                    jg->stream->nodes[in->target_node]->inputs[in->target_input].input;
            }
            c += count;
        }
        total = c;
        if (pass == 0) *channels = fl_xcalloc(total ? (size_t)total : 1, sizeof **channels);
    }
    return total;
}

/* A manual clock moved: a processing-time callback may be due. */
static void on_clock_moved(void *arg) {
    fl_task *t = arg;
    pthread_mutex_lock(&t->mu);
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void on_buffer_returned(void *arg) {
    fl_task *t = arg;
    pthread_mutex_lock(&t->mu);
    t->buffer_returned = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static int build_writer(fl_job_run *r, fl_task *t, fl_operator *owner, const fl_job_edge *e,
                        fl_record_writer *w, const fl_job_run_options *o, fl_error *err) {
    const fl_job_graph *jg = r->eg->job;
    const fl_job_vertex *cv = &jg->vertices[e->target_vertex];
    const fl_stream_node *target = jg->stream->nodes[e->target_node];
    const fl_stream_edge *se = &target->inputs[e->target_input];
    memset(w, 0, sizeof *w);
    w->task = t;
    w->edge = e;
    w->owner = owner;
    w->partitioner = e->partitioner;
    w->consumer_parallelism = cv->parallelism;
    w->max_parallelism = cv->max_parallelism;
    int first, count;
    fl_edge_consumers(e->partitioner, t->parallelism, cv->parallelism, t->subtask, &first, &count);
    /* GLOBAL sends every record to consumer 0 but watermarks and end of
     * partition to all of them, so every consumer's input ends. */
    w->first_consumer = first;
    w->n_subs = count;
    w->subs = fl_xcalloc((size_t)count, sizeof *w->subs);
    for (int k = 0; k < count; k++) {
        w->subs[k].consumer = task_of(r, e->target_vertex, first + k);
        w->subs[k].consumer_channel = channel_index(jg, e, first + k, t->subtask);
    }
    w->next_channel = (uint32_t)t->subtask;
    w->rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)(t->subtask + 1) * 0xBF58476D1CE4E5B9ULL);
    if (e->partitioner == FL_PART_HASH || e->partitioner == FL_PART_CUSTOM) {
        if (!se->key)
            return fl_error_set(err, FL_EINVAL, "edge into \"%s\" is %s but has no key",
                                target->name, fl_partitioner_name(e->partitioner));
        void *selector = NULL;
        int rc = resolve(o, target, se->key->selector, "key selector", &selector, err);
        if (rc == 0 && e->partitioner == FL_PART_CUSTOM) {
            void *fn;
            rc = resolve(o, target, se->partition_fn, "partitioner", &fn, err);
            if (rc == 0 && !fn)
                rc = fl_error_set(err, FL_EINVAL, "custom partitioning into \"%s\" has no function",
                                  target->name);
            w->custom = (fl_partition_fn)fn;
        }
        if (rc < 0) return rc;
        fl__key_extractor_init(&w->key, se->key, selector, &owner->ctx);
    }
    return 0;
}

static bool same_tag(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Connects output `out` of op (its main output when tag is NULL, else side
 * output tag) to the chained operators and network edges that read it. */
static int wire_output(fl_job_run *r, fl_task *t, fl_operator *op, fl_output *out,
                       const char *tag, const fl_job_run_options *o, int *total_subs,
                       fl_error *err) {
    const fl_job_graph *jg = r->eg->job;
    const fl_stream_graph *sg = jg->stream;
    const fl_job_vertex *v = t->vertex;
    out->targets = fl_xcalloc((size_t)(v->n_nodes + v->n_outputs), sizeof *out->targets);
    for (int j = 0; j < v->n_nodes; j++) {
        const fl_stream_node *m = sg->nodes[v->nodes[j]];
        if (&t->ops[j] != op && m->n_inputs == 1 && m->inputs[0].source_id == op->node->id &&
            same_tag(m->inputs[0].side_output, tag))
            out->targets[out->n_targets++].chained = &t->ops[j];
    }
    for (int k = 0; k < v->n_outputs; k++) {
        const fl_job_edge *e = &jg->edges[v->outputs[k]];
        const fl_stream_edge *se = &sg->nodes[e->target_node]->inputs[e->target_input];
        if (e->source_node != op->node->id || !same_tag(se->side_output, tag)) continue;
        fl_record_writer *w = &t->writers[t->n_writers++];
        int rc = build_writer(r, t, op, e, w, o, err);
        if (rc < 0) return rc;
        *total_subs += w->n_subs;
        out->targets[out->n_targets++].writer = w;
    }
    return 0;
}

static int build_task(fl_job_run *r, fl_task *t, const fl_job_run_options *o, fl_error *err) {
    const fl_job_graph *jg = r->eg->job;
    const fl_stream_graph *sg = jg->stream;
    const fl_job_vertex *v = t->vertex;
    t->name = fl_xasprintf("%s (%d/%d)", v->name, t->subtask + 1, t->parallelism);
    t->watermark = INT64_MIN;
    fl__batch_init(&t->in_batch, FL_BATCH_ROWS);
    t->n_channels = count_channels(jg, v, t->subtask, &t->channels);

    t->n_ops = v->n_nodes;
    t->ops = fl_xcalloc((size_t)v->n_nodes, sizeof *t->ops);
    t->writers = fl_xcalloc(v->n_outputs ? (size_t)v->n_outputs : 1, sizeof *t->writers);

    for (int i = 0; i < v->n_nodes; i++) {
        const fl_stream_node *n = sg->nodes[v->nodes[i]];
        fl_operator *op = &t->ops[i];
        op->node = n;
        op->task = t;
        op->index = i;
        op->ops = fl__operator_ops(n->op);
        if (!op->ops)
            return fl_error_set(err, FL_EINVAL, "operator \"%s\" has unknown kind \"%s\"", n->name,
                                n->op ? n->op : "(none)");
        if (n->n_inputs > 0) op->input_schema = fl_stream_edge_schema(sg, &n->inputs[0]);
        op->ctx.task = t;
        op->ctx.op = op;
        op->ctx.arg = n->arg;
        op->ctx.arg_len = n->arg_len;
        op->ctx.timestamp = INT64_MIN;
        void *open_fn, *close_fn;
        int rc = resolve(o, n, n->fn, "function", &op->fn, err);
        if (rc == 0) rc = resolve(o, n, n->open_fn, "open function", &open_fn, err);
        if (rc == 0) rc = resolve(o, n, n->close_fn, "close function", &close_fn, err);
        if (rc == 0 && n->key)
            rc = resolve(o, n, n->key->selector, "key selector", &op->key_selector, err);
        if (rc == 0) rc = resolve_role_fns(o, op, err);
        if (rc < 0) return rc;
        op->open_hook = (fl_open_fn)open_fn;
        op->close_hook = (fl_close_fn)close_fn;
        op->out.task = t;
        fl__batch_init(&op->out.batch, FL_BATCH_ROWS);
    }

    /* Each operator's outputs (main, then its side outputs) and their
     * targets: chained successors, then network edges. */
    int total_subs = 0;
    for (int i = 0; i < v->n_nodes; i++) {
        fl_operator *op = &t->ops[i];
        const fl_stream_node *n = op->node;
        op->watermark = INT64_MIN;
        op->n_side_outs = n->n_side_outputs;
        op->side_outs = fl_xcalloc((size_t)(n->n_side_outputs + 1), sizeof *op->side_outs);
        for (int so = -1; so < n->n_side_outputs; so++) {
            const char *tag = so < 0 ? NULL : n->side_outputs[so].tag;
            fl_output *out = so < 0 ? &op->out : &op->side_outs[so].out;
            if (so >= 0) {
                op->side_outs[so].tag = tag;
                out->task = t;
                fl__batch_init(&out->batch, FL_BATCH_ROWS);
            }
            int rc = wire_output(r, t, op, out, tag, o, &total_subs, err);
            if (rc < 0) return rc;
        }
    }
    if (total_subs > 0) {
        int count = total_subs * r->settings.buffers_per_channel + r->settings.floating_buffers;
        t->pool = fl_buffer_pool_create(count, r->settings.buffer_size, on_buffer_returned, t);
    }
    t->settings = &r->settings;
    return 0;
}

fl_job_run *fl_job_run_create(const fl_execution_graph *eg, const fl_job_run_options *o,
                              fl_error *err) {
    fl_job_run *r = fl_xcalloc(1, sizeof *r);
    r->eg = eg;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->params = fl_kv_clone(eg->job->stream->params);
    r->n_tasks = eg->n_subtasks;
    r->tasks = fl_xcalloc((size_t)(r->n_tasks ? r->n_tasks : 1), sizeof *r->tasks);
    int rc = read_settings(eg->job->stream, &r->settings, &r->ckpt, err);
    r->settings.clock = o->clock;
    r->settings.inject = o->inject;
    r->settings.restore = o->restore;
    r->settings.restarted = o->restarted;
    r->settings.job_id = o->job_id;
    if (r->settings.checkpoint_mode) r->settings.storage = o->storage;
    r->ckpt.storage = r->settings.storage;
    r->ckpt.job_id = o->job_id;
    r->ckpt.job_name = eg->job->stream->job_name;
    for (int i = 0; rc == 0 && i < r->n_tasks; i++) {
        fl_task *t = &r->tasks[i];
        const fl_execution_vertex *ev = &eg->subtasks[i];
        t->run = r;
        t->eg = eg;
        t->vertex = &eg->job->vertices[ev->vertex];
        t->subtask = ev->subtask;
        t->parallelism = t->vertex->parallelism;
        t->settings = &r->settings;
        t->clock_listener = -1;
        t->inject_rng = (o->inject.seed + 1) * 0x9E3779B97F4A7C15ULL ^
                        ((uint64_t)(i + 1) << 32) ^ (uint64_t)(eg->attempt + 1) * 0xBF58476D1CE4E5B9ULL;
        pthread_mutex_init(&t->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&t->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    for (int i = 0; rc == 0 && i < r->n_tasks; i++) rc = build_task(r, &r->tasks[i], o, err);
    if (rc < 0) {
        fl_job_run_destroy(r);
        return NULL;
    }
    return r;
}

int fl_job_run_start(fl_job_run *r, fl_error *err) {
    /* Before any task runs: tasks reach both at their first barrier or end. */
    r->coordinator = fl__coordinator_create(r, r->tasks, r->n_tasks, &r->ckpt);
    if (r->settings.storage) r->snapshot_writer = fl__snapshot_writer_start(r);
    pthread_mutex_lock(&r->mu);
    r->status = FL_JOB_RUNNING;
    r->started = true;
    pthread_mutex_unlock(&r->mu);
    if (r->settings.clock)
        for (int i = 0; i < r->n_tasks; i++)
            r->tasks[i].clock_listener =
                fl_manual_clock_listen(r->settings.clock, on_clock_moved, &r->tasks[i]);
    for (int i = 0; i < r->n_tasks; i++) {
        fl_task *t = &r->tasks[i];
        pthread_mutex_lock(&r->mu);
        r->n_running++;
        pthread_mutex_unlock(&r->mu);
        if (pthread_create(&t->thread, NULL, fl__task_thread_main, t) != 0) {
            pthread_mutex_lock(&r->mu);
            r->n_running--;
            pthread_mutex_unlock(&r->mu);
            fl_error e = {0};
            fl_error_set(&e, FL_ERESOURCE, "could not start a thread for task \"%s\"", t->name);
            fl__job_run_task_failed(r, t, &e);
            fl_error_set(err, FL_ERESOURCE, "%s", e.message);
            return FL_ERESOURCE;
        }
        t->started = true;
    }
    fl__coordinator_start(r->coordinator);
    return 0;
}

fl_snapshot_writer *fl__job_run_snapshot_writer(fl_job_run *r) { return r->snapshot_writer; }
fl_coordinator *fl__job_run_coordinator(fl_job_run *r) { return r->coordinator; }

void fl__job_run_stop(fl_job_run *r) {
    /* The tasks end by themselves: each waits after its snapshot of the
     * savepoint and hears that it completed. */
    pthread_mutex_lock(&r->mu);
    r->stopped = true;
    pthread_mutex_unlock(&r->mu);
}

void fl_job_run_savepoint(fl_job_run *r, const char *dir, bool stop) {
    if (r->coordinator) fl__coordinator_savepoint(r->coordinator, dir, stop);
}

int fl_job_run_stop_with_savepoint(fl_job_run *r, const char *dir, bool drain, char *path,
                                   size_t size, fl_error *err) {
    if (!r->coordinator) return fl_error_set(err, FL_ESTATE, "the job has not started");
    return fl__coordinator_stop_with_savepoint(r->coordinator, dir, drain, path, size, err);
}

void fl__job_run_ack(fl_job_run *r, fl_task *t, int64_t id, int64_t align_ns) {
    if (r->coordinator) fl__coordinator_ack(r->coordinator, t, id, align_ns);
}

fl_checkpoint_stats fl_job_run_checkpoint_stats(fl_job_run *r) {
    fl_checkpoint_stats none = {0};
    return r->coordinator ? fl__coordinator_stats(r->coordinator) : none;
}

void fl__job_run_fail(fl_job_run *r, int code, const char *fmt, ...) {
    char msg[FL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bool first;
    pthread_mutex_lock(&r->mu);
    first = r->failure.code == 0;
    if (first) fl_error_set(&r->failure, code, "%s", msg);
    pthread_mutex_unlock(&r->mu);
    if (first) {
        fl_errlog("job", "%s", msg);
        fl_job_run_cancel(r);
    }
}

void fl_job_run_cancel(fl_job_run *r) {
    pthread_mutex_lock(&r->mu);
    r->cancel_requested = true;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->n_tasks; i++) {
        fl_task *t = &r->tasks[i];
        atomic_store(&t->canceled, true);
        pthread_mutex_lock(&t->mu);
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
}

void fl__job_run_task_failed(fl_job_run *r, fl_task *t, const fl_error *err) {
    bool first;
    pthread_mutex_lock(&r->mu);
    first = r->failure.code == 0;
    if (first)
        fl_error_set(&r->failure, err->code ? err->code : FL_EUSER, "task \"%s\" failed: %s",
                     t->name, err->message);
    r->n_running--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (first) {
        fl_errlog("job", "task \"%s\" failed: %s", t->name, err->message);
        fl_job_run_cancel(r);
    }
}

void fl__job_run_task_finished(fl_job_run *r, fl_task *t, bool reached_end) {
    fl_debug("job", "task \"%s\" %s", t->name, reached_end ? "ended" : "was canceled");
    /* Only a task at the end of its input acknowledges later checkpoints
     * implicitly; a canceled one never acknowledges what it did not
     * snapshot (its checkpoints stay pending until aborted). */
    if (r->coordinator && reached_end) fl__coordinator_task_finished(r->coordinator, t);
    pthread_mutex_lock(&r->mu);
    r->n_running--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

fl_job_status fl_job_run_wait(fl_job_run *r, fl_error *err) {
    pthread_mutex_lock(&r->mu);
    while (r->n_running > 0) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    fl__snapshot_writer_stop(r->snapshot_writer);
    r->snapshot_writer = NULL;
    fl__coordinator_stop(r->coordinator);
    for (int i = 0; i < r->n_tasks; i++) {
        if (r->tasks[i].started) pthread_join(r->tasks[i].thread, NULL);
        r->tasks[i].started = false;
        if (r->tasks[i].clock_listener >= 0) {
            fl_manual_clock_unlisten(r->settings.clock, r->tasks[i].clock_listener);
            r->tasks[i].clock_listener = -1;
        }
    }
    pthread_mutex_lock(&r->mu);
    if (r->failure.code) {
        r->status = FL_JOB_FAILED;
        fl_error_set(err, r->failure.code, "%s", r->failure.message);
    } else if (r->stopped) {
        r->status = FL_JOB_FINISHED; /* stopped with a savepoint */
    } else if (r->cancel_requested) {
        r->status = FL_JOB_CANCELED;
        fl_error_set(err, FL_ECANCELED, "the job was canceled");
    } else {
        r->status = FL_JOB_FINISHED;
    }
    fl_job_status s = r->status;
    pthread_mutex_unlock(&r->mu);
    return s;
}

fl_job_status fl_job_run_status(fl_job_run *r) {
    pthread_mutex_lock(&r->mu);
    fl_job_status s = r->status;
    pthread_mutex_unlock(&r->mu);
    return s;
}

void fl_job_run_destroy(fl_job_run *r) {
    if (!r) return;
    /* Every buffer goes home before any pool is freed. */
    for (int i = 0; i < r->n_tasks; i++) {
        fl_task *t = &r->tasks[i];
        fl_buffer *b;
        while ((b = fl_buffer_queue_pop(&t->inbox))) fl_buffer_recycle(b);
    }
    for (int i = 0; i < r->n_tasks; i++) {
        fl_task *t = &r->tasks[i];
        for (int w = 0; w < t->n_writers; w++) fl__writer_fini(&t->writers[w]);
    }
    for (int i = 0; i < r->n_tasks; i++) {
        fl_task *t = &r->tasks[i];
        fl_buffer_pool_destroy(t->pool);
        for (int k = 0; t->ops && k < t->n_ops; k++) {
            fl_operator *op = &t->ops[k];
            fl__batch_fini(&op->out.batch);
            free(op->out.targets);
            for (int so = 0; op->side_outs && so < op->n_side_outs; so++) {
                fl__batch_fini(&op->side_outs[so].out.batch);
                free(op->side_outs[so].out.targets);
            }
            free(op->side_outs);
            free(op->fns);
        }
        free(t->ops);
        free(t->writers);
        free(t->channels);
        free(t->ptimers);
        if (t->clock_listener >= 0) fl_manual_clock_unlisten(r->settings.clock, t->clock_listener);
        fl__batch_fini(&t->in_batch);
        free(t->name);
        if (t->run) {
            pthread_mutex_destroy(&t->mu);
            pthread_cond_destroy(&t->cv);
        }
    }
    fl__coordinator_destroy(r->coordinator);
    /* Mail nobody read (a canceled or failed run). */
    for (int i = 0; i < r->n_tasks; i++) {
        fl_mail *m = r->tasks[i].mail_head;
        while (m) {
            fl_mail *next = m->next;
            free(m);
            m = next;
        }
    }
    free(r->tasks);
    fl_kv_destroy(r->params);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
