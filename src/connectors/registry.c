/*
 * registry.c - the table of built-in connectors: lookup by name for the graph
 * builder and the runtime, and the plain-text description of every connector
 * and its options that the docs and `--help` print.
 */
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

const fl_source_connector *fl_source_connector_find(const char *name) {
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < COUNT(sources); i++)
        if (strcmp(sources[i]->name, name) == 0)
            return sources[i];
    return NULL;
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

void fl_connectors_describe(FILE *out) {
    fprintf(out, "Sources (fl_env_add_source(env, NAME, schema, options)):\n");
    for (size_t i = 0; i < COUNT(sources); i++) {
        const fl_source_connector *c = sources[i];
        fprintf(out, "\n  %s - %s%s\n", c->name, c->description,
                c->parallel ? "" : " Runs with parallelism 1.");
        describe_options(out, c->options);
    }
    fprintf(out, "\nSinks (fl_stream_add_sink(stream, NAME, options)):\n");
    for (size_t i = 0; i < COUNT(sinks); i++) {
        const fl_sink_connector *c = sinks[i];
        fprintf(out, "\n  %s - %s\n", c->name, c->description);
        describe_options(out, c->options);
    }
    fprintf(out, "\nPer-field options write the field's name for '#', e.g. "
                 "fields.price.min=0.\n");
}
