#!/usr/bin/env bash
# Soak: DURATION_S (default 1800) of steady mixed load with the server's RSS, fds, cgroups and
# mounts sampled every SAMPLE_S (30) into a CSV, and a verdict on whether they stay flat. The work
# is in bench/soak.py (its docstring lists the settings). Writes bench/results/soak-<date>.csv and
# .md (RESULTS_DIR overrides); exits 1 when a gauge grew. Root (cgroups). Not part of `make bench`
# (it takes half an hour): run it by hand. SKIP_BUILD=1 uses the existing build.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_python_bench soak.py "$@"
