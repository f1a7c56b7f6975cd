#!/usr/bin/env bash
# Cold start of never-called functions (bench/cold_start.sh runs this; see bench/README.md). Settings from the environment: see bench/cold_start.py.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_python_bench cold_start.py "$@"
