#!/bin/sh
# test_checkpoint_dirs.sh - where `flinc run` puts checkpoints and savepoints
# when the configuration names their directories by Flink 1.x's older keys
# (state.backend.fs.checkpointdir for execution.checkpointing.dir,
# savepoints.state.backend.fs.dir for execution.checkpointing.savepoint-dir),
# and what an empty value means: unset, so an older key behind it still
# counts, and without one the run behaves as if no directory were given.
#
# The job is tests/jobs/eo_window.so, a short bounded run; its checkpoints are
# retained (RETAIN_ON_CANCELLATION keeps them whenever the job ends), so the
# test finds them on disk afterwards.
set -eu
. "$(dirname "$0")/lib.sh"

JOB=$FLINC_TEST_JOBS/eo_window.so
ROWS=20000

# checkpointed NAME ARGS...: runs the job with checkpoints every 50 ms that
# are kept when it ends; restarts are off, so a failed checkpoint fails it,
# and it must succeed.
checkpointed() {
    _name=$1
    shift
    run_flinc "$_name" run -D execution.checkpointing.interval=50ms \
        -D execution.checkpointing.externalized-checkpoint-retention=RETAIN_ON_CANCELLATION \
        -D restart-strategy.type=none "$@" "$JOB" --rows "$ROWS" --out "$WORK/$_name.output"
    expect_rc "$_name" 0
}

# complete_checkpoint_in DIR: DIR holds <job-id>/chk-N/_metadata.
complete_checkpoint_in() {
    CHECKS=$((CHECKS + 1))
    [ -n "$(find "$1" -path "$1/*/chk-*/_metadata" 2>/dev/null | head -n 1)" ] ||
        fail "no complete checkpoint in $1"
}

begin "state.backend.fs.checkpointdir alone"
checkpointed old_ck -D "state.backend.fs.checkpointdir=$WORK/old-ck"
complete_checkpoint_in "$WORK/old-ck"
expect_no_text "$WORK/old_ck.err" "/tmp/flinc-checkpoints-"

begin "savepoints.state.backend.fs.dir alone"
run_flinc old_sp run -D "savepoints.state.backend.fs.dir=$WORK/old-sp" --savepoint-at 5000 \
    "$JOB" --rows "$ROWS" --out "$WORK/old_sp.output"
expect_savepoint old_sp "$WORK/old-sp"

begin "file:// URIs in the older keys, as Flink writes them"
checkpointed uri_ck -D "state.backend.fs.checkpointdir=file://$WORK/uri-ck"
complete_checkpoint_in "$WORK/uri-ck"

begin "an empty current key does not hide an older one"
checkpointed empty_new_ck -D execution.checkpointing.dir= -D state.checkpoints.dir= \
    -D "state.backend.fs.checkpointdir=$WORK/behind-ck"
complete_checkpoint_in "$WORK/behind-ck"
run_flinc empty_new_sp run -D execution.checkpointing.savepoint-dir= \
    -D "savepoints.state.backend.fs.dir=$WORK/behind-sp" --savepoint-at 5000 \
    "$JOB" --rows "$ROWS" --out "$WORK/empty_new_sp.output"
expect_savepoint empty_new_sp "$WORK/behind-sp"

begin "an empty checkpoint directory is no directory: a private one is used"
checkpointed empty_ck -D execution.checkpointing.dir=
expect_text "$WORK/empty_ck.err" "completed checkpoint 1 of job"

begin "an empty savepoint directory is no directory"
run_flinc empty_sp run -D execution.checkpointing.savepoint-dir= --savepoint-at 5000 \
    -D restart-strategy.type=none "$JOB" --rows "$ROWS" --out "$WORK/empty_sp.output"
expect_error empty_sp 1 "a savepoint needs a directory"

finish
