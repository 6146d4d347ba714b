#!/bin/sh
# test_savepoint_on_interrupt.sh - Ctrl-C stops the job with a savepoint when
# --savepoint-on-interrupt is given or flinc.savepoint-on-interrupt is true in
# the configuration (-D or flink-conf.yaml), and cancels it otherwise: an
# explicit false in the configuration without the flag cancels, the flag wins
# over a false, and a value that is no boolean is a configuration error.
#
# A stop with a savepoint ends with exit code 0, "Job stopped with a
# savepoint. Path: DIR" on stdout, and DIR is a complete savepoint (its
# _metadata written) under the savepoint directory. The job is
# tests/jobs/unbounded.so with its rows discarded, signaled once it runs.
set -eu
. "$(dirname "$0")/lib.sh"

JOB="$FLINC_TEST_JOBS/unbounded.so"
SP=$WORK/savepoints
mkdir -p "$SP"

# interrupt NAME ARGS...: starts `flinc run ARGS unbounded.so --discard`,
# waits until the job runs and sends SIGINT.
interrupt() {
    _case=$1
    shift
    start "$_case" run "$@" "$JOB" --rate 1000 --discard
    CHECKS=$((CHECKS + 1))
    if ! wait_until 30 running "$_case"; then
        fail "the job did not start running within 30 s"
        show "$WORK/$_case.err"
    fi
    stop "$_case" INT
}

# stopped_with_savepoint NAME: the run ended with a new savepoint under $SP.
stopped_with_savepoint() {
    expect_savepoint "$1" "$SP"
    [ -n "$SAVEPOINT" ] || return 0
    CHECKS=$((CHECKS + 1))
    if grep -q -x -F "$SAVEPOINT" "$WORK/savepoints.seen" 2>/dev/null; then
        fail "$SAVEPOINT was reported by an earlier run"
    fi
    echo "$SAVEPOINT" >>"$WORK/savepoints.seen"
}

# canceled NAME: the run ended as canceled, without a savepoint.
canceled() {
    expect_rc "$1" 130
    expect_no_text "$WORK/$1.out" "Job stopped with a savepoint"
}

begin "--savepoint-on-interrupt"
interrupt flag --savepoint-dir "$SP" --savepoint-on-interrupt
stopped_with_savepoint flag

begin "-D flinc.savepoint-on-interrupt=true"
interrupt config_d --savepoint-dir "$SP" -D flinc.savepoint-on-interrupt=true
stopped_with_savepoint config_d

begin "flinc.savepoint-on-interrupt: true in flink-conf.yaml"
mkdir -p "$WORK/conf"
cat >"$WORK/conf/flink-conf.yaml" <<EOF
execution.checkpointing.savepoint-dir: $SP
flinc:
  savepoint-on-interrupt: TRUE
EOF
FLINC_CONF_DIR=$WORK/conf
export FLINC_CONF_DIR
interrupt config_file
stopped_with_savepoint config_file
unset FLINC_CONF_DIR

begin "-D flinc.savepoint-on-interrupt=false without the flag cancels"
interrupt config_false --savepoint-dir "$SP" -D flinc.savepoint-on-interrupt=false
canceled config_false

begin "the flag wins over -D flinc.savepoint-on-interrupt=false, in either order"
interrupt flag_first --savepoint-dir "$SP" --savepoint-on-interrupt \
    -D flinc.savepoint-on-interrupt=false
stopped_with_savepoint flag_first
interrupt flag_last --savepoint-dir "$SP" -D flinc.savepoint-on-interrupt=false \
    --savepoint-on-interrupt
stopped_with_savepoint flag_last

begin "a value that is not a boolean"
run_flinc bad run --savepoint-dir "$SP" -D flinc.savepoint-on-interrupt=maybe "$JOB" --discard
expect_error bad 2 "maybe" "flinc.savepoint-on-interrupt" "true or false"

begin "without a savepoint directory"
run_flinc no_dir run -D flinc.savepoint-on-interrupt=true "$JOB" --discard
expect_error no_dir 1 "a savepoint needs a directory"

finish
