/*
 * test_connectors_registry.c - sources a program registers itself
 * (fl_source_connector_register): found by name after the built-in ones and
 * run like them (through the fake context), named in the description, and
 * refused with an error naming the connector when the name is taken, the
 * descriptor is incomplete, or the registry is full. Registrations last for
 * the process, so the tests run in order and build on each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "connectors.h"
#include "fake_ctx.h"

/* ---- "countdown": from, from - 1, ..., 1 -------------------------------------------------- */

static const fl_option_def countdown_options[] = {
    {"from", "3", false, "the first number emitted"},
    {NULL, NULL, false, NULL},
};

static fl_schema *countdown_schema(const fl_options *opts, const fl_schema *declared,
                                   fl_error *err) {
    (void)declared;
    int64_t from;
    if (fl_options_get_int64(opts, "from", 3, &from, err) < 0)
        return NULL;
    return fl_schema_of(1, "value", FL_BIGINT);
}

static bool countdown_bounded(const fl_options *opts) {
    (void)opts;
    return true;
}

static int countdown_open(fl_source_ctx *ctx, const fl_options *opts, void **state,
                          fl_error *err) {
    (void)ctx;
    int64_t *next = malloc(sizeof *next);
    if (next == NULL)
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    if (fl_options_get_int64(opts, "from", 3, next, err) < 0) {
        free(next);
        return err->code;
    }
    *state = next;
    return 0;
}

static int countdown_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    (void)err;
    int64_t *next = state;
    if (*next <= 0)
        return FL_SOURCE_END;
    fl_row_builder_set_bigint(fl_source_builder(ctx), 0, (*next)--);
    int rc = fl_source_emit(ctx, FL_NO_TIMESTAMP);
    return rc < 0 ? rc : FL_SOURCE_MORE;
}

static void countdown_close(void *state) { free(state); }

/* Only to make a descriptor with snapshot but no restore; never called. */
static int countdown_snapshot(void *state, fl_split_list *out, fl_error *err) {
    (void)state;
    (void)out;
    (void)err;
    return 0;
}

static const fl_source_connector countdown = {
    .name = "countdown",
    .description = "Counts down from an option to 1.",
    .options = countdown_options,
    .parallel = false,
    .schema = countdown_schema,
    .bounded = countdown_bounded,
    .open = countdown_open,
    .read = countdown_read,
    .close = countdown_close,
};

/* Sources registered by this process so far, for the capacity test. */
static int n_registered;

