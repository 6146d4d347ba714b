#!/bin/sh
# test_info.sh - `flinc info` prints the job graph (tasks with their chained
# operators and parallelism, then each task's outgoing edges with their
# partitioning and key) and does not run the job.
#
# The expected plans follow from the examples' code and Flink's rules:
# operators joined by a forward edge of equal parallelism are chained into one
# task; key_by makes a HASH edge keyed by its fields; a non-parallel source
# feeding a parallel operator uses REBALANCE; -p sets parallelism.default and
# wins over -D and over flink-conf.yaml.
set -eu
. "$(dirname "$0")/lib.sh"

WORDCOUNT="$FLINC_EXAMPLES/batch/wordcount.so"
SOCKET="$FLINC_EXAMPLES/streaming/socket_wordcount.so"
PARTITIONING="$FLINC_EXAMPLES/streaming/partitioning.so"
HAMLET="$FLINC_SOURCE_DIR/examples/data/hamlet.txt"

# expect_re FILE ERE...: every extended regular expression matches a line.
expect_re() {
    _file=$1
    shift
    for _re in "$@"; do
        CHECKS=$((CHECKS + 1))
        if ! grep -E -q -e "$_re" "$_file"; then
            fail "$(basename "$_file") has no line matching /$_re/"
            show "$_file"
        fi
    done
}

# count_re FILE ERE N: exactly N lines match.
count_re() {
    CHECKS=$((CHECKS + 1))
    _n=$(grep -E -c -e "$2" "$1" || true)
    if [ "$_n" -ne "$3" ]; then
        fail "$(basename "$1"): $_n lines match /$2/, expected $3"
        show "$1"
    fi
}

# did_not_run NAME: no record was printed and no job was started.
did_not_run() {
    CHECKS=$((CHECKS + 1))
    if grep -E -q '^([0-9]+> )?\(.*,[0-9]+\)$' "$WORK/$1.out"; then
        fail "run $1 printed records: the job ran"
        grep -E '^([0-9]+> )?\(' "$WORK/$1.out" | head -n 5 | sed 's/^/  | /'
    fi
    expect_no_text "$WORK/$1.err" "switched from CREATED to RUNNING"
}

# wordcount_plan NAME P [SINK]: the two-task WordCount plan at parallelism
# P; SINK is the sink's name (an ERE), the print sink's by default.
wordcount_plan() {
    _f="$WORK/$1.out"
    expect_re "$_f" \
        '^Job "WordCount": 2 tasks' \
        "^Task 1: Source: [^>]* -> Tokenizer \\(parallelism $2\\)\$" \
        "^Task 2: Sum -> ${3:-Sink: Print to Std\\. Out} \\(parallelism $2\\)\$" \
        '^ *-> Task 2 .* via HASH \(key: word\)$'
    count_re "$_f" '^Task ' 2
    count_re "$_f" ' via ' 1
}

begin "info of the WordCount example"
run_flinc wc info "$WORDCOUNT" --input "$HAMLET" --output "$WORK/counts"
expect_rc wc 0
wordcount_plan wc 1 'Sink: [^>]*'
expect_re "$WORK/wc.out" 'Tokenizer \[flat_map, fn wordcount_tokenize\]' 'Sum \[aggregate, key: word\]'
did_not_run wc
CHECKS=$((CHECKS + 1))
if [ -e "$WORK/counts" ]; then
    fail "flinc info created the --output directory: the job ran"
fi

begin "info -p 3"
run_flinc wc-p3 info -p 3 "$WORDCOUNT" --input "$HAMLET"
expect_rc wc-p3 0
wordcount_plan wc-p3 3
did_not_run wc-p3

begin "info -D parallelism.default=3"
run_flinc wc-d3 info -D parallelism.default=3 "$WORDCOUNT" --input "$HAMLET"
expect_rc wc-d3 0
wordcount_plan wc-d3 3

begin "-p wins over -D parallelism.default, in either order"
run_flinc wc-p3-d2 info -p 3 -D parallelism.default=2 "$WORDCOUNT" --input "$HAMLET"
expect_rc wc-p3-d2 0
wordcount_plan wc-p3-d2 3
run_flinc wc-d2-p3 info -D parallelism.default=2 -p 3 "$WORDCOUNT" --input "$HAMLET"
expect_rc wc-d2-p3 0
wordcount_plan wc-d2-p3 3

begin "parallelism.default from flink-conf.yaml, and -p over it"
mkdir "$WORK/conf"
printf '# test configuration\nparallelism.default: 4\nrootLogger.level: INFO\n' \
    >"$WORK/conf/flink-conf.yaml"
export FLINC_CONF_DIR="$WORK/conf"
run_flinc wc-conf4 info "$WORDCOUNT" --input "$HAMLET"
expect_rc wc-conf4 0
wordcount_plan wc-conf4 4
run_flinc wc-conf4-p2 info -p 2 "$WORDCOUNT" --input "$HAMLET"
expect_rc wc-conf4-p2 0
wordcount_plan wc-conf4-p2 2
unset FLINC_CONF_DIR

