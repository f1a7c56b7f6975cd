#!/usr/bin/env bash
# Noisy neighbour: one namespace's warm p50/p99 quiet vs while another namespace runs 4 CPU
# spinners (bench/noisy_neighbour.py lists the settings). Root (cgroups). Writes
# bench/results/noisy_neighbour-<date>.md (RESULTS_DIR overrides). SKIP_BUILD=1 uses the existing build.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_python_bench noisy_neighbour.py "$@"
