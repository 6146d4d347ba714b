#!/bin/sh
# bench/run.sh - runs flinc's benchmark programs and describes the machine
# they ran on, so that figures copied into docs/benchmarks.md say where they
# come from. The programs are those of a release build (`make build`), which
# writes them to bin/ of the repository; set FLINC_OUT_DIR to use another
# build's output directory. Arguments are passed to bench_pipeline, e.g.
#   bench/run.sh --rows 5000000 --parallelism 1,2,4
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${FLINC_OUT_DIR:-$root}
pipeline="$out/bin/bench_pipeline"

if [ ! -x "$pipeline" ]; then
    echo "bench/run.sh: $pipeline not found; build it first with: make build" >&2
    exit 1
fi

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
