/*
 * test_connectors_socket.c - the "socket" source against a TCP server that
 * the test runs in a thread on loopback: records split at "\n" (CRLF
 * stripped) and at a multi-character delimiter that arrives split across
 * packets, the last record without a delimiter, the end of the source when
 * the server closes, reconnection with max-retries, and the connection
 * refused error.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "connectors.h"
#include "fake_ctx.h"
#include "mem.h"

/* A server that accepts `connections` clients one after the other and sends
 * each its list of chunks, pausing between chunks so that they arrive in
 * separate reads, then closes the connection. */
typedef struct server {
    int listen_fd;
    int port;
    int connections;
    const char *const *chunks[4]; /* per connection, NULL-terminated */
    pthread_t thread;
} server;

static void *serve(void *arg) {
    server *s = arg;
    for (int c = 0; c < s->connections; c++) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        for (const char *const *chunk = s->chunks[c]; *chunk != NULL; chunk++) {
            size_t len = strlen(*chunk);
            if (send(fd, *chunk, len, MSG_NOSIGNAL) != (ssize_t)len)
                break;
            fl_sleep_ns(20 * 1000000);
        }
        close(fd);
    }
    return NULL;
}

/* A socket bound to 127.0.0.1 on a free port; listening when `listening`. */
static int bound_socket(bool listening, int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    if (listening)
        assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

static void server_start(server *s) {
    s->listen_fd = bound_socket(true, &s->port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(server *s) {
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

/* Runs the source against the server and checks the records it emitted. */
static void expect_records(server *s, const char *host, const char *delimiter,
                           const char *retries, const char *const *expect) {
    server_start(s);
    char *port = fl_xasprintf("port=%d", s->port);
    char *hostname = fl_xasprintf("hostname=%s", host);
    char *delim = delimiter ? fl_xasprintf("delimiter=%s", delimiter) : NULL;
    char *retry = retries ? fl_xasprintf("max-retries=%s", retries) : NULL;
    const char *kv[5] = {port, hostname};
    int n = 2;
    if (delim)
        kv[n++] = delim;
    if (retry)
        kv[n++] = retry;
    fl_error err = {0};
    fl_source_ctx *ctx = fake_source_collect("socket", NULL, kv, 0, 1, &err);
    if (ctx == NULL)
        fail_msg("%s", err.message);
    size_t i = 0;
    for (; expect[i] != NULL; i++) {
        assert_true(i < ctx->n_rows);
        uint32_t len;
        const char *line = fl_row_get_string(ctx->rows[i], 0, &len);
        if (len != strlen(expect[i]) || memcmp(line, expect[i], len) != 0)
            fail_msg("record %zu is \"%.*s\", expected \"%s\"", i, (int)len, line, expect[i]);
    }
    assert_int_equal(ctx->n_rows, i);
    fake_source_destroy(ctx);
    server_stop(s);
    free(port);
    free(hostname);
    free(delim);
    free(retry);
}

static void newline_records(void **unused) {
    static const char *const chunks[] = {"first\nsec", "ond\r\n\nthi", "rd\nlast", NULL};
    static const char *const expect[] = {"first", "second", "", "third", "last", NULL};
    server s = {.connections = 1, .chunks = {chunks}};
    expect_records(&s, "127.0.0.1", NULL, NULL, expect);
    /* "localhost" may resolve to ::1 first, where nothing listens: the
     * source falls back to the next address. */
    server s2 = {.connections = 1, .chunks = {chunks}};
    expect_records(&s2, "localhost", "\\n", NULL, expect);
}

static void multi_char_delimiter(void **unused) {
    static const char *const chunks[] = {"x|", "|y||", "|", "|z\r\n|", NULL};
    static const char *const expect[] = {"x", "y", "", "z\r\n|", NULL};
    server s = {.connections = 1, .chunks = {chunks}};
    expect_records(&s, "127.0.0.1", "||", NULL, expect);
}

static void many_records(void **unused) {
    /* More records than one read() emits, in one chunk. */
    enum { N = 5000 };
    size_t cap = N * 8;
    char *data = fl_xmalloc(cap);
    size_t len = 0;
    const char **expect = fl_xcalloc(N + 1, sizeof *expect);
    char **owned = fl_xcalloc(N, sizeof *owned);
    for (int i = 0; i < N; i++) {
        owned[i] = fl_xasprintf("%d", i);
        expect[i] = owned[i];
        len += (size_t)snprintf(data + len, cap - len, "%d\n", i);
    }
    const char *chunks[] = {data, NULL};
    server s = {.connections = 1, .chunks = {chunks}};
    expect_records(&s, "127.0.0.1", NULL, NULL, expect);
    for (int i = 0; i < N; i++)
        free(owned[i]);
    free(owned);
    free(expect);
    free(data);
}

static void reconnects_with_retries(void **unused) {
    static const char *const first[] = {"one\ntw", NULL};
    static const char *const second[] = {"three\n", NULL};
    static const char *const expect[] = {"one", "tw", "three", NULL};
    server s = {.connections = 2, .chunks = {first, second}};
    expect_records(&s, "127.0.0.1", NULL, "1", expect);
}

static void connection_refused(void **unused) {
    int port;
    int fd = bound_socket(false, &port); /* bound, not listening: connect is refused */
    for (int round = 0; round < 2; round++) {
        const char *host = round == 0 ? "127.0.0.1" : "localhost";
        char *opt_port = fl_xasprintf("port=%d", port);
        char *opt_host = fl_xasprintf("hostname=%s", host);
        const char *kv[] = {opt_port, opt_host, NULL};
        fl_error err = {0};
        assert_null(fake_source_collect("socket", NULL, kv, 0, 1, &err));
        assert_int_equal(err.code, FL_ENET);
        char *expect = fl_xasprintf("could not connect to %s:%d: connection refused", host, port);
        assert_string_equal(err.message, expect);
        free(expect);
        free(opt_port);
        free(opt_host);
    }
    close(fd);

    fl_error err = {0};
    const char *no_port[] = {"hostname=localhost", NULL};
    assert_null(fake_source_collect("socket", NULL, no_port, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_non_null(strstr(err.message, "port"));
    fl_error_clear(&err);
    const char *bad_port[] = {"port=70000", NULL};
    assert_null(fake_source_collect("socket", NULL, bad_port, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    fl_error_clear(&err);
    const char *empty_delim[] = {"port=1", "delimiter=", NULL};
    assert_null(fake_source_collect("socket", NULL, empty_delim, 0, 1, &err));
    assert_int_equal(err.code, FL_ECONFIG);
    assert_false(fl_source_connector_find("socket")->parallel);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(newline_records),
        cmocka_unit_test(multi_char_delimiter),
        cmocka_unit_test(many_records),
        cmocka_unit_test(reconnects_with_retries),
        cmocka_unit_test(connection_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
