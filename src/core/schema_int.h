/*
 * schema_int.h - the layout of a schema, for inline field lookups on the
 * runtime's per-record paths (key projection). A schema never changes after
 * it is built (schema.c), so reading it without a call is safe from any
 * thread.
 */
#ifndef FL_CORE_SCHEMA_INT_H
#define FL_CORE_SCHEMA_INT_H

#include <stdatomic.h>

#include "flinc/row.h"

struct fl_schema {
    atomic_int refs;
    int n;
    fl_field *fields; /* names owned */
};

/* fl_schema_field_type without the range check: i must be a field of s. */
static inline fl_type fl__schema_type(const fl_schema *s, int i) { return s->fields[i].type; }

#endif
