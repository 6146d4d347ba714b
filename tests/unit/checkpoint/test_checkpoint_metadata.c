/*
 * test_checkpoint_metadata.c - the _metadata format on its own: a document
 * written here by hand (its checksum computed here with libxxhash) decodes
 * to exactly the fields it spells out; encode -> decode keeps everything
 * (unicode, base64 values, NULL names, operators without files); building
 * refuses what a reader could not use; decoding names the field at fault
 * for each kind of mistake, and refuses paths that leave the directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <inttypes.h>
#include <xxhash.h>

#include "ckpt_fixtures.h"
#include "mem.h"

/* The file bytes for a body, framed as the format says (new). */
static char *frame(const char *body, int version) {
    char *out = NULL;
    size_t n = strlen(body);
    if (asprintf(&out,
                 "{\"format\": \"flinc-checkpoint-metadata\", \"version\": %d, \"checksum\": "
                 "\"xxh64:%016" PRIx64 "\", \"checkpoint\":\n%s\n}\n",
                 version, (uint64_t)XXH64(body, n, 0), body) < 0)
        return NULL;
    return out;
}

static const char GOLDEN[] =
    "{\"id\": 42, \"kind\": \"savepoint\", \"job_id\": \"a1b2c3\", \"job_name\": \"Golden\",\n"
    " \"timestamp\": 1735689600000,\n"
    " \"operators\": [\n"
    "  {\"uid\": \"src\", \"name\": \"Source: Kafka\", \"parallelism\": 2, \"max_parallelism\": "
    "4,\n"
    "   \"subtasks\": [\n"
    "    {\"index\": 0, \"key_groups\": [0, 1], \"files\": [\n"
    "      {\"path\": \"op-src-0-source-0\", \"role\": \"source\", \"size\": 12,\n"
    "       \"checksum\": \"xxh64:00000000000000ff\"}],\n"
    "     \"values\": {\"offset\": \"100\", \"topic\": \"clicks\"}},\n"
    "    {\"index\": 1, \"key_groups\": [2, 3], \"files\": [], \"values\": {}}]},\n"
    "  {\"uid\": \"agg\", \"name\": null, \"parallelism\": 1, \"max_parallelism\": 1,\n"
    "   \"subtasks\": [{\"index\": 0, \"key_groups\": [0, 0], \"files\": [\n"
    "      {\"path\": \"nested/op-agg-0-keyed-1\", \"role\": \"keyed\", \"size\": 0,\n"
    "       \"checksum\": \"xxh64:ef46db3751d8e999\"},\n"
    "      {\"path\": \"op-agg-0-timers-2\", \"role\": \"timers\", \"size\": 9007199254740993,\n"
    "       \"checksum\": \"xxh64:ffffffffffffffff\"}],\n"
    "    \"values\": {}}]}]}";

