# test_kill_restore.sh - exactly-once across processes: `flinc run` is killed
# with SIGKILL at random points of a keyed windowed job that writes through
# the exactly-once file sink, and started again each time from its retained
# checkpoints with -s. The committed output of the final, uninterrupted run
# must hold every (key, window) line exactly once, as computed here by awk.
set -eu
. "$(dirname "$0")/lib.sh"

ROWS=120000
OUT=$WORK/out
CK=$WORK/checkpoints
JOB=$FLINC_TEST_JOBS/eo_window.so
mkdir -p "$OUT" "$CK"

start_job() { # $1 = log name, then extra flinc options
    name=$1
    shift
    env --default-signal=INT,TERM "$FLINC_BIN" run -p 2 \
        -D execution.checkpointing.interval=50ms \
        -D "execution.checkpointing.dir=$CK" \
        -D execution.checkpointing.num-retained=3 \
        -D execution.checkpointing.externalized-checkpoint-retention=RETAIN_ON_CANCELLATION \
        -D pipeline.auto-watermark-interval=0 \
        "$@" "$JOB" --rows "$ROWS" --out "$OUT" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PID=$!
}

# The newest job directory holding a complete checkpoint.
latest_job_dir() {
    m=$(ls -t "$CK"/*/chk-*/_metadata 2>/dev/null | head -n 1)
    [ -n "$m" ] && dirname "$(dirname "$m")"
}

completed_after() { # a complete checkpoint newer than the marker file
    [ -n "$(find "$CK" -name _metadata -newer "$1" 2>/dev/null | head -n 1)" ]
}

begin "killed three times, restored with -s each time"
FROM=""
for round in 1 2 3; do
    touch "$WORK/mark$round"
    if [ -n "$FROM" ]; then start_job "run$round" -s "$FROM"; else start_job "run$round"; fi
    if ! wait_until 60 completed_after "$WORK/mark$round"; then
        fail "run $round completed no checkpoint"
        show "$WORK/run$round.err"
        kill -9 "$PID" 2>/dev/null || true
        break
    fi
    # Let it run on a little (a bounded number of further checkpoints).
    wait_until 5 sh -c "[ \$(find '$CK' -name _metadata -newer '$WORK/mark$round' | wc -l) -ge 2 ]" || true
    kill -9 "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    FROM=$(latest_job_dir)
    [ -n "$FROM" ] || fail "no retained checkpoint after run $round"
    echo "round $round: killed; restoring from $(ls -t "$FROM" | grep chk- | head -n 1) of ${FROM##*/}"
    [ "$round" -eq 1 ] || grep -q "restoring from" "$WORK/run$round.err" ||
        fail "run $round did not restore"
done

begin "the last run finishes from the latest checkpoint"
start_job final -s "$FROM"
if wait "$PID"; then RC=0; else RC=$?; fi
[ "$RC" -eq 0 ] || { fail "final run exited $RC"; show "$WORK/final.err"; }
if sanitizer_report "$WORK/final.err"; then fail "sanitizer report"; show "$WORK/final.err"; fi
grep -q "restoring from" "$WORK/final.err" || fail "the final run did not restore"

begin "committed output is exactly the reference"
# Visible part files only: hidden ones are in progress or pending.
find "$OUT" -maxdepth 1 -type f ! -name '.*' -exec cat {} + | sort >"$WORK/got.txt"
awk -v n="$ROWS" 'BEGIN {
    for (v = 0; v < n; v++) { k = v % 13; w = int(v / 1000) * 1000; s[k "," w] += v; c[k "," w]++ }
    for (x in s) print x "," s[x] "," c[x]
}' | sort >"$WORK/want.txt"
expect_same "$WORK/want.txt" "$WORK/got.txt"
if [ -n "$(find "$OUT" -maxdepth 1 -name '.*' -type f)" ]; then
    fail "hidden (uncommitted) files left after the final run"
fi

begin "a corrupted checkpoint is detected and the previous retained one is restored"
# The final run's own retained checkpoints: damage the newest one's state.
JD=$(latest_job_dir)
NEWEST=$(ls -d "$JD"/chk-* | sort -t- -k2 -n | tail -n 1)
COUNT=$(ls -d "$JD"/chk-* | wc -l)
VICTIM=$(find "$NEWEST" -type f ! -name '_*' | head -n 1)
if [ "$COUNT" -lt 2 ] || [ -z "$VICTIM" ]; then
    fail "expected at least two retained checkpoints with state in $JD"
else
    printf 'garbage' | dd of="$VICTIM" bs=1 seek=3 conv=notrunc 2>/dev/null
    run_flinc corrupt run -p 2 -s "$JD" -D execution.checkpointing.interval=1h \
        -D "execution.checkpointing.dir=$WORK/other" -D restart-strategy.type=none \
        "$JOB" --rows "$ROWS" --out "$OUT"
    expect_rc corrupt 0
    expect_text "$WORK/corrupt.err" "${NEWEST##*/}"
    grep "restoring from" "$WORK/corrupt.err" | grep -q "${NEWEST##*/}\$" &&
        fail "restored the corrupted checkpoint ${NEWEST##*/}"
    grep -q "restoring from" "$WORK/corrupt.err" || fail "nothing was restored"
fi

begin "with every retained checkpoint broken the restore fails with a clear message"
for chk in "$JD"/chk-*; do
    f=$(find "$chk" -type f ! -name '_*' | head -n 1)
    [ -n "$f" ] && printf 'garbage' | dd of="$f" bs=1 seek=3 conv=notrunc 2>/dev/null
done
run_flinc broken run -p 2 -s "$JD" -D restart-strategy.type=none "$JOB" --rows "$ROWS" --out "$OUT"
expect_error broken 1 "could not restore" "${JD##*/}"

finish
