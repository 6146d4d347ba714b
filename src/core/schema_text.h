/*
 * schema_text.h - a schema as one line of text, for node options in the job
 * graph: "name:TYPE,name:TYPE", with '%', ':' and ',' in names written as
 * %XX so that any field name survives the trip.
 */
#ifndef FL_CORE_SCHEMA_TEXT_H
#define FL_CORE_SCHEMA_TEXT_H

#include "flinc/row.h"

/* The text of s (the caller frees it). */
char *fl__schema_encode(const fl_schema *s);
/* A new schema read from text; NULL with err when text is empty or
 * malformed. `where` names the text's place for the message, e.g. "the
 * window's options". */
fl_schema *fl__schema_decode(const char *text, const char *where, fl_error *err);

#endif
