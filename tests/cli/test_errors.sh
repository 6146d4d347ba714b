#!/bin/sh
# test_errors.sh - every way `flinc` can be called wrongly, or run a job that
# cannot work, ends in one clear message on stderr that names the thing at
# fault, and in the documented exit code (src/cli/main.c): 1 the job failed or
# could not be loaded, 2 bad usage or configuration. Nothing crashes, hangs,
# or trips a sanitizer (run_flinc checks both).
#
# The test jobs come from tests/jobs: no_entry.so (no FLINC_MAIN), static_fn.so
# (a static map function), failing_map.so (fl_context_fail on one value) and
# misuse.so (--case: an API misuse per case).
set -eu
. "$(dirname "$0")/lib.sh"

WORDCOUNT="$FLINC_EXAMPLES/batch/wordcount.so"
HAMLET="$FLINC_SOURCE_DIR/examples/data/hamlet.txt"
JOBS="$FLINC_TEST_JOBS"
USAGE=2
FAILED=1

# ---- the command line ------------------------------------------------------------

begin "no command"
run_flinc nocmd
expect_rc nocmd $USAGE
expect_text "$WORK/nocmd.err" "usage: flinc"

begin "unknown command"
run_flinc unknown-cmd frobnicate
expect_error unknown-cmd $USAGE '"frobnicate"' "unknown command"

begin "unknown option"
run_flinc unknown-opt run --frobnicate "$WORDCOUNT"
expect_error unknown-opt $USAGE '"--frobnicate"' "unknown option"

begin "run without a job file"
run_flinc no-job run
expect_error no-job $USAGE "job file"

begin "-p without a value"
run_flinc p-missing run -p
expect_error p-missing $USAGE "-p"

for value in 0 abc -3 2x; do
    begin "-p $value"
    run_flinc "p-$value" run -p "$value" "$WORDCOUNT" --input "$HAMLET"
    expect_error "p-$value" $USAGE "\"$value\"" "parallelism"
done

begin "-D without key=value"
run_flinc d-noeq run -D parallelism.default "$WORDCOUNT" --input "$HAMLET"
expect_error d-noeq $USAGE '"parallelism.default"'

begin "-D without an argument"
run_flinc d-missing run -D
expect_error d-missing $USAGE "-D"

begin "job arguments that are not --key value pairs"
run_flinc stray-arg run "$JOBS/misuse.so" --case unknown-key stray
expect_error stray-arg $USAGE '"stray"' "--key value"

# ---- the job file ----------------------------------------------------------------

begin "missing job file"
run_flinc missing-job run "$WORK/no-such-job.so"
expect_error missing-job $FAILED "$WORK/no-such-job.so"

begin "a file that is not a shared object"
printf '#!/bin/sh\necho this is not a flinc job\n' >"$WORK/script.so"
run_flinc not-so run "$WORK/script.so"
expect_error not-so $FAILED "$WORK/script.so"

begin "a shared object without the entry point"
run_flinc no-entry run "$JOBS/no_entry.so"
expect_error no-entry $FAILED "no_entry.so" "flinc_main"

# ---- configuration ---------------------------------------------------------------

begin "malformed flink-conf.yaml"
mkdir "$WORK/badconf"
cat >"$WORK/badconf/flink-conf.yaml" <<'EOF'
# A configuration with a YAML syntax error on line 4.
parallelism.default: 1

taskmanager.numberOfTaskSlots: 2: 3
rest.port: 8081
EOF
export FLINC_CONF_DIR="$WORK/badconf"
run_flinc bad-yaml run "$WORDCOUNT" --input "$HAMLET"
unset FLINC_CONF_DIR
expect_error bad-yaml $USAGE "$WORK/badconf/flink-conf.yaml" "line 4"

begin "FLINC_CONF_DIR without flink-conf.yaml"
mkdir "$WORK/emptyconf"
export FLINC_CONF_DIR="$WORK/emptyconf"
run_flinc no-conf-file run "$WORDCOUNT" --input "$HAMLET"
unset FLINC_CONF_DIR
expect_error no-conf-file $USAGE "$WORK/emptyconf/flink-conf.yaml" "FLINC_CONF_DIR"

begin "FLINK_CONF_DIR naming a missing directory"
export FLINK_CONF_DIR="$WORK/no-such-dir"
run_flinc no-conf-dir run "$WORDCOUNT" --input "$HAMLET"
unset FLINK_CONF_DIR
expect_error no-conf-dir $USAGE "$WORK/no-such-dir/flink-conf.yaml"

