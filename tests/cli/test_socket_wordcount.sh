#!/bin/sh
# test_socket_wordcount.sh - the streaming socket WordCount example
# (examples/streaming/socket_wordcount.so) end to end, fed by a TCP server
# that the test runs itself.
#
# The server (a few lines of python3) listens on 127.0.0.1, port 0, writes the
# port it got to a file, accepts one connection, sends a known text in pieces
# of varying size, and closes the connection; the socket source ends there,
# so the job finishes. The job prints every word's running count, so for the
# oracle (tr -cs 'A-Za-z0-9_' '\n' | tr A-Z a-z | sort | uniq -c of the text)
# each word must print the counts 1, 2, ..., n in order, from one subtask, and
# n must be the oracle's count. Then: no server on the port is a clear error
# naming host:port.
#
# Needs python3 (the Debian package "python3").
set -eu
. "$(dirname "$0")/lib.sh"

JOB="$FLINC_EXAMPLES/streaming/socket_wordcount.so"

if ! command -v python3 >/dev/null 2>&1; then
    echo "test_socket_wordcount.sh needs python3 for its TCP server; install the Debian package python3" >&2
    exit 1
fi

cat >"$WORK/server.py" <<'EOF'
# server.py PORT_FILE DATA_FILE: serves DATA_FILE to one client, then closes.
import os
import socket
import sys

port_file, data_file = sys.argv[1], sys.argv[2]
with open(data_file, "rb") as f:
    data = f.read()
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(("127.0.0.1", 0))
server.listen(1)
server.settimeout(60)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.getsockname()[1])
os.rename(port_file + ".tmp", port_file)
conn, _ = server.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
# Pieces of 1 to 13 bytes first (records split across reads), then larger.
sizes = [1, 2, 3, 5, 7, 11, 13]
pos, i = 0, 0
while pos < len(data):
    n = sizes[i % len(sizes)] if pos < 4096 else 65536
    conn.sendall(data[pos:pos + n])
    pos, i = pos + n, i + 1
conn.shutdown(socket.SHUT_WR)
conn.close()
server.close()
EOF

cat >"$WORK/free_port.py" <<'EOF'
# free_port.py: prints a TCP port of 127.0.0.1 that nothing listens on.
import socket

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF

# The text: mixed case, punctuation, CRLF and empty lines, a line longer than
# one read (100 KB), and a last line without a newline.
TEXT="$WORK/text.txt"
{
    printf 'To be, or not to be: that is the question.\n'
    printf 'Whether '"'"'tis nobler in the mind to suffer\r\n'
    printf '\n'
    printf 'The slings and arrows of outrageous fortune,\n'
    awk 'BEGIN {
        for (i = 0; i < 2000; i++) {
            printf "line %d: Stream%d stream%d, STREAM the_end; to BE\n", i, i % 37, i % 11
        }
        for (i = 0; i < 12000; i++) printf "Long%d ", i % 97
        printf "\n"
    }'
    printf '\r\n'
    printf 'or to take arms against a sea of troubles'
} >"$TEXT"
# ASCII letters only, as the example splits words.
# shellcheck disable=SC2018,SC2019
tr -cs 'A-Za-z0-9_' '\n' <"$TEXT" | tr 'A-Z' 'a-z' | sed '/^$/d' | sort | uniq -c |
    awk '{ print $2, $1 }' | sort >"$WORK/expected"

# check_counts FILE P: every word prints 1..n in order from one subtask (a
# "k> " prefix with k in 1..P when P > 1), and n is the oracle's count.
check_counts() {
    awk -v p="$2" -v expected="$WORK/expected" '
    function bad(msg) { if (errors++ < 20) print msg }
    BEGIN { while ((getline line < expected) > 0) { split(line, f, " "); want[f[1]] = f[2] } }
    {
        line = $0; k = 0
        if (match(line, /^[0-9]+> /)) {
            k = substr(line, 1, RLENGTH - 2) + 0
            line = substr(line, RLENGTH + 1)
            if (p == 1) bad("subtask prefix at parallelism 1: " $0)
            if (k < 1 || k > p) bad("prefix " k " is not a subtask of " p ": " $0)
        } else if (p > 1) {
            bad("no subtask prefix at parallelism " p ": " $0)
        }
        if (line !~ /^\([a-z0-9_]+,[0-9]+\)$/) { bad("malformed line: " $0); next }
        split(substr(line, 2, length(line) - 2), f, ",")
        word = f[1]; n = f[2] + 0
        if (n != got[word] + 1) bad(word ": count " n " after " got[word] + 0)
        if ((word in subtask) && subtask[word] != k) bad(word ": printed by subtasks " subtask[word] " and " k)
        subtask[word] = k
        got[word] = n
    }
    END {
        for (word in want)
            if (got[word] != want[word]) bad(word ": last count " got[word] + 0 ", expected " want[word])
        for (word in got)
            if (!(word in want)) bad(word ": not a word of the text")
        exit errors > 0
    }' "$1" || true
}

for p in 1 2; do
    begin "socket WordCount, -p $p"
    rm -f "$WORK/port"
    python3 "$WORK/server.py" "$WORK/port" "$TEXT" 2>"$WORK/server-p$p.err" &
    server=$!
    BACKGROUND_PIDS="$BACKGROUND_PIDS $server"
    CHECKS=$((CHECKS + 1))
    if ! wait_until 30 test -s "$WORK/port"; then
        fail "the test's TCP server did not start"
        show "$WORK/server-p$p.err"
        continue
    fi
    port=$(cat "$WORK/port")
    run_flinc "socket-p$p" run -p "$p" -D execution.buffer-timeout=0 "$JOB" \
        --hostname 127.0.0.1 --port "$port"
    expect_rc "socket-p$p" 0
    if [ "$RC" -ne 0 ]; then
        # The server may still wait for the connection that never came.
        kill "$server" 2>/dev/null || true
    fi
    server_rc=0
    wait "$server" || server_rc=$?
    CHECKS=$((CHECKS + 1))
    if [ "$server_rc" -ne 0 ]; then
        fail "the test's TCP server failed (exit $server_rc)"
        show "$WORK/server-p$p.err"
    fi
    check_counts "$WORK/socket-p$p.out" "$p" >"$WORK/socket-p$p.problems"
    CHECKS=$((CHECKS + 1))
    if [ -s "$WORK/socket-p$p.problems" ]; then
        fail "the running counts do not match the text"
        sed 's/^/  | /' "$WORK/socket-p$p.problems"
    fi
done

begin "connection refused"
port=$(python3 "$WORK/free_port.py")
run_flinc refused run "$JOB" --hostname 127.0.0.1 --port "$port"
expect_error refused 1 "127.0.0.1:$port"

finish
