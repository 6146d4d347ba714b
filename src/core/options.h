/*
 * options.h - building the resolved options of one connector instance.
 *
 * The reading side (fl_options_get and the typed getters) is public, in
 * flinc/connector.h; this is the side the graph and runtime use to check the
 * options a user gave against a connector's option table and fill in the
 * defaults. A def key may contain '#' as one whole segment ("fields.#.min"),
 * which matches any single segment ("fields.price.min").
 */
#ifndef FL_CORE_OPTIONS_H
#define FL_CORE_OPTIONS_H

#include "flinc/connector.h"
#include "flinc/error.h"
#include "kv.h"

/* Returns new options: the given entries (borrowed, copied; NULL = none),
 * each checked against defs (ending with a {NULL} entry; NULL = no options),
 * plus the defaults of the defs not given. `what` names the owner in
 * messages, e.g. `connector "datagen"`. An unknown key or a missing required
 * option is FL_ECONFIG; NULL is returned and err filled then. */
fl_options *fl_options_create(const fl_option_def *defs, const fl_kv *given, const char *what,
                              fl_error *err);
void fl_options_destroy(fl_options *o); /* NULL is fine */
/* Every resolved entry (given first, in their order, then defaults). Borrowed. */
const fl_kv *fl_options_kv(const fl_options *o);

#endif
