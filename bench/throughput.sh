#!/usr/bin/env bash
# Throughput of a no-op Node.js function with wrk (bench/throughput.sh). Settings from the environment: see bench/throughput.py.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# wrk is a benchmark tool only (never a runtime or test dependency): install it from Debian.
if ! command -v wrk >/dev/null 2>&1; then
  [[ $(id -u) = 0 ]] || { echo "throughput.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
fi
run_python_bench throughput.py "$@"
