/*
 * registry.c - the table of built-in connectors and the sources a program
 * registers itself: lookup by name for the graph builder and the runtime, and
 * the plain-text description of every connector and its options that the
 * docs and `--help` print.
 *
 * Registered sources live in a fixed table of borrowed descriptors: nothing
 * is allocated, so there is nothing to free at exit. A mutex guards it, since
 * the runtime looks sources up from its task threads; registrations are never
 * removed, so a descriptor found once stays valid for the caller.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "connectors.h"
#include "connectors_int.h"

static const fl_source_connector *const sources[] = {
    &fl__source_collection, &fl__source_sequence, &fl__source_datagen,
    &fl__source_filesystem, &fl__source_socket, &fl__source_nexmark,
};

static const fl_sink_connector *const sinks[] = {
    &fl__sink_print,    &fl__sink_filesystem, &fl__sink_blackhole,
    &fl__sink_collect,  &fl__sink_function,   &fl__sink_filesystem_exactly_once,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Sources registered with fl_source_connector_register, in order. */
#define MAX_REGISTERED_SOURCES 64

static pthread_mutex_t registered_mu = PTHREAD_MUTEX_INITIALIZER;
static const fl_source_connector *registered[MAX_REGISTERED_SOURCES];
static size_t n_registered;

static const fl_source_connector *builtin_source(const char *name) {
    for (size_t i = 0; i < COUNT(sources); i++)
        if (strcmp(sources[i]->name, name) == 0)
            return sources[i];
    return NULL;
}

/* Caller holds registered_mu. */
static const fl_source_connector *registered_source(const char *name) {
    for (size_t i = 0; i < n_registered; i++)
        if (strcmp(registered[i]->name, name) == 0)
            return registered[i];
    return NULL;
}

int fl_source_connector_register(const fl_source_connector *c, fl_error *err) {
    if (c == NULL || c->name == NULL || c->name[0] == '\0')
        return fl_error_set(err, FL_EINVAL, "a source connector needs a name");
    if (c->schema == NULL || c->open == NULL || c->read == NULL || c->close == NULL)
        return fl_error_set(err, FL_EINVAL,
                            "source connector \"%s\" needs schema, open, read and close",
                            c->name);
    if ((c->snapshot == NULL) != (c->restore == NULL))
        return fl_error_set(err, FL_EINVAL,
                            "source connector \"%s\" needs both snapshot and restore or neither",
                            c->name);
    if (builtin_source(c->name) != NULL)
        return fl_error_set(err, FL_EINVAL,
                            "source connector \"%s\" already exists: it is built in", c->name);
    int rc = 0;
    pthread_mutex_lock(&registered_mu);
    if (registered_source(c->name) != NULL)
        rc = fl_error_set(err, FL_EINVAL, "source connector \"%s\" is already registered",
                          c->name);
    else if (n_registered == MAX_REGISTERED_SOURCES)
        rc = fl_error_set(err, FL_ERESOURCE,
                          "could not register source connector \"%s\": %d are registered, the "
                          "most a process can hold",
                          c->name, MAX_REGISTERED_SOURCES);
    else
        registered[n_registered++] = c;
    pthread_mutex_unlock(&registered_mu);
    return rc;
}

const fl_source_connector *fl_source_connector_find(const char *name) {
    if (name == NULL)
        return NULL;
    const fl_source_connector *c = builtin_source(name);
    if (c != NULL)
        return c;
    pthread_mutex_lock(&registered_mu);
    c = registered_source(name);
    pthread_mutex_unlock(&registered_mu);
    return c;
}

const fl_sink_connector *fl_sink_connector_find(const char *name) {
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < COUNT(sinks); i++)
        if (strcmp(sinks[i]->name, name) == 0)
            return sinks[i];
    return NULL;
}

static void describe_options(FILE *out, const fl_option_def *defs) {
    if (defs == NULL || defs[0].key == NULL) {
        fprintf(out, "    (no options)\n");
        return;
    }
    for (const fl_option_def *d = defs; d->key != NULL; d++) {
        fprintf(out, "    %-24s %s", d->key, d->description ? d->description : "");
        if (d->required)
            fprintf(out, " (required)");
        else if (d->default_value != NULL)
            fprintf(out, " (default: %s)", d->default_value[0] ? d->default_value : "\"\"");
        fputc('\n', out);
    }
}

static void describe_source(FILE *out, const fl_source_connector *c) {
    fprintf(out, "\n  %s - %s%s\n", c->name, c->description ? c->description : "",
            c->parallel ? "" : " Runs with parallelism 1.");
    describe_options(out, c->options);
}

void fl_connectors_describe(FILE *out) {
    fprintf(out, "Sources (fl_env_add_source(env, NAME, schema, options)):\n");
    for (size_t i = 0; i < COUNT(sources); i++)
        describe_source(out, sources[i]);
    pthread_mutex_lock(&registered_mu);
    if (n_registered > 0)
        fprintf(out, "\nRegistered by this program (fl_source_connector_register):\n");
    for (size_t i = 0; i < n_registered; i++)
        describe_source(out, registered[i]);
    pthread_mutex_unlock(&registered_mu);
    fprintf(out, "\nSinks (fl_stream_add_sink(stream, NAME, options)):\n");
    for (size_t i = 0; i < COUNT(sinks); i++) {
        const fl_sink_connector *c = sinks[i];
        fprintf(out, "\n  %s - %s\n", c->name, c->description);
        describe_options(out, c->options);
    }
    fprintf(out, "\nPer-field options write the field's name for '#', e.g. "
                 "fields.price.min=0.\n");
}
