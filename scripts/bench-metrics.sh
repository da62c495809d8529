#!/usr/bin/env bash
# The cost of metrics: the echo example with METRICS=1 (the Prometheus recorder installed,
# every message counted and timed) against the same binary without it, in the same run: echo
# round trips and the broadcast ramp (1,000 receivers).
#
#   bash scripts/bench-metrics.sh            # about 5 minutes
#   bash scripts/bench-metrics.sh --quick    # short runs: a check, not a result
#
# Other arguments go to `nestgate-bench compare` (see `--help`). The table's "nestgate" column
# is metrics on, the baseline's metrics off. Results: target/bench-metrics/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p echo -p nestgate-bench
exec target/release/nestgate-bench compare \
    --nestgate scripts/echo-metrics \
    --baseline target/release/echo \
    --baseline-name "metrics off" \
    --only echo,broadcast \
    --out target/bench-metrics \
    "$@"
