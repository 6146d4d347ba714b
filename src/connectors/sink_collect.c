/*
 * sink_collect.c - the "collect" sink: keeps copies of the rows in a
 * process-wide registry entry named by the "id" option, from which the
 * program that ran the job on the embedded cluster reads them
 * (fl_stream_collect, tests).
 *
 * Each subtask copies its rows into a local chunk, so the hot path takes no
 * lock; it hands the whole chunk to the registry under the mutex when the
 * chunk passes 4 MiB, when the input finishes, and at close. The registry
 * owns the chunks and indexes their rows, so the rows of one subtask stay in
 * their order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "connectors.h"
#include "connectors_int.h"
#include "mem.h"

#define NAME "collect"
#define CHUNK_LIMIT ((size_t)4 << 20)

static const fl_option_def options[] = {
    {"id", NULL, true, "registry entry the rows are appended to (fl_collect_registry_row)"},
    {NULL, NULL, false, NULL},
};

/* ---- the registry ------------------------------------------------------------------------ */

typedef struct collect_entry {
    char *id;
    char **chunks; /* owned; rows point into them */
    size_t n_chunks;
    const fl_row **rows;
    size_t n_rows, cap_rows;
} collect_entry;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static collect_entry *entries;
static size_t n_entries;

/* The entry of id, or NULL. Call with the lock held. */
static collect_entry *entry_find(const char *id) {
    for (size_t i = 0; i < n_entries; i++)
        if (strcmp(entries[i].id, id) == 0)
            return &entries[i];
    return NULL;
}

static collect_entry *entry_get(const char *id) {
    collect_entry *e = entry_find(id);
    if (e != NULL)
        return e;
    entries = fl_xrealloc(entries, (n_entries + 1) * sizeof *entries);
    e = &entries[n_entries++];
    memset(e, 0, sizeof *e);
    e->id = fl_xstrdup(id);
    return e;
}

static void entry_clear(collect_entry *e) {
    for (size_t i = 0; i < e->n_chunks; i++)
        free(e->chunks[i]);
    free(e->chunks);
    free(e->rows);
    e->chunks = NULL;
    e->rows = NULL;
    e->n_chunks = e->n_rows = e->cap_rows = 0;
}

void fl_collect_registry_open(const char *id) {
    pthread_mutex_lock(&registry_lock);
    entry_clear(entry_get(id));
    pthread_mutex_unlock(&registry_lock);
}

size_t fl_collect_registry_count(const char *id) {
    pthread_mutex_lock(&registry_lock);
    collect_entry *e = entry_find(id);
    size_t n = e ? e->n_rows : 0;
    pthread_mutex_unlock(&registry_lock);
    return n;
}

const fl_row *fl_collect_registry_row(const char *id, size_t i) {
    pthread_mutex_lock(&registry_lock);
    collect_entry *e = entry_find(id);
    const fl_row *row = e != NULL && i < e->n_rows ? e->rows[i] : NULL;
    pthread_mutex_unlock(&registry_lock);
    return row;
}

void fl_collect_registry_close(const char *id) {
    pthread_mutex_lock(&registry_lock);
    collect_entry *e = entry_find(id);
    if (e != NULL) {
        entry_clear(e);
        free(e->id);
        *e = entries[--n_entries];
        if (n_entries == 0) {
            free(entries);
            entries = NULL;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/* Takes the chunk (n rows laid end to end) into entry id. */
static void registry_append(const char *id, char *chunk, size_t len, size_t n) {
    pthread_mutex_lock(&registry_lock);
    collect_entry *e = entry_get(id);
    e->chunks = fl_xrealloc(e->chunks, (e->n_chunks + 1) * sizeof *e->chunks);
    e->chunks[e->n_chunks++] = chunk;
    if (e->n_rows + n > e->cap_rows) {
        size_t cap = e->cap_rows ? e->cap_rows : 64;
        while (cap < e->n_rows + n)
            cap *= 2;
        e->rows = fl_xrealloc(e->rows, cap * sizeof *e->rows);
        e->cap_rows = cap;
    }
    for (size_t off = 0; off < len;) {
        const fl_row *r = (const fl_row *)(chunk + off);
        e->rows[e->n_rows++] = r;
        off += fl_row_size(r);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* ---- the sink ---------------------------------------------------------------------------- */

typedef struct collect_state {
    char *id;
    fl__conn_buf chunk; /* rows not yet handed to the registry */
    size_t n_rows;
} collect_state;

static int collect_validate(const fl_options *o, const fl_schema *input, fl_error *err) {
    const char *id = fl_options_get(o, "id");
    if (id == NULL || id[0] == '\0')
        return fl_error_set(err, FL_ECONFIG, "connector \"" NAME "\" needs the option id");
    return 0;
}

static int collect_open(fl_sink_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    int rc = collect_validate(o, fl_sink_schema(ctx), err);
    if (rc < 0)
        return rc;
    collect_state *st = fl_xcalloc(1, sizeof *st);
    st->id = fl_xstrdup(fl_options_get(o, "id"));
    *state = st;
    return 0;
}

static void hand_over(collect_state *st) {
    if (st->n_rows == 0)
        return;
    registry_append(st->id, st->chunk.data, st->chunk.len, st->n_rows);
    memset(&st->chunk, 0, sizeof st->chunk);
    st->n_rows = 0;
}

static int collect_write(void *state, const fl_row *const *rows, const int64_t *timestamps,
                         size_t n, fl_error *err) {
    collect_state *st = state;
    for (size_t i = 0; i < n; i++)
        fl__conn_buf_append(&st->chunk, rows[i], fl_row_size(rows[i]));
    st->n_rows += n;
    if (st->chunk.len >= CHUNK_LIMIT)
        hand_over(st);
    return 0;
}

static int collect_finish(void *state, fl_error *err) {
    hand_over(state);
    return 0;
}

static void collect_close(void *state) {
    collect_state *st = state;
    if (st == NULL)
        return;
    hand_over(st);
    fl__conn_buf_free(&st->chunk);
    free(st->id);
    free(st);
}

const fl_sink_connector fl__sink_collect = {
    .name = NAME,
    .description = "Keeps copies of the rows in a process-wide registry entry, for the "
                   "program running the job on the embedded cluster (collect()).",
    .options = options,
    .validate = collect_validate,
    .open = collect_open,
    .write = collect_write,
    .finish = collect_finish,
    .close = collect_close,
};
