#!/bin/sh
# bench/nexmark/run.sh - runs the Nexmark queries (bench/nexmark/nexmark) and
# describes the machine first, so that the table copied into docs/nexmark.md
# or docs/benchmarks.md says where it comes from. Uses the release build's
# program in bin/ of the repository (`make build`); set FLINC_OUT_DIR to use
# another build's output directory. Arguments go to the runner, e.g.
#   bench/nexmark/run.sh --events 1000000 --query q0,q5 --csv /tmp/nexmark.csv
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FLINC_OUT_DIR:-$root}
runner="$out/bin/nexmark"

if [ ! -x "$runner" ]; then
    echo "bench/nexmark/run.sh: $runner not found; build it first with: make build" >&2
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
fi
echo "== nexmark"
exec "$runner" "$@"
