/*
 * op_filter.c - filter: passes the rows the user function keeps. Kept rows
 * are not copied: they are borrowed from the input batch.
 */
#include "runtime_int.h"

static int filter_process(fl_operator *op, int input, const fl_batch *in, fl_error *err) {
    fl_filter_fn fn = (fl_filter_fn)op->fn;
    for (uint32_t i = 0; i < in->n; i++) {
        op->ctx.timestamp = in->ts[i];
        int keep = fn(&op->ctx, in->rows[i]);
        if (keep < 0 || op->ctx.failure) return fl__user_failure(op, "filter function", keep, err);
        if (keep) {
            int rc = fl__output_emit_ref(&op->out, in->rows[i], in->ts[i]);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

const fl_operator_ops fl__op_filter = {.kind = "filter", .process = filter_process};