static void register_then_find_and_run(void **unused) {
    (void)unused;
    assert_null(fl_source_connector_find("countdown"));
    fl_error err = {0};
    assert_int_equal(fl_source_connector_register(&countdown, &err), 0);
    assert_int_equal(err.code, 0);
    n_registered++;
    assert_ptr_equal(fl_source_connector_find("countdown"), &countdown);
    /* The built-in ones are still there, and unknown names still unknown. */
    assert_non_null(fl_source_connector_find("sequence"));
    assert_null(fl_source_connector_find("countdow"));

    /* Run through the lookup, with its options checked as the graph builder does. */
    const char *kv[] = {"from=5", NULL};
    fl_source_ctx *ctx = fake_source_collect("countdown", NULL, kv, 0, 1, &err);
    assert_non_null(ctx);
    assert_int_equal(ctx->n_rows, 5);
    for (size_t i = 0; i < ctx->n_rows; i++)
        assert_int_equal(fl_row_get_bigint(ctx->rows[i], 0), 5 - (int64_t)i);
    fake_source_destroy(ctx);
    const char *bad[] = {"to=5", NULL};
    assert_null(fake_source_collect("countdown", NULL, bad, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_non_null(strstr(err.message, "\"to\""));
    assert_non_null(strstr(err.message, "\"countdown\""));
}

static void taken_names_are_refused(void **unused) {
    (void)unused;
    /* Registered earlier. */
    fl_error err = {0};
    assert_int_equal(fl_source_connector_register(&countdown, &err), FL_EINVAL);
    assert_string_equal(err.message, "source connector \"countdown\" is already registered");
    fl_source_connector other = countdown;
    fl_error_clear(&err);
    assert_int_equal(fl_source_connector_register(&other, &err), FL_EINVAL);
    assert_ptr_equal(fl_source_connector_find("countdown"), &countdown);
    /* Built in. */
    other.name = "sequence";
    fl_error_clear(&err);
    assert_int_equal(fl_source_connector_register(&other, &err), FL_EINVAL);
    assert_string_equal(err.message,
                        "source connector \"sequence\" already exists: it is built in");
    assert_ptr_not_equal(fl_source_connector_find("sequence"), &other);
}

static void incomplete_descriptors_are_refused(void **unused) {
    (void)unused;
    fl_error err = {0};
    assert_int_equal(fl_source_connector_register(NULL, &err), FL_EINVAL);
    assert_string_equal(err.message, "a source connector needs a name");
    fl_source_connector c = countdown;
    c.name = "";
    fl_error_clear(&err);
    assert_int_equal(fl_source_connector_register(&c, &err), FL_EINVAL);
    c.name = "no-read";
    c.read = NULL;
    fl_error_clear(&err);
    assert_int_equal(fl_source_connector_register(&c, &err), FL_EINVAL);
    assert_string_equal(err.message,
                        "source connector \"no-read\" needs schema, open, read and close");
    c = countdown;
    c.name = "half-checkpoints";
    c.snapshot = countdown_snapshot;
    fl_error_clear(&err);
    assert_int_equal(fl_source_connector_register(&c, &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "\"half-checkpoints\""));
    assert_null(fl_source_connector_find("no-read"));
    assert_null(fl_source_connector_find("half-checkpoints"));
    /* A NULL error is allowed, as everywhere. */
    assert_int_equal(fl_source_connector_register(&countdown, NULL), FL_EINVAL);
}

static void description_lists_registered_sources(void **unused) {
    (void)unused;
    char path[] = "/tmp/flinc-test-registry-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    fl_connectors_describe(f);
    rewind(f);
    char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    const char *reg = strstr(text, "Registered by this program");
    assert_non_null(reg);
    const char *entry = strstr(reg, "\n  countdown - Counts down from an option to 1.");
    assert_non_null(entry);
    assert_non_null(strstr(entry, "from"));
    assert_non_null(strstr(entry, "(default: 3)"));
    /* After the built-in sources, before the sinks. */
    assert_true(strstr(text, "\n  sequence - ") < reg);
    assert_true(reg < strstr(text, "Sinks ("));
}

#define CAPACITY 64

static void full_registry_is_an_error(void **unused) {
    (void)unused;
    static char names[CAPACITY + 1][24];
    static fl_source_connector fillers[CAPACITY + 1];
    fl_error err = {0};
    int rc = 0;
    for (int i = 0; i <= CAPACITY && rc == 0; i++) {
        snprintf(names[i], sizeof names[i], "filler-%d", i);
        fillers[i] = countdown;
        fillers[i].name = names[i];
        rc = fl_source_connector_register(&fillers[i], &err);
        if (rc == 0)
            n_registered++;
    }
    assert_int_equal(rc, FL_ERESOURCE);
    assert_int_equal(n_registered, CAPACITY);
    char expect[128];
    snprintf(expect, sizeof expect, "\"filler-%d\"", CAPACITY - 1);
    assert_non_null(strstr(err.message, expect));
    /* Every one that fitted is found. */
    assert_ptr_equal(fl_source_connector_find("filler-0"), &fillers[0]);
    assert_ptr_equal(fl_source_connector_find(names[CAPACITY - 2]), &fillers[CAPACITY - 2]);
    assert_null(fl_source_connector_find(names[CAPACITY - 1]));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_then_find_and_run),
        cmocka_unit_test(taken_names_are_refused),
        cmocka_unit_test(incomplete_descriptors_are_refused),
        cmocka_unit_test(description_lists_registered_sources),
        cmocka_unit_test(full_registry_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
