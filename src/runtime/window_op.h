/*
 * window_op.h - the running window operator, shared by its files:
 * op_window.c (elements, timers, cleanup, merging), window_trigger.c (the
 * triggers and their context) and window_fn.c (window contents, evictors,
 * window functions and joins). See op_window.c for the design.
 */
#ifndef FL_RUNTIME_WINDOW_OP_H
#define FL_RUNTIME_WINDOW_OP_H

#include "field_agg.h"
#include "key.h"
#include "keyed_state.h"
#include "runtime_int.h"
#include "window_int.h"

typedef struct fl_win_op fl_win_op;

/* How a window's contents are kept. */
typedef enum fl_win_contents {
    FL_WIN_LIST = 1,    /* every element, wrapped with its timestamp and input (process,
                           evictors, joins) */
    FL_WIN_VALUE,       /* sum/min/max of non-merging windows: the running row, updated in place */
    FL_WIN_REDUCING,    /* reduce (and sum/min/max of merging windows) */
    FL_WIN_AGGREGATING, /* aggregate */
} fl_win_contents;

/* What a trigger (built-in or the user's) works on: the key is the
 * backend's current key, the window this one. */
struct fl_trigger_ctx {
    fl_win_op *w;
    fl_window window;
    uint8_t ns[FL_WIN_NS_LEN];
};

struct fl_win_op {
    fl_keyed_op keyed;
    fl_operator *op;

    /* the plan */
    fl_window_assigner assigner;
    bool event_time; /* Flink's isEventTime(): lateness and cleanup by watermark */
    bool merging;
    int64_t lateness;
    int late_out;       /* index of the late-data side output, or -1 */
    fl_trigger trigger; /* kind resolved (never DEFAULT) */
    fl_trigger_fns user_trigger;
    fl_evictor evictor;
    fl_win_fn_kind fn_kind;
    fl_field_agg field_agg; /* sum/min/max: the field and how it folds */
    fl_reduce_fn reduce;
    fl_window_process_fn process;
    fl_aggregate_function agg; /* functions resolved, schemas owned */
    /* Accumulator input (FL_WIN_OPT_INPUT): a row is the key's n_key_fields
     * fields, then an accumulator, copied out with acc_in and merged. */
    bool acc_input;
    int n_key_fields;
    fl_row_builder *acc_in;
    fl_join_fn join;
    fl_cogroup_fn cogroup;
    /* For non-merging windows, timers of a window exist while it has
     * contents, so an element added to non-empty contents need not register
     * them again (the trigger's, when it is the assigner's default one; the
     * cleanup timer always). */
    bool skip_trigger_timer, skip_cleanup_timer;
    /* The trigger's timer of a new window is its cleanup timer too (a
     * timer-per-window trigger in the assigner's domain, no lateness): the
     * cleanup timer is not registered a second time. */
    bool cleanup_is_trigger_timer;

    /* states */
    fl_win_contents contents_kind;
    fl_kstate *contents;  /* in the state window's namespace */
    fl_kstate *windows;   /* merging: the key's window set (empty namespace) */
    fl_kstate *count;     /* count trigger, per window */
    fl_kstate *fire_time; /* continuous event-time trigger, per window */
    fl_schema *wrap_schema, *set_schema, *long_schema;
    fl_state_aggregate backend_agg;
    fl_row *one; /* (1) for the count trigger */