static void test_golden_document(void **state) {
    (void)state;
    char *bytes = frame(GOLDEN, 1);
    fl_error err = {0};
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_decode(bytes, strlen(bytes), "golden", &err);
    if (md == NULL) fail_msg("%s", err.message);
    assert_int_equal(md->checkpoint_id, 42);
    assert_int_equal(md->kind, FL_SAVEPOINT);
    assert_string_equal(md->job_id, "a1b2c3");
    assert_string_equal(md->job_name, "Golden");
    assert_int_equal(md->timestamp_ms, INT64_C(1735689600000));
    assert_int_equal(md->n_operators, 2);
    const fl_checkpoint_operator *src = md->operators[0];
    assert_string_equal(src->uid, "src");
    assert_string_equal(src->name, "Source: Kafka");
    assert_int_equal(src->parallelism, 2);
    assert_int_equal(src->max_parallelism, 4);
    assert_int_equal(src->subtasks[1].key_group_first, 2);
    assert_int_equal(src->subtasks[1].key_group_last, 3);
    assert_int_equal(src->subtasks[0].n_files, 1);
    assert_string_equal(src->subtasks[0].files[0].path, "op-src-0-source-0");
    assert_string_equal(src->subtasks[0].files[0].role, "source");
    assert_int_equal(src->subtasks[0].files[0].size, 12);
    assert_int_equal(src->subtasks[0].files[0].checksum, 0xff);
    assert_string_equal(fl_kv_get(src->subtasks[0].values, "offset"), "100");
    assert_string_equal(fl_kv_get(src->subtasks[0].values, "topic"), "clicks");
    assert_int_equal(fl_kv_count(src->subtasks[1].values), 0);
    const fl_checkpoint_operator *agg = fl_checkpoint_metadata_find(md, "agg");
    assert_ptr_equal(agg, md->operators[1]);
    assert_null(agg->name);
    assert_string_equal(agg->subtasks[0].files[0].path, "nested/op-agg-0-keyed-1");
    assert_int_equal(agg->subtasks[0].files[0].checksum, UINT64_C(0xef46db3751d8e999));
    assert_int_equal(agg->subtasks[0].files[1].size, UINT64_C(9007199254740993)); /* > 2^53 */
    assert_int_equal(agg->subtasks[0].files[1].checksum, UINT64_MAX);
    assert_null(fl_checkpoint_metadata_find(md, "nope"));

    /* Encoding what was decoded and decoding again gives the same fields. */
    size_t len;
    char *again = fl_checkpoint_metadata_encode(md, &len);
    fl_checkpoint_metadata *md2 = fl_checkpoint_metadata_decode(again, len, "again", &err);
    assert_non_null(md2);
    assert_int_equal(md2->operators[1]->subtasks[0].files[1].size, UINT64_C(9007199254740993));
    size_t len2;
    char *third = fl_checkpoint_metadata_encode(md2, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(again, third, len); /* deterministic */
    free(third);
    free(again);
    fl_checkpoint_metadata_destroy(md2);
    fl_checkpoint_metadata_destroy(md);
    free(bytes);
}

static void test_round_trip_values(void **state) {
    (void)state;
    fl_error err = {0};
    fl_checkpoint_metadata *md =
        fl_checkpoint_metadata_create(3, FL_CHECKPOINT, "job_ID-9", "Zählen \"quoted\"\n", -5);
    fl_checkpoint_operator *op =
        fl_checkpoint_metadata_add_operator(md, "uid with spaces/€", NULL, 3, 7, &err);
    assert_non_null(op);
    assert_non_null(fl_checkpoint_metadata_add_operator(md, "empty", "Sink", 1, 128, &err));
    unsigned char binary[] = {0, 1, 2, 0xff, 0xfe, '"', '\\'};
    char *b64 = fl_base64_encode(binary, sizeof binary);
    fl_kv_set(op->subtasks[2].values, "position", b64);
    fl_kv_set(op->subtasks[2].values, "ü", "\t\"\\/");
    fl_state_file f = {.path = "op-x-2-channel-state-0",
                       .role = "channel-state",
                       .size = 77,
                       .checksum = UINT64_C(0x0123456789abcdef)};
    fl_checkpoint_subtask_add_file(&op->subtasks[2], &f);
    size_t len;
    char *bytes = fl_checkpoint_metadata_encode(md, &len);
    assert_int_equal(len, strlen(bytes));
    fl_checkpoint_metadata *got = fl_checkpoint_metadata_decode(bytes, len, "rt", &err);
    if (got == NULL) fail_msg("%s", err.message);
    assert_string_equal(got->job_name, "Zählen \"quoted\"\n");
    assert_int_equal(got->timestamp_ms, -5);
    const fl_checkpoint_operator *g = fl_checkpoint_metadata_find(got, "uid with spaces/€");
    assert_non_null(g);
    assert_null(g->name);
    /* Flink's ranges for max parallelism 7 over 3 subtasks: [0,2] [3,4] [5,6]. */
    assert_int_equal(g->subtasks[0].key_group_last, 2);
    assert_int_equal(g->subtasks[1].key_group_first, 3);
    assert_int_equal(g->subtasks[1].key_group_last, 4);
    assert_int_equal(g->subtasks[2].key_group_first, 5);
    size_t blen;
    unsigned char *back = fl_base64_decode(fl_kv_get(g->subtasks[2].values, "position"), &blen);
    assert_int_equal(blen, sizeof binary);
    assert_memory_equal(back, binary, blen);
    free(back);
    assert_string_equal(fl_kv_get(g->subtasks[2].values, "ü"), "\t\"\\/");
    assert_string_equal(g->subtasks[2].files[0].role, "channel-state");
    assert_int_equal(g->subtasks[2].files[0].checksum, UINT64_C(0x0123456789abcdef));
    assert_string_equal(fl_checkpoint_metadata_find(got, "empty")->name, "Sink");
    fl_checkpoint_metadata_destroy(got);
    fl_checkpoint_metadata_destroy(md);
    free(bytes);
    free(b64);
}

static void test_builder_refuses(void **state) {
    (void)state;
    fl_error err = {0};
    fl_checkpoint_metadata *md = fl_checkpoint_metadata_create(1, FL_CHECKPOINT, "j", NULL, 0);
    assert_non_null(fl_checkpoint_metadata_add_operator(md, "a", NULL, 2, 128, &err));
    assert_null(fl_checkpoint_metadata_add_operator(md, "a", NULL, 1, 128, &err));
    assert_int_equal(err.code, FL_EINVAL);
    assert_non_null(strstr(err.message, "\"a\" appears twice"));
    fl_error_clear(&err);
    assert_null(fl_checkpoint_metadata_add_operator(md, "b", NULL, 5, 4, &err));
    assert_non_null(strstr(err.message, "parallelism 5 and max parallelism 4"));
    fl_error_clear(&err);
    assert_null(fl_checkpoint_metadata_add_operator(md, "", NULL, 1, 1, &err));
    fl_error_clear(&err);
    assert_null(fl_checkpoint_metadata_add_operator(md, "c", NULL, 1, 40000, &err));
    assert_int_equal(md->n_operators, 1);
    fl_checkpoint_metadata_destroy(md);
}

/* md with one operator "op" (p=2, maxp=8) and one file at subtask 0, made
 * invalid by `spoil`; validate must fail naming `field`. */
static void expect_invalid(void (*spoil)(fl_checkpoint_metadata *), const char *field) {
    fl_error err = {0};
    fl_checkpoint_metadata *md = fl_checkpoint_metadata_create(1, FL_CHECKPOINT, "job", NULL, 0);
    fl_checkpoint_operator *op = fl_checkpoint_metadata_add_operator(md, "op", NULL, 2, 8, &err);
    fl_state_file f = {.path = "op-0", .role = "keyed", .size = 1, .checksum = 1};
    fl_checkpoint_subtask_add_file(&op->subtasks[0], &f);
    assert_int_equal(fl_checkpoint_metadata_validate(md, &err), 0);
    spoil(md);
    assert_int_equal(fl_checkpoint_metadata_validate(md, &err), FL_EFORMAT);
    if (strstr(err.message, field) == NULL) fail_msg("\"%s\" lacks \"%s\"", err.message, field);
    fl_checkpoint_metadata_destroy(md);
}

static void set_path(fl_checkpoint_metadata *md, const char *p) {
    free(md->operators[0]->subtasks[0].files[0].path);
    md->operators[0]->subtasks[0].files[0].path = strdup(p);
}
static void path_dotdot(fl_checkpoint_metadata *md) { set_path(md, "../../etc/passwd"); }
static void path_inner_dotdot(fl_checkpoint_metadata *md) { set_path(md, "a/../../b"); }
static void path_absolute(fl_checkpoint_metadata *md) { set_path(md, "/etc/passwd"); }
static void path_metadata(fl_checkpoint_metadata *md) { set_path(md, "_metadata"); }
static void path_empty_part(fl_checkpoint_metadata *md) { set_path(md, "a//b"); }
static void path_trailing(fl_checkpoint_metadata *md) { set_path(md, "a/"); }
static void path_dot(fl_checkpoint_metadata *md) { set_path(md, "."); }
static void path_control(fl_checkpoint_metadata *md) { set_path(md, "a\nb"); }
static void role_upper(fl_checkpoint_metadata *md) {
    free(md->operators[0]->subtasks[0].files[0].role);
    md->operators[0]->subtasks[0].files[0].role = strdup("Keyed");
}
static void dup_path(fl_checkpoint_metadata *md) {
    fl_checkpoint_subtask_add_file(&md->operators[0]->subtasks[1],
                                   &md->operators[0]->subtasks[0].files[0]);
}
static void key_groups(fl_checkpoint_metadata *md) {
    md->operators[0]->subtasks[1].key_group_last = 8;
}
static void index_wrong(fl_checkpoint_metadata *md) { md->operators[0]->subtasks[1].index = 0; }
static void id_zero(fl_checkpoint_metadata *md) { md->checkpoint_id = 0; }
static void job_id_bad(fl_checkpoint_metadata *md) {
    free(md->job_id);
    md->job_id = strdup("a/b");
}
static void value_not_utf8(fl_checkpoint_metadata *md) {
    fl_kv_set(md->operators[0]->subtasks[1].values, "pos", "\xff\xfe");
}
static void uid_not_utf8(fl_checkpoint_metadata *md) {
    free(md->operators[0]->uid);
    md->operators[0]->uid = strdup("\xc0\x80"); /* overlong NUL */
}

static void test_validate_names_field(void **state) {
    (void)state;
    expect_invalid(path_dotdot, "files[0].path: \"../../etc/passwd\"");
    expect_invalid(path_inner_dotdot, "files[0].path");
    expect_invalid(path_absolute, "files[0].path");
    expect_invalid(path_metadata, "files[0].path");
    expect_invalid(path_empty_part, "files[0].path");
    expect_invalid(path_trailing, "files[0].path");
    expect_invalid(path_dot, "files[0].path");
    expect_invalid(path_control, "files[0].path");
    expect_invalid(role_upper, "files[0].role: \"Keyed\"");
    expect_invalid(dup_path, "\"op-0\" is referenced twice");
    expect_invalid(key_groups, "subtasks[1].key_groups: [4, 8]");
    expect_invalid(index_wrong, "subtasks[1].index");
    expect_invalid(id_zero, "id: 0");
    expect_invalid(job_id_bad, "job_id: \"a/b\"");
    expect_invalid(value_not_utf8, "subtasks[1].values");
    expect_invalid(uid_not_utf8, "operators[0].uid");
}

/* GOLDEN with `from` replaced by `to` (once), framed with a valid checksum:
 * decoding must fail with FL_EFORMAT naming `fragment`. */
static void expect_decode_error(const char *from, const char *to, const char *fragment) {
    const char *at = strstr(GOLDEN, from);
    if (at == NULL) fail_msg("\"%s\" is not in the golden document", from);
    size_t pre = (size_t)(at - GOLDEN);
    char *body = NULL;
    if (asprintf(&body, "%.*s%s%s", (int)pre, GOLDEN, to, at + strlen(from)) < 0) fail();
    char *bytes = frame(body, 1);
    fl_error err = {0};
    fl_checkpoint_metadata *md = fl_checkpoint_metadata_decode(bytes, strlen(bytes), "f", &err);
    if (md != NULL) fail_msg("accepted: %s -> %s", from, to);
    assert_int_equal(err.code, FL_EFORMAT);
    if (strstr(err.message, fragment) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err.message, fragment);
    free(bytes);
    free(body);
}

static void test_decode_names_field(void **state) {
    (void)state;
    expect_decode_error("\"uid\": \"agg\", ", "", "operators[1].uid: missing");
    expect_decode_error("\"parallelism\": 2", "\"parallelism\": \"2\"",
                        "operators[0].parallelism: expected an integer, found a string");
    expect_decode_error("\"parallelism\": 2", "\"parallelism\": 3",
                        "operators[0]: 2 subtasks for parallelism 3");
    expect_decode_error("\"size\": 12", "\"size\": -12",
                        "operators[0].subtasks[0].files[0].size: -12 is out of range");
    expect_decode_error("\"size\": 12", "\"size\": 12.5", "expected an integer, found a number");
    expect_decode_error("xxh64:00000000000000ff", "crc32:000000ff",
                        "files[0].checksum: \"crc32:000000ff\" is not an xxh64");
    expect_decode_error("xxh64:00000000000000ff", "xxh64:00000000000000FF", "is not an xxh64");
    expect_decode_error("\"kind\": \"savepoint\"", "\"kind\": \"snapshot\"",
                        "kind: unknown kind \"snapshot\"");
    expect_decode_error("\"key_groups\": [2, 3]", "\"key_groups\": [2]",
                        "subtasks[1].key_groups: expected [first, last]");
    expect_decode_error("\"key_groups\": [2, 3]", "\"key_groups\": [2, 4]",
                        "subtasks[1].key_groups: [2, 4]");
    expect_decode_error("\"topic\": \"clicks\"", "\"topic\": 5",
                        "values: \"topic\": expected a string, found an integer");
    expect_decode_error("\"id\": 42", "\"id\": 42, \"id\": 43", "duplicate");
    expect_decode_error("\"op-src-0-source-0\"", "\"../op-src-0-source-0\"",
                        "files[0].path: \"../op-src-0-source-0\"");
    expect_decode_error("\"job_id\": \"a1b2c3\"", "\"job_id\": \"\"", "job_id");
    expect_decode_error("{\"id\": 42", "[{\"id\": 42", "line");
}

static void test_framing(void **state) {
    (void)state;
    fl_error err = {0};
    /* A newer version is refused as such, before anything else. */
    char *v2 = frame(GOLDEN, 2);
    assert_null(fl_checkpoint_metadata_decode(v2, strlen(v2), "v2", &err));
    assert_int_equal(err.code, FL_EUNSUPPORTED);
    assert_non_null(strstr(err.message, "format version 2"));
    free(v2);
    /* Every proper prefix of a valid file is refused. */
    char *ok = frame(GOLDEN, 1);
    size_t n = strlen(ok);
    for (size_t cut = 0; cut < n; cut++) {
        fl_error e = {0};
        fl_checkpoint_metadata *md = fl_checkpoint_metadata_decode(ok, cut, "cut", &e);
        if (md != NULL) fail_msg("a file cut at %zu bytes was accepted", cut);
        assert_int_equal(e.code, FL_EFORMAT);
    }
    /* Any single flipped byte is refused. */
    for (size_t i = 0; i < n; i++) {
        ok[i] ^= 0x20;
        fl_error e = {0};
        fl_checkpoint_metadata *md = fl_checkpoint_metadata_decode(ok, n, "flip", &e);
        if (md != NULL) fail_msg("a file with byte %zu changed was accepted", i);
        ok[i] ^= 0x20;
    }
    free(ok);
}

int main(void) {
    fl_log_set_level(FL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_document),    cmocka_unit_test(test_round_trip_values),
        cmocka_unit_test(test_builder_refuses),    cmocka_unit_test(test_validate_names_field),
        cmocka_unit_test(test_decode_names_field), cmocka_unit_test(test_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
