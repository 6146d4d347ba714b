/*
 * source_socket.c - the "socket" source: text records read from a TCP server
 * as (line STRING), split at a delimiter; Flink's socketTextStream.
 *
 * Non-parallel and unbounded, but like Flink's socket function it ends when
 * the server closes the connection and no retry is left (the last record,
 * without its delimiter, is emitted when it is not empty). Everything is
 * non-blocking: connect and recv wait in poll() for at most 50 ms per read()
 * call, and read() returns FL_SOURCE_IDLE when nothing has arrived, so the
 * task stays responsive to cancellation.
 *
 * max-retries counts reconnections after the first connection: 0 fails at
 * once when the server cannot be reached or the connection breaks (and ends
 * the source when the server closes it), -1 retries forever, 500 ms apart.
 *
 * Fault tolerance: at-most-once. A TCP stream cannot be rewound, so the
 * source has no snapshot/restore (both NULL): after a restart from a
 * checkpoint it connects again and reads what the server sends from then
 * on; records read after the checkpoint and not yet through the job when it
 * failed are lost, and nothing is read twice.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "connectors_int.h"
#include "mem.h"

#define NAME "socket"
#define POLL_MS 50
#define RECV_SIZE ((size_t)64 << 10)
#define RETRY_DELAY_NS INT64_C(500000000)
#define CONNECT_TIMEOUT_NS INT64_C(30000000000)
#define MAX_RECORD ((size_t)1 << 30)
/* recv() calls per read() at most (4 MiB), so that a flood of bytes without
 * a delimiter does not keep read() from returning. */
#define MAX_RECVS 64

static const fl_option_def options[] = {
    {"hostname", "localhost", false, "host name or address of the server"},
    {"port", NULL, true, "TCP port of the server"},
    {"delimiter", "\\n", false,
     "record delimiter, may be several characters (\\n \\r \\t \\\\ escapes)"},
    {"max-retries", "0", false,
     "reconnections after the connection closes or fails (-1: forever), 500 ms apart"},
    {NULL, NULL, false, NULL},
};

enum { S_START, S_CONNECTING, S_CONNECTED, S_WAIT_RETRY, S_DONE };

typedef struct socket_state {
    char *host;
    int port;
    char *delim; /* decoded */
    size_t delim_len;
    int64_t max_retries;
    int64_t retries; /* reconnections done */

    int phase;
    int fd;
    struct addrinfo *addrs; /* while connecting */
    struct addrinfo *addr;  /* the address being tried */
    int last_errno;         /* why the last address failed */
    int64_t deadline_ns;    /* connect timeout / retry time */

    fl__conn_buf pending; /* received bytes; records start at `consumed` */
    size_t consumed;
    size_t scan; /* no delimiter starts before this offset */
} socket_state;

