#!/usr/bin/env bash
# Benchmarks nestgate (the echo example) against the raw-axum baseline in the same run.
#
#   bash scripts/bench.sh            # full comparison (about 8 minutes)
#   bash scripts/bench.sh --quick    # short runs, about 2 minutes: for checking, not publishing
#
# Other arguments go to `nestgate-bench compare` (see `--help`), e.g. `--only echo,broadcast`,
# `--repeats 5`, `--out DIR`. Results: target/bench/{table.md,results.json,broadcast-ramp.svg,logs/}.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p echo -p nestgate-bench
exec target/release/nestgate-bench compare \
    --nestgate target/release/echo \
    --baseline target/release/baseline \
    "$@"
