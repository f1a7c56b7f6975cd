#!/usr/bin/env bash
# Churn: many distinct functions, each called once, under a memory budget (bench/churn.sh).
# The work is in bench/churn.py (settings from the environment are listed there); writes
# bench/results/churn-<date>.md (RESULTS_DIR overrides). SKIP_BUILD=1 uses the existing build.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_python_bench churn.py "$@"