begin "info with operator chaining disabled"
run_flinc wc-nochain info -D pipeline.operator-chaining=false "$WORDCOUNT" --input "$HAMLET"
expect_rc wc-nochain 0
_f="$WORK/wc-nochain.out"
expect_re "$_f" '^Job "WordCount": 4 tasks' \
    '^Task [0-9]+: Source: [^>]* \(parallelism 1\)$' \
    '^Task [0-9]+: Tokenizer \(parallelism 1\)$' \
    '^Task [0-9]+: Sum \(parallelism 1\)$' \
    '^Task [0-9]+: Sink: Print to Std\. Out \(parallelism 1\)$' \
    '^ *-> Task [0-9]+ "Tokenizer" via FORWARD$' \
    '^ *-> Task [0-9]+ "Sum" via HASH \(key: word\)$' \
    '^ *-> Task [0-9]+ "Sink: Print to Std\. Out" via FORWARD$'
count_re "$_f" '^Task ' 4
did_not_run wc-nochain

begin "info of the built-in text at -p 3: a non-parallel source"
run_flinc wc-default info -p 3 "$WORDCOUNT"
expect_rc wc-default 0
_f="$WORK/wc-default.out"
expect_re "$_f" '^Job "WordCount": 3 tasks' \
    '^Task 1: Source: [^>]* \(parallelism 1\)$' \
    '^ *-> Task 2 "Tokenizer" via REBALANCE$' \
    '^Task 2: Tokenizer \(parallelism 3\)$' \
    '^ *-> Task 3 .* via HASH \(key: word\)$' \
    '^Task 3: Sum -> Sink: Print to Std\. Out \(parallelism 3\)$'
did_not_run wc-default

begin "info of the socket WordCount does not connect"
# Nothing listens on port 1: running the job would fail to connect.
run_flinc socket info -p 2 "$SOCKET" --hostname 127.0.0.1 --port 1
expect_rc socket 0
_f="$WORK/socket.out"
expect_re "$_f" '^Job "Socket WordCount": 3 tasks' \
    '^Task 1: Source: [^>]* \(parallelism 1\)$' \
    '^Task 2: Tokenizer \(parallelism 2\)$' \
    '^ *-> Task 3 .* via HASH \(key: word\)$' \
    '^Task 3: Sum -> Sink: Print to Std\. Out \(parallelism 2\)$'
did_not_run socket
expect_no_text "$WORK/socket.err" "127.0.0.1:1"

# partitioning_plan NAME P: the plan drawn in the example's header comment.
partitioning_plan() {
    _f="$WORK/$1.out"
    _p=$2
    _p2=$((2 * _p))
    expect_re "$_f" \
        '^Job "Partitioning": 8 tasks' \
        "^Task [0-9]+: Source: [^>]* -> Tag source \\(parallelism $_p\\)\$" \
        "^Task [0-9]+: Drop multiples of 10 -> Tag rebalance \\(parallelism $_p\\)\$" \
        "^Task [0-9]+: Tag rescale \\(parallelism $_p2\\)\$" \
        "^Task [0-9]+: Tag shuffle -> Edges -> Parity \\(parallelism $_p\\)\$" \
        "^Task [0-9]+: Count per edge \\(parallelism $_p\\)\$" \
        "^Task [0-9]+: Sum per parity -> Tag sum \\(parallelism $_p\\)\$" \
        "^Task [0-9]+: Print: edges \\(parallelism $_p\\)\$" \
        "^Task [0-9]+: Print: parity sums \\(parallelism $_p\\)\$" \
        '^ *-> Task [0-9]+ "Drop multiples of 10 -> Tag rebalance" via REBALANCE$' \
        '^ *-> Task [0-9]+ "Tag rescale" via RESCALE$' \
        '^ *-> Task [0-9]+ "Tag shuffle -> Edges -> Parity" via SHUFFLE$' \
        '^ *-> Task [0-9]+ "Count per edge" via HASH \(key: edge, sender, receiver\)' \
        '^ *-> Task [0-9]+ "Sum per parity -> Tag sum" via HASH \(key: parity\)' \
        '^ *-> Task [0-9]+ "Print: edges" via GLOBAL$' \
        '^ *-> Task [0-9]+ "Print: parity sums" via BROADCAST$'
    count_re "$_f" '^Task ' 8
    count_re "$_f" ' via ' 7
    did_not_run "$1"
}

begin "info of the partitioning example"
run_flinc part info "$PARTITIONING"
expect_rc part 0
partitioning_plan part 2

begin "info of the partitioning example with --parallelism 3"
run_flinc part3 info "$PARTITIONING" --parallelism 3
expect_rc part3 0
partitioning_plan part3 3

finish