/* Decodes \n \r \t \\ in the option value into new bytes. */
static char *decode_delimiter(const char *s, size_t *len) {
    char *out = fl_xmalloc(strlen(s) + 1);
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\\' && p[1] != '\0') {
            char c = p[1];
            if (c == 'n' || c == 'r' || c == 't' || c == '\\') {
                out[n++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : '\\';
                p++;
                continue;
            }
        }
        out[n++] = *p;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

static int read_options(const fl_options *o, socket_state *st, fl_error *err) {
    int64_t port;
    int rc = fl__conn_get_int_range(o, NAME, "port", -1, 1, 65535, &port, err);
    if (rc == 0)
        rc = fl__conn_get_int_range(o, NAME, "max-retries", 0, -1, INT64_MAX, &st->max_retries,
                                    err);
    if (rc < 0)
        return rc;
    const char *host = fl_options_get(o, "hostname");
    if (host == NULL || host[0] == '\0')
        host = "localhost";
    const char *delim = fl_options_get(o, "delimiter");
    st->delim = decode_delimiter(delim ? delim : "\n", &st->delim_len);
    st->host = fl_xstrdup(host);
    st->port = (int)port;
    if (st->delim_len == 0)
        return fl_error_set(err, FL_ECONFIG, "connector \"" NAME "\": the delimiter is empty");
    return 0;
}

static void state_free(socket_state *st) {
    if (st->fd >= 0)
        close(st->fd);
    if (st->addrs != NULL)
        freeaddrinfo(st->addrs);
    free(st->host);
    free(st->delim);
    fl__conn_buf_free(&st->pending);
    free(st);
}

static fl_schema *socket_schema(const fl_options *o, const fl_schema *declared, fl_error *err) {
    socket_state *st = fl_xcalloc(1, sizeof *st);
    st->fd = -1;
    int rc = read_options(o, st, err);
    state_free(st);
    if (rc < 0)
        return NULL;
    fl_schema *own = fl__conn_line_schema();
    fl_schema *s = fl__conn_fixed_schema(NAME, own, declared, err);
    fl_schema_unref(own);
    return s;
}

static bool socket_bounded(const fl_options *o) {
    return false;
}

static int socket_open(fl_source_ctx *ctx, const fl_options *o, void **state, fl_error *err) {
    socket_state *st = fl_xcalloc(1, sizeof *st);
    st->fd = -1;
    int rc = read_options(o, st, err);
    if (rc < 0) {
        state_free(st);
        return rc;
    }
    st->phase = S_START;
    *state = st;
    return 0;
}

static void close_fd(socket_state *st) {
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
}

/* The connection could not be made or broke: retry later, or fail. */
static int connection_failed(socket_state *st, const char *what, int errnum, fl_error *err) {
    close_fd(st);
    if (st->addrs != NULL) {
        freeaddrinfo(st->addrs);
        st->addrs = NULL;
    }
    if (st->max_retries < 0 || st->retries < st->max_retries) {
        st->retries++;
        st->phase = S_WAIT_RETRY;
        st->deadline_ns = fl_clock_monotonic_ns() + RETRY_DELAY_NS;
        return 0;
    }
    char text[128];
    st->phase = S_DONE;
    return fl_error_set(err, FL_ENET, "%s %s:%d: %s", what, st->host, st->port,
                        fl_errno_text(errnum, text, sizeof text));
}

/* Starts a non-blocking connect to st->addr or a later address. */
static int try_addresses(socket_state *st, fl_error *err) {
    for (; st->addr != NULL; st->addr = st->addr->ai_next) {
        struct addrinfo *a = st->addr;
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        if (fd < 0) {
            st->last_errno = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
            st->fd = fd;
            st->phase = S_CONNECTING;
            return 0;
        }
        st->last_errno = errno;
        close(fd);
    }
    return connection_failed(st, "could not connect to", st->last_errno, err);
}

static int start_connect(socket_state *st, fl_error *err) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[16];
    snprintf(port, sizeof port, "%d", st->port);
    int rc = getaddrinfo(st->host, port, &hints, &st->addrs);
    if (rc != 0) {
        char text[128];
        if (rc == EAI_SYSTEM) {
            fl_errno_text(errno, text, sizeof text);
        } else {
            snprintf(text, sizeof text, "%s", gai_strerror(rc));
            text[0] = (char)tolower((unsigned char)text[0]);
        }
        st->addrs = NULL;
        st->phase = S_DONE;
        return fl_error_set(err, FL_ENET, "could not connect to %s:%d: %s", st->host, st->port,
                            text);
    }
    st->addr = st->addrs;
    st->last_errno = ECONNREFUSED;
    st->deadline_ns = fl_clock_monotonic_ns() + CONNECT_TIMEOUT_NS;
    return try_addresses(st, err);
}

