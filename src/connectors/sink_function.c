/*
 * sink_function.c - the "function" sink: calls a user fl_sink_fn for every
 * row (fl_stream_sink, Flink's addSink with a SinkFunction).
 *
 * The option fn names the function's symbol; the runtime resolves it in the
 * job's shared object and hands the pointer and the user context over through
 * fl_sink_ctx_resolved_fn / fl_sink_ctx_user_context, so this module never
 * calls dlsym. A negative return fails the job with FL_EUSER; the message is
 * the one the function gave with fl_context_fail, which the runtime reads from
 * the context, so nothing is written into err here.
 */
#include <stdlib.h>

#include "connectors.h"
#include "connectors_int.h"
#include "mem.h"

#define NAME "function"

static const fl_option_def options[] = {
    {"fn", NULL, true, "symbol of the fl_sink_fn called for every row"},
    {NULL, NULL, false, NULL},
};

typedef struct function_state {
    fl_sink_fn fn;
    fl_context *user; /* owned by the runtime */
} function_state;

static int function_validate(const fl_options *o, const fl_schema *input, fl_error *err) {
    const char *fn = fl_options_get(o, "fn");
    if (fn == NULL || fn[0] == '\0')
        return fl_error_set(err, FL_ECONFIG, "connector \"" NAME "\" needs the option fn");
    return 0;
}

static int function_open(fl_sink_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    int rc = function_validate(o, fl_sink_schema(ctx), err);
    if (rc < 0)
        return rc;
    void *fn = fl_sink_ctx_resolved_fn(ctx);
    if (fn == NULL)
        return fl_error_set(err, FL_ERESOLVE, "sink function \"%s\" cannot be resolved",
                            fl_options_get(o, "fn"));
    function_state *st = fl_xcalloc(1, sizeof *st);
    /* Data and function pointers share a representation on every platform
     * flinc runs on (POSIX requires it for dlsym). */
    *(void **)&st->fn = fn;
    st->user = fl_sink_ctx_user_context(ctx);
    *state = st;
    return 0;
}

static int function_write(void *state, const fl_row *const *rows, const int64_t *timestamps,
                          size_t n, fl_error *err) {
    function_state *st = state;
    for (size_t i = 0; i < n; i++)
        if (st->fn(st->user, rows[i]) < 0)
            return FL_EUSER;
    return 0;
}

static int function_finish(void *state, fl_error *err) {
    return 0;
}

static void function_close(void *state) {
    free(state);
}

const fl_sink_connector fl__sink_function = {
    .name = NAME,
    .description = "Calls a user function (fl_sink_fn) for every row (sink()).",
    .options = options,
    .validate = function_validate,
    .open = function_open,
    .write = function_write,
    .finish = function_finish,
    .close = function_close,
};
