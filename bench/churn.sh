#!/usr/bin/env bash
# Churn: many distinct functions, each called once, under a memory budget (bench/churn.sh). Settings from the environment: see bench/churn.py.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_python_bench churn.py "$@"