/* Waits (at most POLL_MS) for the connect in progress to complete. */
static int continue_connect(socket_state *st, fl_error *err) {
    struct pollfd pfd = {.fd = st->fd, .events = POLLOUT};
    int n = poll(&pfd, 1, POLL_MS);
    if (n < 0 && errno != EINTR)
        return connection_failed(st, "could not connect to", errno, err);
    if (n <= 0) {
        if (fl_clock_monotonic_ns() > st->deadline_ns)
            return connection_failed(st, "could not connect to", ETIMEDOUT, err);
        return 0;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        so_error = errno;
    if (so_error != 0) {
        /* Try the next address (localhost: ::1, then 127.0.0.1). */
        st->last_errno = so_error;
        close_fd(st);
        st->addr = st->addr->ai_next;
        return try_addresses(st, err);
    }
    freeaddrinfo(st->addrs);
    st->addrs = NULL;
    st->addr = NULL;
    st->phase = S_CONNECTED;
    return 0;
}

static int emit_record(socket_state *st, fl_source_ctx *ctx, const char *p, size_t len) {
    /* Like Flink: with the default "\n" delimiter, CRLF lines lose their '\r'. */
    if (st->delim_len == 1 && st->delim[0] == '\n' && len > 0 && p[len - 1] == '\r')
        len--;
    fl_row_builder *b = fl_source_builder(ctx);
    fl_row_builder_set_string(b, 0, p, (uint32_t)len);
    return fl_source_emit(ctx, FL_NO_TIMESTAMP);
}

/* Emits complete records from pending, up to `room`; returns the count or an error. */
static int emit_records(socket_state *st, fl_source_ctx *ctx, int room) {
    int emitted = 0;
    while (emitted < room) {
        size_t from = st->scan > st->consumed ? st->scan : st->consumed;
        const char *base = st->pending.data;
        const char *hit = st->pending.len > from
                              ? memmem(base + from, st->pending.len - from, st->delim,
                                       st->delim_len)
                              : NULL;
        if (hit == NULL) {
            /* A delimiter may straddle the end: rescan its first len-1 bytes next time. */
            size_t keep = st->delim_len - 1;
            st->scan = st->pending.len > keep ? st->pending.len - keep : 0;
            break;
        }
        size_t len = (size_t)(hit - (base + st->consumed));
        int rc = emit_record(st, ctx, base + st->consumed, len);
        if (rc < 0)
            return rc;
        st->consumed += len + st->delim_len;
        emitted++;
    }
    if (st->consumed == st->pending.len) {
        st->pending.len = st->consumed = st->scan = 0;
    } else if (st->consumed > (st->pending.cap >> 1)) {
        size_t rest = st->pending.len - st->consumed;
        memmove(st->pending.data, st->pending.data + st->consumed, rest);
        st->pending.len = rest;
        st->scan = st->scan > st->consumed ? st->scan - st->consumed : 0;
        st->consumed = 0;
    }
    return emitted;
}

/* The server closed the connection: emit the partial record, then retry or end. */
static int end_of_stream(socket_state *st, fl_source_ctx *ctx, fl_error *err) {
    if (st->pending.len > st->consumed) {
        int rc = emit_record(st, ctx, st->pending.data + st->consumed,
                             st->pending.len - st->consumed);
        if (rc < 0)
            return rc;
    }
    st->pending.len = st->consumed = st->scan = 0;
    close_fd(st);
    if (st->max_retries < 0 || st->retries < st->max_retries) {
        st->retries++;
        st->phase = S_WAIT_RETRY;
        st->deadline_ns = fl_clock_monotonic_ns() + RETRY_DELAY_NS;
        return FL_SOURCE_IDLE;
    }
    st->phase = S_DONE;
    return FL_SOURCE_END;
}

static int read_connected(socket_state *st, fl_source_ctx *ctx, fl_error *err) {
    int total = 0;
    for (int recvs = 0;; recvs++) {
        int n = emit_records(st, ctx, FL__CONN_BATCH_ROWS - total);
        if (n < 0)
            return n;
        total += n;
        if (total >= FL__CONN_BATCH_ROWS || recvs >= MAX_RECVS)
            return FL_SOURCE_MORE;
        /* Wait only when this call has produced nothing yet. */
        struct pollfd pfd = {.fd = st->fd, .events = POLLIN};
        int ready = poll(&pfd, 1, total > 0 ? 0 : POLL_MS);
        if (ready < 0 && errno != EINTR)
            return connection_failed(st, "connection lost to", errno, err);
        if (ready <= 0)
            break;
        if (st->pending.len - st->consumed >= MAX_RECORD)
            return fl_error_set(err, FL_EFORMAT,
                                "connector \"" NAME "\": a record from %s:%d is longer than 1 "
                                "GiB without a delimiter",
                                st->host, st->port);
        char *dst = fl__conn_buf_reserve(&st->pending, RECV_SIZE);
        ssize_t got = recv(st->fd, dst, RECV_SIZE, 0);
        if (got > 0) {
            st->pending.len += (size_t)got;
            continue;
        }
        if (got == 0) {
            int rc = end_of_stream(st, ctx, err);
            return rc == FL_SOURCE_IDLE && total > 0 ? FL_SOURCE_MORE : rc;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            break;
        int rc = connection_failed(st, "connection lost to", errno, err);
        if (rc < 0)
            return rc;
        return FL_SOURCE_IDLE;
    }
    return total > 0 ? FL_SOURCE_MORE : FL_SOURCE_IDLE;
}

static int socket_read(void *state, fl_source_ctx *ctx, fl_error *err) {
    socket_state *st = state;
    if (st->phase == S_WAIT_RETRY && fl_clock_monotonic_ns() >= st->deadline_ns)
        st->phase = S_START;
    int rc = 0;
    switch (st->phase) {
    case S_START:
        rc = start_connect(st, err);
        break;
    case S_CONNECTING:
        rc = continue_connect(st, err);
        break;
    case S_CONNECTED:
        rc = read_connected(st, ctx, err);
        break;
    case S_WAIT_RETRY:
        break;
    default:
        return FL_SOURCE_END;
    }
    if (rc < 0 || rc == FL_SOURCE_MORE || rc == FL_SOURCE_END)
        return rc;
    if (st->phase == S_DONE)
        return FL_SOURCE_END;
    /* Nothing yet: come back at the retry time, or at once (poll already waited). */
    fl_source_idle_until(ctx, st->phase == S_WAIT_RETRY ? st->deadline_ns
                                                        : fl_clock_monotonic_ns());
    return FL_SOURCE_IDLE;
}

static void socket_close(void *state) {
    if (state != NULL)
        state_free(state);
}

const fl_source_connector fl__source_socket = {
    .name = NAME,
    .description = "Records from a TCP server split at a delimiter, as (line STRING) "
                   "(socketTextStream); ends when the server closes the connection.",
    .options = options,
    .parallel = false,
    .schema = socket_schema,
    .bounded = socket_bounded,
    .open = socket_open,
    .read = socket_read,
    .close = socket_close,
    .snapshot = NULL, /* at-most-once: see the top of this file */
    .restore = NULL,
};
