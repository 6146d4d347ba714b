#!/bin/sh
# bench/run.sh - runs flinc's benchmark programs and describes the machine
# they ran on, so that figures copied into docs/benchmarks.md say where they
# come from. The programs are those of a release build (`make build`), which
# writes them to bin/ of the repository; set FLINC_OUT_DIR to use another
# build's output directory. It runs bench_pipeline (keyed rolling sum),
# bench_window_wordcount (windowed WordCount) and, when it was built,
# bench_rebalance (Flink's runtime micro-benchmark). Arguments are passed to
# bench_pipeline, e.g.
#   bench/run.sh --rows 5000000 --parallelism 1,2,4
# FLINC_BENCH_WINDOW_ARGS to bench_window_wordcount and
# FLINC_BENCH_REBALANCE_ARGS to bench_rebalance, e.g.
#   FLINC_BENCH_WINDOW_ARGS="--words 5000000 --parallelism 1" bench/run.sh
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${FLINC_OUT_DIR:-$root}
pipeline="$out/bin/bench_pipeline"
window="$out/bin/bench_window_wordcount"
rebalance="$out/bin/bench_rebalance"

for program in "$pipeline" "$window"; do
    if [ ! -x "$program" ]; then
        echo "bench/run.sh: $program not found; build it first with: make build" >&2
        exit 1
    fi
done

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
mem_kb=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB$/\1/p' /proc/meminfo 2>/dev/null)

echo "== machine"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "kernel:  $(uname -sr) $(uname -m)"
echo "cpus:    $(nproc)"
echo "cpu:     ${cpu:-unknown}"
if [ -n "$mem_kb" ]; then
    echo "memory:  $((mem_kb / 1024)) MiB"
else
    echo "memory:  unknown"
fi
if [ -d "$root/.git" ] && command -v git >/dev/null 2>&1; then
    echo "commit:  $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo none)"
fi

echo "== pipeline: sequence -> map -> key_by -> sum -> discard"
"$pipeline" "$@"

echo "== windowed wordcount: lines -> split -> key_by(word) -> 1 s tumbling event-time windows -> sum"
# shellcheck disable=SC2086 # the variable holds several arguments
"$window" ${FLINC_BENCH_WINDOW_ARGS:-}

if [ -x "$rebalance" ]; then
    echo "== rebalance: sequence -> map -> rebalance -> map -> discard"
    # shellcheck disable=SC2086
    "$rebalance" ${FLINC_BENCH_REBALANCE_ARGS:-}
fi
