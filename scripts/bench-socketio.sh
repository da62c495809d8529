#!/usr/bin/env bash
# Socket.IO beside ws-json on the same nestgate server (the echo example, which serves both), and
# socketioxide (0.18, its default configuration, the same two events: the `socketioxide` binary of
# nestgate-bench) as the Socket.IO baseline: echo round trips (C=50) and the broadcast ramp
# (C=1000, p99 < 250 ms, no loss), alternating the three, each run against a fresh server pinned
# to CPU 0, the load generator on CPU 1.
#
# Then `nestgate-bench compare --protocol socketio` puts nestgate's Socket.IO beside socketioxide on
# every scenario of the ws-json comparison (echo, the broadcast ramp, 10,000 idle connections:
# memory and setup rate), alternating the two.
#
#   bash scripts/bench-socketio.sh            # 3 repeats, 10 s echo, 3 s ramp steps (~15 minutes)
#   bash scripts/bench-socketio.sh --quick    # 1 repeat, short steps (~3 minutes): a check
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=3 echo_s=10s step_s=3s quick=
if [ "${1:-}" = "--quick" ]; then repeats=1 echo_s=2s step_s=1s quick=--quick; fi
cargo build --release -p echo -p nestgate-bench --bins
bench=target/release/nestgate-bench
out=target/bench/socketio
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"

start_server() {
    # PORT=0; the address is on the first line the server prints.
    local binary="$1" log="$2"
    PORT=0 taskset -c 0 "target/release/$binary" > "$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        addr=$(sed -n 's/.*listening on http:\/\///p' "$log" | head -1)
        [ -n "$addr" ] && return 0
        sleep 0.1
    done
    echo "the $binary server did not start; see $log" >&2
    exit 1
}

for repeat in $(seq "$repeats"); do
    for run in ws-json:echo:ws-json socketio:echo:socketio socketioxide:socketioxide:socketio; do
        IFS=: read -r label binary protocol <<< "$run"
        start_server "$binary" "$out/echo-$label-$repeat.log"
        echo "-- $label, run $repeat of $repeats (server pid $server_pid on $addr)"
        taskset -c 1 "$bench" echo --url "ws://$addr/" --protocol "$protocol" -c 50 -d "$echo_s" \
            --pid "$server_pid" | tee -a "$out/echo-$label.txt" |
            sed -n "s/^echo: .*= \([0-9]*\)\/s.*p99 \([0-9]*\) µs.*/$label echo: \1 round trips\/s, p99 \2 µs/p; s/^ *server CPU \([0-9.]*\) µs per round trip.*/$label echo: \1 server CPU-µs per round trip/p" |
            tee -a "$summary"
        taskset -c 1 "$bench" broadcast --url "ws://$addr/" --protocol "$protocol" -c 1000 --rate 200 \
            --ramp -d "$step_s" --drain 2s --max-steps 10 --bisections 3 --pid "$server_pid" |
            tee -a "$out/broadcast-$label.txt" | grep -E "^ramp:" | sed "s/^/$label broadcast /" |
            tee -a "$summary"
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    done
done
echo
echo "== compare: nestgate Socket.IO against socketioxide"
"$bench" compare --nestgate target/release/echo --baseline target/release/socketioxide \
    --baseline-name socketioxide --protocol socketio --repeats "$repeats" $quick \
    --only echo,broadcast,idle --out "$out/compare"
echo
echo "== summary ($repeats repeat(s); full output in $out/)"
sort "$summary"
echo
cat "$out/compare/table.md"
