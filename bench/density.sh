#!/usr/bin/env bash
# Density: idle memory of a warm instance beyond the interpreter's own (bench/density.sh).
# The work is in bench/density.py (settings from the environment are listed there); writes
# bench/results/density-<date>.md (RESULTS_DIR overrides). SKIP_BUILD=1 uses the existing build.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_python_bench density.py "$@"
