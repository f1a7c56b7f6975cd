#!/usr/bin/env bash
# Runs every benchmark in bench/ (`make bench`). Builds once, then each benchmark with
# SKIP_BUILD=1; results land in bench/results/. BUILD_DIR (default: build) picks the build tree.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
export BUILD_DIR

# Configure every time (a second or two): a tree configured before bench/ had targets would
# not know hotrod_loadgen or hotrod_sandbox_bench.
type_arg=(); [[ -f $BUILD_DIR/CMakeCache.txt ]] || type_arg=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
cmake -S "$ROOT" -B "$BUILD_DIR" "${type_arg[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target hotrod hotrod_loadgen hotrod_sandbox_bench >/dev/null

# One line per benchmark; each script is standalone and cleans up after itself.
# BENCHMARKS="cold_start.sh density.sh" picks some; then summary.py writes the table of the
# newest results into docs/performance.md.
read -r -a BENCHMARKS <<<"${BENCHMARKS:-warm_invoke.sh throughput.sh cold_start.sh density.sh churn.sh sandbox.sh}"
for b in "${BENCHMARKS[@]}"; do
  echo "== $b"
  SKIP_BUILD=1 "$ROOT/bench/$b"
done
/usr/bin/python3 "$ROOT/bench/summary.py"
