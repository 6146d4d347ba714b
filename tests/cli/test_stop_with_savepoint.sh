#!/bin/sh
# test_stop_with_savepoint.sh - `flinc run --savepoint-at` stops the job with
# a savepoint as Flink's stop does, and --drain (flinc.savepoint-drain) makes
# that stop drain: the log says the sources emit the maximum watermark before
# the savepoint's barrier, and the run still ends with exit code 0 and a
# complete savepoint. A drain value that is no boolean is a configuration
# error. The job is tests/jobs/unbounded.so with its rows discarded.
set -eu
. "$(dirname "$0")/lib.sh"

JOB="$FLINC_TEST_JOBS/unbounded.so"
SP=$WORK/savepoints
mkdir -p "$SP"
DRAINS="drains: the sources emit the maximum watermark"

begin "--savepoint-at stops without draining"
run_flinc plain run --savepoint-dir "$SP" --savepoint-at 2000 "$JOB" --rate 0 --discard
expect_savepoint plain "$SP"
expect_no_text "$WORK/plain.err" "$DRAINS"

begin "--savepoint-at with --drain"
run_flinc drain run --savepoint-dir "$SP" --savepoint-at 2000 --drain "$JOB" --rate 0 --discard
expect_savepoint drain "$SP"
expect_text "$WORK/drain.err" "$DRAINS"

begin "-D flinc.savepoint-drain=true"
run_flinc drain_d run --savepoint-dir "$SP" --savepoint-at 2000 -D flinc.savepoint-drain=true \
    "$JOB" --rate 0 --discard
expect_savepoint drain_d "$SP"
expect_text "$WORK/drain_d.err" "$DRAINS"

begin "a drain value that is not a boolean"
run_flinc bad run --savepoint-dir "$SP" --savepoint-at 2000 -D flinc.savepoint-drain=maybe \
    "$JOB" --discard
expect_error bad 2 "maybe" "flinc.savepoint-drain" "true or false"

finish
