#!/usr/bin/env bash
# Cold start of never-called functions (bench/cold_start.sh runs this; see bench/README.md).
# The work is in bench/cold_start.py (settings from the environment are listed there); writes
# bench/results/cold_start-<date>.md (RESULTS_DIR overrides). SKIP_BUILD=1 uses the existing build.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_python_bench cold_start.py "$@"
