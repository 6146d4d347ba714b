# lib.sh - helpers shared by the end-to-end tests of the flinc command.
#
# Every tests/cli/test_*.sh sources this file right after `set -eu`:
#
#     . "$(dirname "$0")/lib.sh"
#
# It checks the variables ctest sets (FLINC_BIN, FLINC_EXAMPLES,
# FLINC_SOURCE_DIR, FLINC_TEST_JOBS), makes the test's own temporary directory
# $WORK (removed on exit, together with any process the test left running),
# and provides:
#
#   begin TEXT                 names the case that the next failures belong to
#   run_flinc NAME ARGS...     runs "$FLINC_BIN" ARGS under a time limit with
#                              stdin from /dev/null; stdout goes to
#                              $WORK/NAME.out, stderr to $WORK/NAME.err, the exit
#                              code to $RC. A run that hits the limit, or whose
#                              stderr holds a sanitizer report, is a failure.
#   fail TEXT                  records a failure of the current case
#   expect_rc NAME CODE        the exit code of the last run, NAME, was CODE
#   expect_error NAME CODE TEXT...
#                              run NAME exited with CODE, printed nothing on
#                              stdout, and its stderr holds one message, a
#                              "flinc: " line containing every TEXT (log lines
#                              and the "Try 'flinc help'" hint aside)
#   expect_text FILE TEXT...   FILE contains every TEXT (fixed strings)
#   expect_line FILE LINE...   FILE has every LINE as a whole line
#   expect_no_text FILE TEXT   FILE does not contain TEXT (fixed string)
#   expect_same EXPECTED GOT   the two files are equal (shows a diff if not)
#   expect_savepoint NAME DIR  run NAME exited with 0 and printed "Job stopped
#                              with a savepoint. Path: P" on stdout, P a
#                              complete savepoint (its _metadata written)
#                              directly under DIR; P goes to $SAVEPOINT ("" if
#                              there is none)
#   wait_until SECONDS CMD...  polls CMD every 0.1 s until it succeeds; returns
#                              1 when SECONDS pass first
#   start NAME ARGS...         starts "$FLINC_BIN" ARGS in the background with
#                              SIGINT and SIGTERM at their default dispositions
#                              (as for a command in the foreground of a
#                              terminal; a shell starts background commands
#                              with SIGINT ignored); stdout and stderr as for
#                              run_flinc, its pid in $PID, its exit code in
#                              $WORK/NAME.rc once it has ended
#   running NAME               the job of run NAME switched to RUNNING
#   stop NAME SIGNAL...        sends the signals to $PID one after the other
#                              and waits up to $STOP_LIMIT s (default 30) for
#                              the end; RC is its exit code (255 when it did
#                              not end: then it is killed). A sanitizer report
#                              on stderr is a failure
#   messages NAME              prints the stderr lines of run NAME that are not
#                              log lines or the usage hint
#   sanitizer_report FILE      succeeds when FILE holds an ASan/UBSan report
#   show FILE                  prints the head of FILE under a failure
#   finish                     prints the summary; exits 1 after any failure
#
# The expect_* helpers record a failure and go on (they always return 0), so
# one run of a script reports every broken check. The tests never sleep for a
# fixed time to wait for something: they poll for the condition, with a bound.

: "${FLINC_BIN:?FLINC_BIN must name the flinc binary (ctest sets it)}"
: "${FLINC_EXAMPLES:?FLINC_EXAMPLES must name the built examples directory}"
: "${FLINC_SOURCE_DIR:?FLINC_SOURCE_DIR must name the source tree}"
: "${FLINC_TEST_JOBS:?FLINC_TEST_JOBS must name the directory of the test jobs}"

# Byte-wise tools and sorting, whatever the caller's locale.
LC_ALL=C
export LC_ALL
# The tests choose their configuration themselves.
unset FLINC_CONF_DIR FLINK_CONF_DIR
# Longest a single flinc run may take (ASan + UBSan builds are slow).
FLINC_RUN_LIMIT="${FLINC_RUN_LIMIT:-60}"
# Seconds a job started with `start` may take to end after `stop` signals it.
STOP_LIMIT="${STOP_LIMIT:-30}"
if env --default-signal=INT,TERM true 2>/dev/null; then
    DEFAULT_SIGNALS="env --default-signal=INT,TERM"
else
    DEFAULT_SIGNALS=""
fi

FAILURES=0
CHECKS=0
CASE="setup"
RC=0
BACKGROUND_PIDS=""

WORK=$(mktemp -d "${TMPDIR:-/tmp}/flinc-cli.XXXXXX")

cleanup() {
    for pid in $BACKGROUND_PIDS; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

begin() {
    CASE="$*"
    echo "--- $CASE"
}

fail() {
    FAILURES=$((FAILURES + 1))
    echo "FAIL [$CASE]: $*"
}

# Shows the first lines of a file after a failure, for the reader of the log.
show() {
    if [ -s "$1" ]; then
        echo "  ---- $(basename "$1") (first 15 lines):"
        head -n 15 "$1" | sed 's/^/  | /'
    else
        echo "  ---- $(basename "$1") is empty"
    fi
}

sanitizer_report() {
    grep -E -q 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)' "$1"
}

run_flinc() {
    _name=$1
    shift
    CHECKS=$((CHECKS + 1))
    RC=0
    timeout -k 5 "$FLINC_RUN_LIMIT" "$FLINC_BIN" "$@" \
        <"/dev/null" >"$WORK/$_name.out" 2>"$WORK/$_name.err" || RC=$?
    if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
        fail "flinc $* did not end within ${FLINC_RUN_LIMIT} s (hang)"
        show "$WORK/$_name.err"
    fi
    if sanitizer_report "$WORK/$_name.err"; then
        fail "flinc $*: sanitizer report on stderr"
        grep -E -m 5 -A 8 'ERROR: |runtime error:' "$WORK/$_name.err" | sed 's/^/  | /'
    fi
}

