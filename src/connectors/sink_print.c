/*
 * sink_print.c - the "print" sink: every row as fl_row_format shows it, one
 * per line, on stdout (or stderr); Flink's print().
 *
 * The prefix follows Flink's PrintSinkOutputWriter: "N> " with the 1-based
 * subtask index when the sink's parallelism is above 1, "ID:N> " with a
 * prefix option, "ID> " with a prefix and parallelism 1, nothing otherwise.
 * A whole batch is formatted into one buffer and written with one fwrite
 * while holding the stream's lock, so the lines of different subtasks never
 * interleave; the stream is flushed after every batch so that output shows up
 * while an unbounded job runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors_int.h"
#include "mem.h"

#define NAME "print"

static const fl_option_def options[] = {
    {"target", "stdout", false, "stdout or stderr"},
    {"prefix", NULL, false, "identifier printed before each line, as print(\"id\") does"},
    {NULL, NULL, false, NULL},
};

typedef struct print_state {
    FILE *out;
    const fl_schema *schema; /* borrowed from the sink context */
    char prefix[320];
    size_t prefix_len;
    fl__conn_buf buf; /* reused for every batch */
} print_state;

static int check_target(const fl_options *o, bool *to_stderr, fl_error *err) {
    const char *target = fl_options_get(o, "target");
    if (target == NULL || strcmp(target, "stdout") == 0) {
        *to_stderr = false;
        return 0;
    }
    if (strcmp(target, "stderr") == 0) {
        *to_stderr = true;
        return 0;
    }
    return fl_error_set(err, FL_ECONFIG,
                        "connector \"" NAME "\": target must be stdout or stderr, not \"%s\"",
                        target);
}

static int print_validate(const fl_options *o, const fl_schema *input, fl_error *err) {
    bool to_stderr;
    return check_target(o, &to_stderr, err);
}

static int print_open(fl_sink_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    bool to_stderr;
    int rc = check_target(o, &to_stderr, err);
    if (rc < 0)
        return rc;
    print_state *st = fl_xcalloc(1, sizeof *st);
    st->out = to_stderr ? stderr : stdout;
    st->schema = fl_sink_schema(ctx);
    const char *id = fl_options_get(o, "prefix");
    int p = fl_sink_parallelism(ctx);
    int n = fl_sink_subtask_index(ctx) + 1;
    if (id != NULL && id[0] != '\0' && p > 1)
        snprintf(st->prefix, sizeof st->prefix, "%.256s:%d> ", id, n);
    else if (id != NULL && id[0] != '\0')
        snprintf(st->prefix, sizeof st->prefix, "%.256s> ", id);
    else if (p > 1)
        snprintf(st->prefix, sizeof st->prefix, "%d> ", n);
    st->prefix_len = strlen(st->prefix);
    *state = st;
    return 0;
}

static int print_write(void *state, const fl_row *const *rows, const int64_t *timestamps,
                       size_t n, fl_error *err) {
    print_state *st = state;
    st->buf.len = 0;
    for (size_t i = 0; i < n; i++) {
        fl__conn_buf_append(&st->buf, st->prefix, st->prefix_len);
        fl__conn_buf_append_row(&st->buf, rows[i], st->schema, false);
        fl__conn_buf_putc(&st->buf, '\n');
    }
    if (st->buf.len == 0)
        return 0;
    flockfile(st->out);
    size_t written = fwrite_unlocked(st->buf.data, 1, st->buf.len, st->out);
    int flushed = fflush_unlocked(st->out);
    funlockfile(st->out);
    if (written != st->buf.len || flushed != 0)
        return fl_error_set(err, FL_EIO, "could not write to %s",
                            st->out == stderr ? "stderr" : "stdout");
    return 0;
}

static int print_finish(void *state, fl_error *err) {
    print_state *st = state;
    if (fflush(st->out) != 0)
        return fl_error_set(err, FL_EIO, "could not write to %s",
                            st->out == stderr ? "stderr" : "stdout");
    return 0;
}

static void print_close(void *state) {
    print_state *st = state;
    if (st == NULL)
        return;
    fflush(st->out);
    fl__conn_buf_free(&st->buf);
    free(st);
}

const fl_sink_connector fl__sink_print = {
    .name = NAME,
    .description = "Each row on stdout, one per line, prefixed \"N> \" (1-based subtask) "
                   "when the parallelism is above 1 (print()).",
    .options = options,
    .validate = print_validate,
    .open = print_open,
    .write = print_write,
    .finish = print_finish,
    .close = print_close,
};
