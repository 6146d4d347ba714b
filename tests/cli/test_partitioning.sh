#!/bin/sh
# test_partitioning.sh - the partitioning example
# (examples/streaming/partitioning.so) against what its header comment
# promises, with the expected figures computed here from 1..N:
#
#   - the parity sums are those of 1..N without the multiples of 10 (200000
#     and 250000 for N = 1000), whatever path the records took;
#   - BROADCAST: every parity sum prints once per print subtask ("1> " ..
#     "P> "), each copy naming the same summing subtask in 0..P-1;
#   - GLOBAL: every edge count prints from print subtask 1 only;
#   - every edge kind (rebalance, rescale, shuffle) carries each kept record
#     exactly once;
#   - REBALANCE: every source subtask reaches every receiver;
#   - RESCALE (P to 2P): sender i feeds exactly receivers 2i and 2i+1, round
#     robin, so its two counts differ by at most one;
#   - SHUFFLE: from the 2P rescale subtasks to the P shuffle subtasks;
#   - what a subtask receives on one edge is what it sends on the next;
#   - --rolling (STREAMING): every record prints its key's updated result, so
#     the edge counts of a key go 1, 2, 3, ... and the parity sums rise to the
#     final ones, one update per kept record.
set -eu
. "$(dirname "$0")/lib.sh"

JOB="$FLINC_EXAMPLES/streaming/partitioning.so"

