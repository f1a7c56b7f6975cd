#!/usr/bin/env bash
# Throughput of a no-op Node.js function with wrk (bench/throughput.sh).
# The work is in bench/throughput.py (settings from the environment are listed there); writes
# bench/results/throughput-<date>.md (RESULTS_DIR overrides). SKIP_BUILD=1 uses the existing build.
BENCH_TARGETS=hotrod_loadgen
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# wrk is a benchmark tool only (never a runtime or test dependency): install it from Debian.
if ! command -v wrk >/dev/null 2>&1; then
  [[ $(id -u) = 0 ]] || { echo "throughput.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
fi
run_python_bench throughput.py "$@"