# Invalid values of keys flinc knows are configuration errors (exit 2), found
# before the job runs. failing_map.so with --fail-at 0 would succeed.
for pair in execution.buffer-timeout=abc parallelism.default=-3 parallelism.default=abc \
    execution.runtime-mode=FAST pipeline.operator-chaining=maybe rootLogger.level=LOUD; do
    key=${pair%%=*}
    value=${pair#*=}
    begin "-D $pair"
    run_flinc "conf-$key-$value" run -D "$pair" "$JOBS/failing_map.so" --fail-at 0
    expect_error "conf-$key-$value" $USAGE "\"$key\"" "\"$value\""
done

begin "-D execution.buffer-timeout=abc with the WordCount example"
run_flinc conf-wordcount run -D execution.buffer-timeout=abc "$WORDCOUNT" --input "$HAMLET"
expect_error conf-wordcount $USAGE '"execution.buffer-timeout"' '"abc"'

begin "an invalid value in flink-conf.yaml"
mkdir "$WORK/valueconf"
printf 'parallelism.default: -3\n' >"$WORK/valueconf/flink-conf.yaml"
export FLINC_CONF_DIR="$WORK/valueconf"
run_flinc conf-file-value run "$JOBS/failing_map.so" --fail-at 0
unset FLINC_CONF_DIR
expect_error conf-file-value $USAGE '"parallelism.default"' '"-3"'

begin "more slots needed than configured"
run_flinc slots run -D taskmanager.numberOfTaskSlots=1 -p 2 "$JOBS/failing_map.so" --fail-at 0
expect_error slots $FAILED "taskmanager.numberOfTaskSlots"

# ---- what needs the standalone cluster ---------------------------------------------

begin "run -m host:port"
run_flinc dash-m run -m localhost:8081 "$WORDCOUNT" --input "$HAMLET"
expect_error dash-m $USAGE "-m" "not available yet"

for cmd in list cancel; do
    begin "flinc $cmd"
    run_flinc "cluster-$cmd" "$cmd"
    expect_error "cluster-$cmd" $USAGE "\"$cmd\"" "standalone cluster" "not built"
done

# ---- jobs that cannot run ------------------------------------------------------------

begin "a static user function"
run_flinc static-fn run "$JOBS/static_fn.so"
expect_error static-fn $FAILED "map function"
CHECKS=$((CHECKS + 1))
if ! grep -q -e "no exported symbol" -e "cannot be resolved" "$WORK/static-fn.msg"; then
    fail "the error does not say that the function has no exported symbol name"
fi
expect_no_text "$WORK/static-fn.err" "switched from CREATED to RUNNING"

begin "a map that fails in subtask 2 of 2"
run_flinc fail-2 run -p 2 "$JOBS/failing_map.so"
expect_error fail-2 $FAILED "(2/2)" "Check" "failing_map refuses the value 777"

begin "a map that fails in subtask 1 of 2"
run_flinc fail-1 run -p 2 "$JOBS/failing_map.so" --fail-at 5
expect_error fail-1 $FAILED "(1/2)" "Check" "failing_map refuses the value 5"

begin "a map that fails while the other subtasks stream through an exchange"
run_flinc fail-exchange run -p 2 "$JOBS/failing_map.so" --count 2000000 --fail-at 1000500 --rebalance
expect_error fail-exchange $FAILED "(2/2)" "Check" "failing_map refuses the value 1000500"

begin "BATCH mode with an unbounded socket source"
run_flinc batch-socket run "$JOBS/misuse.so" --case batch-socket
expect_error batch-socket $FAILED "BATCH" "unbounded" "Socket"

begin "key_by on an unknown field"
run_flinc unknown-key run "$JOBS/misuse.so" --case unknown-key
expect_error unknown-key $FAILED '"colour"' "key_by"

begin "union of two schemas"
run_flinc union run "$JOBS/misuse.so" --case union-mismatch
expect_error union $FAILED "union" "(value BIGINT)" "(word STRING, count BIGINT)"

begin "a job that never calls execute"
run_flinc no-execute run "$JOBS/misuse.so" --case no-execute
expect_error no-execute $FAILED "misuse.so" "fl_env_execute"

begin "flinc info on a job that cannot be built"
run_flinc info-unknown-key info "$JOBS/misuse.so" --case unknown-key
expect_error info-unknown-key $FAILED '"colour"'

finish