# check_output FILE N P MODE: prints one line per broken promise (MODE is
# batch or rolling); prints nothing when the output keeps them all.
check_output() {
    awk -v n="$2" -v p="$3" -v mode="$4" '
    function bad(msg) { print msg; errors++ }
    BEGIN {
        for (v = 1; v <= n; v++) {
            if (v % 10 == 0) continue
            kept++
            if (v % 2 == 0) { want_sum["even"] += v; want_n["even"]++ }
            else { want_sum["odd"] += v; want_n["odd"]++ }
        }
    }
    # The "k> " prefix names the print subtask; a print sink of parallelism
    # 1 prints none.
    {
        line = $0
        if (match(line, /^[0-9]+> /)) {
            k = substr(line, 1, RLENGTH - 2) + 0
            line = substr(line, RLENGTH + 1)
        } else {
            k = 1
            if (p > 1) bad("no subtask prefix at parallelism " p ": " $0)
        }
        split(substr(line, 2), f, /[,)]/)
    }
    # (parity, value, summed_by), from print subtask k
    line ~ /^\((even|odd),[0-9]+,[0-9]+\)$/ {
        parity = f[1]; value = f[2] + 0; by = f[3] + 0
        if (k < 1 || k > p) bad("parity sum printed by subtask " k " of " p ": " $0)
        if (by < 0 || by >= p) bad("summed_by " by " is not a subtask of " p ": " $0)
        if ((parity, "by") in owner && owner[parity, "by"] != by)
            bad("the " parity " sum comes from subtasks " owner[parity, "by"] " and " by)
        owner[parity, "by"] = by
        if ((k, parity) in last && value <= last[k, parity])
            bad("the " parity " sum at print subtask " k " went from " last[k, parity] " to " value)
        last[k, parity] = value
        updates[k, parity]++
        next
    }
    # (edge, sender, receiver, records), all from print subtask 1
    line ~ /^\((rebalance|rescale|shuffle),[0-9]+,[0-9]+,[0-9]+\)$/ {
        edge = f[1]; s = f[2] + 0; r = f[3] + 0; c = f[4] + 0
        if (k != 1) bad("GLOBAL output printed by subtask " k ": " $0)
        key = edge SUBSEP s SUBSEP r
        if (mode == "batch" && (key in count)) bad("edge count printed twice: " $0)
        if (mode == "rolling" && c != count[key] + 1)
            bad("count of (" edge "," s "," r ") went from " count[key] + 0 " to " c)
        count[key] = c
        edge_lines[edge]++
        next
    }
    { bad("unexpected output line: " $0) }
    END {
        for (k = 1; k <= p; k++) {
            for (parity in want_sum) {
                if (!((k, parity) in last)) { bad("print subtask " k " printed no " parity " sum"); continue }
                if (last[k, parity] != want_sum[parity])
                    bad("print subtask " k ": " parity " sum " last[k, parity] ", expected " want_sum[parity])
                want_updates = mode == "batch" ? 1 : want_n[parity]
                if (updates[k, parity] != want_updates)
                    bad("print subtask " k ": " updates[k, parity] " " parity " lines, expected " want_updates)
            }
        }
        for (key in count) {
            split(key, e, SUBSEP)
            edge = e[1]; s = e[2] + 0; r = e[3] + 0; c = count[key]
            total[edge] += c
            if (edge == "rebalance") {
                if (s >= p || r >= p) bad("rebalance edge " s " -> " r " outside 0.." p - 1)
                sent_on["rebalance", r] += c     # received by Tag rebalance r
                sent["rebalance", s] += c
            } else if (edge == "rescale") {
                if (s >= p) bad("rescale sender " s " outside 0.." p - 1)
                if (r != 2 * s && r != 2 * s + 1) bad("rescale edge " s " -> " r ": not 2i or 2i+1")
                sent["rescale", s] += c
                sent_on["rescale", r] += c
            } else {
                if (s >= 2 * p || r >= p) bad("shuffle edge " s " -> " r " outside 0.." 2 * p - 1 " -> 0.." p - 1)
                sent["shuffle", s] += c
                sent_on["shuffle", r] += c
            }
        }
        split("rebalance rescale shuffle", kinds, " ")
        for (i = 1; i <= 3; i++) {
            if (total[kinds[i]] != kept)
                bad(kinds[i] " edges carried " total[kinds[i]] + 0 " records, expected " kept)
            if (mode == "rolling" && edge_lines[kinds[i]] != kept)
                bad(edge_lines[kinds[i]] + 0 " rolling " kinds[i] " lines, expected " kept)
        }
        for (s = 0; s < p; s++) {
            for (r = 0; r < p; r++)
                if (!(("rebalance", s, r) in count)) bad("no records from source " s " to rebalance subtask " r)
            a = count["rescale", s, 2 * s] + 0; b = count["rescale", s, 2 * s + 1] + 0
            if (a == 0 || b == 0 || a - b > 1 || b - a > 1)
                bad("rescale sender " s " split " a " / " b ": not round robin over 2i and 2i+1")
            if (sent_on["rebalance", s] != sent["rescale", s])
                bad("Tag rebalance " s " received " sent_on["rebalance", s] + 0 " but sent " sent["rescale", s] + 0)
            if (sent_on["shuffle", s] == 0) bad("shuffle subtask " s " received nothing")
        }
        for (s = 0; s < 2 * p; s++)
            if (sent_on["rescale", s] != sent["shuffle", s])
                bad("Tag rescale " s " received " sent_on["rescale", s] + 0 " but sent " sent["shuffle", s] + 0)
        exit errors > 0
    }' "$1" || true
}

# partitioning LABEL N P MODE JOB-ARGS...: runs the example and checks it.
partitioning() {
    _label=$1 _n=$2 _p=$3 _mode=$4
    shift 4
    begin "$_label"
    run_flinc "$_label" run "$JOB" "$@"
    expect_rc "$_label" 0
    check_output "$WORK/$_label.out" "$_n" "$_p" "$_mode" >"$WORK/$_label.problems"
    CHECKS=$((CHECKS + 1))
    if [ -s "$WORK/$_label.problems" ]; then
        fail "$(wc -l <"$WORK/$_label.problems") broken promises"
        head -n 20 "$WORK/$_label.problems" | sed 's/^/  | /'
    fi
}

# The header comment's own figures, as a check on the awk above.
begin "the figures of the header comment"
CHECKS=$((CHECKS + 1))
sums=$(seq 1 1000 | awk '$1 % 10 { s[$1 % 2] += $1 } END { print s[0], s[1] }')
if [ "$sums" != "200000 250000" ]; then
    fail "the sums of 1..1000 without multiples of 10 are \"$sums\", not \"200000 250000\""
fi

partitioning default 1000 2 batch
partitioning p3-n5000 5000 3 batch --count 5000 --parallelism 3
partitioning p1 200 1 batch --count 200 --parallelism 1
partitioning rolling 1000 2 rolling --rolling

finish
