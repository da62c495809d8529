#!/usr/bin/env bash
# Broadcast deliveries/s of 3 echo processes over one Redis (the Redis adapter) against one
# process, in memory and over Redis. Starts its own redis-server on a free loopback port.
#
#   bash scripts/bench-cluster.sh            # 3 runs of each setup (about 12 minutes)
#   bash scripts/bench-cluster.sh --quick    # short ramp steps: a check, not a result
#
# Other arguments go to `nestgate-bench cluster` (see `--help`), e.g. `--connections 2000`,
# `--nodes 2`, `--server-cpu 0`. Results: target/bench/{cluster.md,cluster.json}.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p echo -p nestgate-bench
exec target/release/nestgate-bench cluster --echo target/release/echo "$@"
