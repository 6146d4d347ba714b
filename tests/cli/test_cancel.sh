#!/bin/sh
# test_cancel.sh - Ctrl-C (SIGINT) and SIGTERM cancel a running job cleanly:
# `flinc run` ends within a bounded time with exit code 130 and one message
# saying the job was canceled, the records printed so far are whole lines,
# and the sanitizers report nothing (no leak, no use after free).
#
# The job is tests/jobs/unbounded.so (an unbounded datagen source, a map and
# a print or discard sink). It runs in the background with SIGINT and SIGTERM
# at their default dispositions, as for a command in the foreground of a
# terminal (a shell starts background commands with SIGINT ignored). The test
# waits until the job runs and records flow before it sends the signal.
set -eu
. "$(dirname "$0")/lib.sh"

JOB="$FLINC_TEST_JOBS/unbounded.so"
# Seconds the job may take to end after the signal.
STOP_LIMIT=30

# printed_at_least NAME N: N records are on stdout.
printed_at_least() {
    [ -f "$WORK/$1.out" ] && [ "$(wc -l <"$WORK/$1.out")" -ge "$2" ]
}

# canceled NAME: the run ended as canceled, saying so once.
canceled() {
    expect_rc "$1" 130
    messages "$1" >"$WORK/$1.msg"
    CHECKS=$((CHECKS + 1))
    if [ "$(wc -l <"$WORK/$1.msg")" -ne 1 ] || ! grep -q '^flinc: .*cancel' "$WORK/$1.msg"; then
        fail "expected one \"flinc: \" message saying the job was canceled"
        show "$WORK/$1.err"
    fi
}

# whole_lines NAME: stdout holds only whole "(id)" records, with the "N> "
# prefix of a parallel print sink or without.
whole_lines() {
    CHECKS=$((CHECKS + 1))
    if [ -s "$WORK/$1.out" ] && [ "$(tail -c 1 "$WORK/$1.out" | od -An -c | tr -d ' ')" != '\n' ]; then
        fail "stdout ends in the middle of a line"
    fi
    CHECKS=$((CHECKS + 1))
    _bad=$(grep -c -v -E '^([0-9]+> )?\(-?[0-9]+\)$' "$WORK/$1.out" || true)
    if [ "$_bad" -ne 0 ]; then
        fail "$_bad malformed lines on stdout"
        grep -v -E '^([0-9]+> )?\(-?[0-9]+\)$' "$WORK/$1.out" | head -n 5 | sed 's/^/  | /'
    fi
}

# signal_running NAME MIN_RECORDS SIGNALS ARGS...: starts the job, waits until
# it runs and has printed MIN_RECORDS records, then sends SIGNALS and waits
# for the end.
signal_running() {
    _case=$1
    _min=$2
    _sigs=$3
    shift 3
    start "$_case" run "$@"
    CHECKS=$((CHECKS + 1))
    if ! wait_until 30 running "$_case" || ! wait_until 30 printed_at_least "$_case" "$_min"; then
        fail "the job did not start running and printing within 30 s"
        show "$WORK/$_case.err"
    fi
    # shellcheck disable=SC2086
    stop "$_case" $_sigs
}

begin "SIGINT"
signal_running sigint 50 INT "$JOB" --rate 1000
canceled sigint
whole_lines sigint

begin "SIGTERM"
signal_running sigterm 50 TERM "$JOB" --rate 1000
canceled sigterm
whole_lines sigterm

begin "SIGINT, two subtasks joined by an exchange"
signal_running exchange 50 INT -p 2 "$JOB" --rate 1000 --rebalance
canceled exchange
whole_lines exchange

begin "SIGINT, unthrottled source into a busy exchange"
signal_running unthrottled 0 INT -p 2 "$JOB" --rate 0 --rebalance --discard
canceled unthrottled

# A second Ctrl-C exits at once, without waiting for the tasks: only the exit
# code and the bounded time are promised then.
begin "SIGINT twice"
signal_running twice 50 "INT INT" "$JOB" --rate 1000
expect_rc twice 130

finish