    /* working memory, reused */
    fl_window *wins; /* the element's windows */
    uint8_t (*wins_ns)[FL_WIN_NS_LEN];
    /* Aligned windows (tumbling; sliding with size a multiple of the
     * slide): wins holds the assignment of every time in [assigned_lo,
     * assigned_hi), so consecutive elements of one slide skip the arithmetic. */
    bool aligned;
    int64_t assigned_lo, assigned_hi;
    size_t n_assigned;
    /* Sliced windows (Flink SQL's slicing), for sliding event-time windows
     * with the default trigger, no evictor and an aggregate function that
     * merges: the contents are kept per slice (a slide-long piece of time,
     * size / slide of them make a window), so an element updates one
     * accumulator, not one per window; a window fires as the merge of its
     * slices' accumulators, and a slice goes when the last window holding it
     * is cleaned up. The timers stay per window. */
    bool sliced;
    size_t n_slices;
    fl_window *slices;                  /* working memory: a window's slices */
    uint8_t slice_ns[FL_WIN_NS_LEN];    /* the slice [assigned_lo, assigned_hi) */
    /* The hash of the contents namespace an element of [assigned_lo,
     * assigned_hi) updates first (its slice, else its first window): rows of
     * the batch ahead in that range get their state prefetched. */
    uint64_t assigned_ns_hash;
    fl_win_set set;
    fl_collector *out;
    fl_row_builder *acc_a, *acc_b, *result_b, *long_b, *set_b;
    uint8_t *scratch;
    size_t scratch_cap;
    const fl_row **rows, **side[2], **kept; /* firing a list: rows, by input, kept */
    size_t rows_cap;
    fl_trigger_ctx tctx;
    /* namespaces handed to fl_kstate_merge_namespaces (merging windows) */
    uint8_t *merge_ns;
    const void **merge_src;
    uint32_t *merge_lens;
    size_t merge_cap;
    /* a user trigger's states by name (declared once, looked up after) */
    struct fl_win_trigger_state {
        char *name;
        fl_value_state *state;
    } * trigger_states;
    size_t n_trigger_states;
    fl_error *err; /* where callbacks report: the task's error, which the task passes to
                      every call of the operator (set at open) */
    int64_t late_dropped;

    /* The keys of the batch being processed (keys of fields only), projected
     * and hashed before the first state access. */
    fl_batch_keys keys;
};

/* ---- window_trigger.c ---------------------------------------------------------------------- */

/* Trigger calls for tctx's window; each returns an fl_trigger_result or a
 * negative error (err filled). was_empty: the window had no contents before
 * this element (lets the default triggers skip re-registering timers). */
int fl__win_trigger_element(fl_win_op *w, const fl_row *row, int64_t ts, bool was_empty);
int fl__win_trigger_time(fl_win_op *w, fl_time_domain d, int64_t time);
/* onMerge for tctx's window, the result of merging `merged`. */
int fl__win_trigger_merge(fl_win_op *w, const fl_window *merged, size_t n);
int fl__win_trigger_clear(fl_win_op *w);
/* Sets tctx to window win. */
void fl__win_trigger_window(fl_win_op *w, const fl_window *win);
/* Declares the trigger's own states; 0 or error. */
int fl__win_trigger_open(fl_win_op *w, fl_error *err);
void fl__win_trigger_close(fl_win_op *w);

/* ---- window_fn.c --------------------------------------------------------------------------- */

/* Declares the contents state for the window function; 0 or error. */
int fl__win_fn_open(fl_win_op *w, fl_error *err);
void fl__win_fn_close(fl_win_op *w);
/* Adds an element (of input `input`) to the contents in the current
 * namespace; *was_empty tells whether they were empty before. */
int fl__win_fn_add(fl_win_op *w, int input, const fl_row *row, int64_t ts, bool *was_empty);
/* Runs the window function on the contents in the current namespace for
 * window win and emits its results (nothing when the contents are empty). */
int fl__win_fn_fire(fl_win_op *w, const fl_window *win);
/* Sliced windows: runs the window function on the merge of win's slices. */
int fl__win_fn_fire_slices(fl_win_op *w, const fl_window *win);

/* Sources for fl_kstate_merge_namespaces: the namespaces of windows[0..n),
 * in reusable buffers; *lens gets their lengths. */
const void *const *fl__win_merge_sources(fl_win_op *w, const fl_window *windows, size_t n,
                                         const uint32_t **lens);

/* A user function's failure (or a state access error) as the operator's error. */
int fl__win_user_failure(fl_win_op *w, const char *what, int rc);

#endif
