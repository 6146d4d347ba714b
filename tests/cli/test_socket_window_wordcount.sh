#!/bin/sh
# test_socket_window_wordcount.sh - the SocketWindowWordCount example
# (examples/streaming/socket_window_wordcount.so) end to end, fed by a TCP
# server that the test runs itself.
#
# The job counts words in tumbling 5-second processing-time windows and, as
# in Flink, does not fire a window that is still open when its input ends.
# So the server (a few lines of python3 on 127.0.0.1, port 0) sends the whole
# text at once and then keeps the connection open; the test polls the job's
# output (bounded, on the real clock) until the counts printed for each word,
# summed over the windows they fell into, equal the oracle's
# (tr -cs 'A-Za-z0-9_' '\n' | tr A-Z a-z | sort | uniq -c); only then does
# the server close the connection, which ends the job. Every line must be
# "(word,count)" without a subtask prefix (the sink runs alone), and a word
# may print at most once per window. Then: no --port is a usage error.
#
# Needs python3 (the Debian package "python3").
set -eu
. "$(dirname "$0")/lib.sh"

JOB="$FLINC_EXAMPLES/streaming/socket_window_wordcount.so"

if ! command -v python3 >/dev/null 2>&1; then
    echo "test_socket_window_wordcount.sh needs python3 for its TCP server; install the Debian package python3" >&2
    exit 1
fi

cat >"$WORK/server.py" <<'EOF'
# server.py PORT_FILE DATA_FILE CLOSE_FILE: sends DATA_FILE to one client,
# then keeps the connection open until CLOSE_FILE exists (at most 120 s).
import os
import socket
import sys
import time

port_file, data_file, close_file = sys.argv[1], sys.argv[2], sys.argv[3]
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
conn.sendall(data)
deadline = time.monotonic() + 120
while not os.path.exists(close_file) and time.monotonic() < deadline:
    time.sleep(0.05)
conn.shutdown(socket.SHUT_WR)
conn.close()
server.close()
EOF

TEXT="$WORK/text.txt"
{
    printf 'To be, or not to be: that is the question.\n'
    printf 'Whether '"'"'tis nobler in the mind to suffer\r\n'
    printf '\n'
    awk 'BEGIN {
        for (i = 0; i < 500; i++)
            printf "line %d: Window%d window%d, WINDOW the_end; to BE\n", i, i % 23, i % 7
    }'
    printf 'or to take arms against a sea of troubles\n'
} >"$TEXT"
# shellcheck disable=SC2018,SC2019
tr -cs 'A-Za-z0-9_' '\n' <"$TEXT" | tr 'A-Z' 'a-z' | sed '/^$/d' | sort | uniq -c |
    awk '{ print $2, $1 }' | sort >"$WORK/expected"

# sums FILE: "word total" per word over every (word,count) line, sorted; a
# malformed line or a prefix makes it print "malformed: LINE" instead.
sums() {
    awk '
        /^\([a-z0-9_]+,[0-9]+\)$/ {
            split(substr($0, 2, length($0) - 2), f, ",")
            total[f[1]] += f[2]
            next
        }
        { print "malformed: " $0 }
        END { for (w in total) print w, total[w] }' "$1" | sort
}

counts_complete() {
    sums "$1" >"$WORK/got"
    cmp -s "$WORK/expected" "$WORK/got"
}

for p in 1 2; do
    begin "socket window WordCount, -p $p"
    rm -f "$WORK/port" "$WORK/close"
    python3 "$WORK/server.py" "$WORK/port" "$TEXT" "$WORK/close" 2>"$WORK/server-p$p.err" &
    server=$!
    BACKGROUND_PIDS="$BACKGROUND_PIDS $server"
    CHECKS=$((CHECKS + 1))
    if ! wait_until 30 test -s "$WORK/port"; then
        fail "the test's TCP server did not start"
        show "$WORK/server-p$p.err"
        continue
    fi
    port=$(cat "$WORK/port")
    out="$WORK/window-p$p.out"
    err="$WORK/window-p$p.err"
    timeout -k 5 "$FLINC_RUN_LIMIT" "$FLINC_BIN" run -p "$p" "$JOB" \
        --hostname 127.0.0.1 --port "$port" <"/dev/null" >"$out" 2>"$err" &
    job=$!
    BACKGROUND_PIDS="$BACKGROUND_PIDS $job"
    # Windows close every 5 s of the real clock: the counts are complete
    # after at most one or two of them.
    CHECKS=$((CHECKS + 1))
    if ! wait_until 40 counts_complete "$out"; then
        fail "the windows' counts did not add up to the text's within 40 s"
        diff "$WORK/expected" "$WORK/got" | head -n 10 | sed 's/^/  | /'
        show "$err"
    fi
    touch "$WORK/close"
    rc=0
    wait "$job" || rc=$?
    RC=$rc
    expect_rc "window-p$p" 0
    if sanitizer_report "$err"; then
        fail "sanitizer report on stderr"
        grep -E -m 5 -A 8 'ERROR: |runtime error:' "$err" | sed 's/^/  | /'
    fi
    server_rc=0
    wait "$server" || server_rc=$?
    CHECKS=$((CHECKS + 1))
    if [ "$server_rc" -ne 0 ]; then
        fail "the test's TCP server failed (exit $server_rc)"
        show "$WORK/server-p$p.err"
    fi
    # Nothing more was printed after the counts were complete, and no word
    # printed twice for one window (each window prints a word once).
    CHECKS=$((CHECKS + 1))
    if ! counts_complete "$out"; then
        fail "the final output does not add up to the text's counts"
        diff "$WORK/expected" "$WORK/got" | head -n 10 | sed 's/^/  | /'
    fi
    windows=$(sort "$out" | uniq -c | awk '$1 > 2' | wc -l)
    CHECKS=$((CHECKS + 1))
    if [ "$windows" -ne 0 ]; then
        fail "a (word,count) line repeats more than twice: more windows than the text can span"
        sort "$out" | uniq -c | awk '$1 > 2' | head -n 5 | sed 's/^/  | /'
    fi
done

begin "no port"
run_flinc noport run "$JOB" --hostname 127.0.0.1
expect_rc noport 1
expect_text "$WORK/noport.err" "--port PORT"

finish