expect_rc() {
    CHECKS=$((CHECKS + 1))
    if [ "$RC" -ne "$2" ]; then
        fail "run $1: exit code $RC, expected $2"
        show "$WORK/$1.err"
    fi
}

# The stderr lines of run NAME that are neither log lines nor the usage hint.
messages() {
    grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} +(TRACE|DEBUG|INFO|WARN|ERROR) ' \
        "$WORK/$1.err" | grep -v -x -F "Try 'flinc help' for usage." || true
}

expect_error() {
    _name=$1
    expect_rc "$_name" "$2"
    shift 2
    messages "$_name" >"$WORK/$_name.msg"
    CHECKS=$((CHECKS + 1))
    if [ "$(wc -l <"$WORK/$_name.msg")" -ne 1 ] || ! grep -q '^flinc: ' "$WORK/$_name.msg"; then
        fail "run $_name: expected one \"flinc: \" message on stderr (besides log lines)"
        show "$WORK/$_name.err"
    fi
    expect_text "$WORK/$_name.msg" "$@"
    CHECKS=$((CHECKS + 1))
    if [ -s "$WORK/$_name.out" ]; then
        fail "run $_name: a failed command printed to stdout"
        show "$WORK/$_name.out"
    fi
}

expect_text() {
    _file=$1
    shift
    for _text in "$@"; do
        CHECKS=$((CHECKS + 1))
        if ! grep -F -q -e "$_text" "$_file"; then
            fail "$(basename "$_file") lacks \"$_text\""
            show "$_file"
        fi
    done
}

expect_line() {
    _file=$1
    shift
    for _text in "$@"; do
        CHECKS=$((CHECKS + 1))
        if ! grep -F -x -q -e "$_text" "$_file"; then
            fail "$(basename "$_file") lacks the line \"$_text\""
            show "$_file"
        fi
    done
}

expect_no_text() {
    CHECKS=$((CHECKS + 1))
    if grep -F -q -e "$2" "$1"; then
        fail "$(basename "$1") contains \"$2\""
        show "$1"
    fi
}

expect_same() {
    CHECKS=$((CHECKS + 1))
    if ! cmp -s "$1" "$2"; then
        fail "$(basename "$2") differs from the expected $(basename "$1") ($(wc -l <"$1") vs $(wc -l <"$2") lines)"
        diff "$1" "$2" | head -n 20 | sed 's/^/  | /'
    fi
}

expect_savepoint() {
    expect_rc "$1" 0
    CHECKS=$((CHECKS + 1))
    SAVEPOINT=$(sed -n 's/^Job stopped with a savepoint\. Path: //p' "$WORK/$1.out")
    case "$SAVEPOINT" in
    "$2"/savepoint-*)
        CHECKS=$((CHECKS + 1))
        [ -f "$SAVEPOINT/_metadata" ] || fail "$SAVEPOINT has no _metadata"
        ;;
    *)
        fail "run $1: stdout names no savepoint under $2"
        show "$WORK/$1.out"
        show "$WORK/$1.err"
        SAVEPOINT=""
        ;;
    esac
}

wait_until() {
    _tries=$(($1 * 10))
    shift
    while [ "$_tries" -gt 0 ]; do
        if "$@"; then
            return 0
        fi
        sleep 0.1
        _tries=$((_tries - 1))
    done
    "$@"
}

start() {
    _name=$1
    shift
    (
        # shellcheck disable=SC2086
        $DEFAULT_SIGNALS "$FLINC_BIN" "$@" <"/dev/null" >"$WORK/$_name.out" 2>"$WORK/$_name.err" &
        echo $! >"$WORK/$_name.pid.tmp"
        mv "$WORK/$_name.pid.tmp" "$WORK/$_name.pid"
        _rc=0
        wait $! || _rc=$?
        echo "$_rc" >"$WORK/$_name.rc.tmp"
        mv "$WORK/$_name.rc.tmp" "$WORK/$_name.rc"
    ) &
    wait_until 10 test -s "$WORK/$_name.pid" || true
    PID=$(cat "$WORK/$_name.pid")
    BACKGROUND_PIDS="$BACKGROUND_PIDS $PID"
}

running() {
    grep -s -q "switched from CREATED to RUNNING" "$WORK/$1.err"
}

stop() {
    _name=$1
    shift
    for _sig in "$@"; do
        kill "-$_sig" "$PID" 2>/dev/null || true
    done
    CHECKS=$((CHECKS + 1))
    if wait_until "$STOP_LIMIT" test -s "$WORK/$_name.rc"; then
        RC=$(cat "$WORK/$_name.rc")
    else
        fail "flinc did not end within $STOP_LIMIT s after SIG$*"
        show "$WORK/$_name.err"
        kill -KILL "$PID" 2>/dev/null || true
        wait_until 10 test -s "$WORK/$_name.rc" || true
        RC=255
    fi
    if sanitizer_report "$WORK/$_name.err"; then
        fail "sanitizer report on stderr"
        grep -E -m 5 -A 8 'ERROR: |runtime error:' "$WORK/$_name.err" | sed 's/^/  | /'
    fi
}

finish() {
    if [ "$FAILURES" -gt 0 ]; then
        echo "$FAILURES of $CHECKS checks failed"
        exit 1
    fi
    echo "all $CHECKS checks passed"
}
