#!/usr/bin/env bash
# The cost of connection-state recovery: the echo example with RECOVERY=1 (every broadcast
# stamped with an offset and stored in the namespace's log) against the same binary with it
# off, in the same run: echo round trips and the broadcast ramp (1,000 receivers). Both run
# with BROADCAST=stored (scripts/echo-recovery, scripts/echo-stored): a volatile broadcast,
# the echo example's default, is never stored.
#
#   bash scripts/bench-recovery.sh            # about 5 minutes
#   bash scripts/bench-recovery.sh --quick    # short runs: a check, not a result
#
# With REDIS_URL set (e.g. REDIS_URL=redis://127.0.0.1:6379), both processes are nodes on
# that Redis: recovery on is then the Redis store (every stored message an XADD, delivered
# from the stream), recovery off the Redis adapter's pub/sub.
#
# Other arguments go to `nestgate-bench compare` (see `--help`). The table's "nestgate" column
# is recovery on, the baseline's recovery off. Results: target/bench-recovery/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p echo -p nestgate-bench
exec target/release/nestgate-bench compare \
    --nestgate scripts/echo-recovery \
    --baseline scripts/echo-stored \
    --baseline-name "recovery off" \
    --only echo,broadcast \
    --out target/bench-recovery \
    "$@"
