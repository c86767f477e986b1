#!/usr/bin/env bash
# The same `keel load` against a `keel bootstrap` and against a js-libp2p bootstrap
# (bench/js-bootstrap.mjs: TCP, Noise, Yamux, identify, ping, @libp2p/kad-dht server on
# /ipfs/kad/1.0.0), one rate after another, on this machine; then a markdown table of both, the
# Keel/js ratios, and the crypto-only ceiling of the Noise handshake micro-benchmark.
# See docs/performance.md, "Side by side with js-libp2p".
#
# Usage: bench/compare-js.sh [BUILD_DIR] [OUT_DIR] [extra keel load flags...]
#   BUILD_DIR  has keel (and bench/noise_handshake_bench for the ceiling); default build/lead
# Environment:
#   RATES="100 200 500 1000 2000"  CONNECTIONS=2000  HOLD=5s  THREADS=1
#   MAX_PENDING=256    upgrades in progress a js target admits at once (Keel's default
#                      limits.max_pending_inbound is 256; keel bootstrap keeps its default)
#   KEEL_PER_IP=0      Keel's limits.max_pending_inbound_per_ip (default 32; keel load dials 100
#                      connections from each 127.1.0.x, and the js target has no such cap: 0 = off;
#                      loopback is exempt from Keel's per-address limits by default anyway)
#   TARGETS="keel js"  ORDER of the targets at each rate
# A fresh target per run (so "RSS before" is a cold start and nothing carries over), with
# max_connections = CONNECTIONS + 1000 on both. Reports: OUT_DIR/R-TARGET/load.json.
# Needs jq, tests/interop/node_modules (tests/interop/install.sh), ulimit -Hn above CONNECTIONS.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build="${1:-$repo/build/lead}"
out="${2:-$(mktemp -d /tmp/keel-compare-js.XXXXXX)}"
shift $(( $# >= 2 ? 2 : $# ))
keel="$build/keel"
rates="${RATES:-100 200 500 1000 2000}"
n="${CONNECTIONS:-2000}"
hold="${HOLD:-5s}"
threads="${THREADS:-1}"
max_pending="${MAX_PENDING:-256}"
keel_per_ip="${KEEL_PER_IP:-0}"
targets="${TARGETS:-keel js}"
node_runner="$repo/tests/interop/run-node.sh"
[ -x "$keel" ] || { echo "compare-js: no $keel" >&2; exit 2; }
command -v jq >/dev/null || { echo "compare-js: needs jq" >&2; exit 2; }
mkdir -p "$out"

target_pid=""
stop_target() {
  if [ -n "$target_pid" ] && kill -0 "$target_pid" 2>/dev/null; then
    kill -TERM "$target_pid"
    for _ in $(seq 100); do kill -0 "$target_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$target_pid" 2>/dev/null || true
    wait "$target_pid" 2>/dev/null || true
  fi
  target_pid=""
}
trap stop_target EXIT

ulimit -n "$(ulimit -Hn)"   # both processes hold one descriptor per connection

# Starts the target in $1 (keel|js) with its files in $2; sets target_pid and addr.
start_target() {
  local kind="$1" dir="$2"
  addr=""
  if [ "$kind" = keel ]; then
    printf '[limits]\nmax_connections = %d\nmax_pending_inbound_per_ip = %d\n' \
      $(( n + 1000 )) "$keel_per_ip" > "$dir/limits.toml"
    "$keel" bootstrap --listen /ip4/127.0.0.1/tcp/0 --data-dir "$dir/boot" --api off \
      --config "$dir/limits.toml" --log-level warn --json > "$dir/target.jsonl" 2> "$dir/target.log" &
  else
    # run-node.sh execs Node, so $! is Node's pid and kill -TERM reaches js-bootstrap.mjs
    "$node_runner" "$here/js-bootstrap.mjs" \
      --max-connections $(( n + 1000 )) --max-pending "$max_pending" \
      > "$dir/target.jsonl" 2> "$dir/target.log" &
  fi
  target_pid=$!
  for _ in $(seq 200); do  # up to 20 s for the "listening" line
    addr=$(head -n1 "$dir/target.jsonl" 2>/dev/null | jq -r '.addrs[0] // empty' 2>/dev/null || true)
    [ -n "$addr" ] && break
    kill -0 "$target_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "compare-js: the $kind target did not start (see $dir/target.log)" >&2; exit 1; }
}

echo "compare-js: $(nproc) CPUs, $(uname -r), keel $keel, $n connections, hold $hold, $threads load thread(s), reports in $out" >&2
for r in $rates; do
  for kind in $targets; do
    dir="$out/$r-$kind"
    rm -rf "$dir"; mkdir -p "$dir"
    start_target "$kind" "$dir"
    sleep 1   # let the target settle (Node's start-up JIT, the bootstrap's first refresh)
    echo "compare-js: rate $r/s against $kind ($addr)" >&2
    cat /proc/loadavg > "$dir/loadavg.before"
    "$keel" load --target "$addr" --connections "$n" --rate "$r" --duration "$hold" \
      --threads "$threads" --find-node --json --quiet "$@" > "$dir/load.json" 2> "$dir/load.log" || true
    cat /proc/loadavg > "$dir/loadavg.after"
    stop_target
    jq -e . "$dir/load.json" >/dev/null 2>&1 || { echo "compare-js: no report for $dir (see $dir/load.log)" >&2; exit 1; }
  done
done

# One row per run: rate, target, then the figures (tab-separated).
row() {
  jq -r --arg kind "$2" --arg rate "$1" '
    def r(d): (. * d | round) / d;
    (.success_rate * .connections | round) as $ok
    | [ $rate, $kind,
        ((.success_rate*100|r(10)|tostring)+" %"),
        ($ok / .client.ramp_s | round | tostring),
        ($ok / .client.setup_s | round | tostring),
        (.latency_ms.handshake.p50|r(100)|tostring),
        (.latency_ms.handshake.p99|r(10)|tostring),
        (.latency_ms.find_node.p50 // 0|r(100)|tostring) + " / " + (.latency_ms.find_node.p99 // 0|r(10)|tostring),
        (if .target_process then (1000*.target_process.cpu_setup_s/.connections|r(100)|tostring) else "-" end),
        (if .target_process.rss_per_connection_kb then (.target_process.rss_per_connection_kb|r(10)|tostring) else "-" end),
        (if .target_process then ((.target_process.rss_before_kb/1024|r(10)|tostring)+" → "+(.target_process.rss_loaded_kb/1024|r(10)|tostring)) else "-" end),
        (.latency_ms.start_lag.p99|r(10)|tostring),
        (.machine_load_1m.before|tostring) + " / " + (.machine_load_1m.loaded|tostring),
        ([.errors|to_entries[]|"\(.key) \(.value.count)"]|join(", ")|if .=="" then "none" else . end)
      ] | @tsv' "$out/$1-$2/load.json"
}

echo
echo "| rate /s | target | success | handshakes/s (ok / ramp) | handshakes/s (ok / setup) | handshake p50 ms | p99 ms | FIND_NODE p50 / p99 ms | target CPU ms/conn | RSS KiB/conn | target RSS MiB | start lag p99 ms | load 1m before / loaded | errors |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for r in $rates; do
  for kind in $targets; do row "$r" "$kind"; done
done | awk -F'\t' '{ line="|"; for (i = 1; i <= NF; i++) line = line " " $i " |"; print line }'

# Keel/js ratios at each rate (only when both ran).
if [[ " $targets " == *" keel "* && " $targets " == *" js "* ]]; then
  echo
  echo "| rate /s | Keel/js handshakes/s (ok / setup) | js/Keel handshake p50 | js/Keel handshake p99 | js/Keel FIND_NODE p99 | js/Keel CPU per connection | js/Keel RSS per connection |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  for r in $rates; do
    jq -rs --arg rate "$r" '
      def r(d): (. * d | round) / d;
      def ratio(a; b): if (b // 0) > 0 and a != null then (a / b | r(10) | tostring) + "×" else "-" end;
      (.[0]) as $k | (.[1]) as $j
      | ($k.success_rate * $k.connections / $k.client.setup_s) as $kr
      | ($j.success_rate * $j.connections / $j.client.setup_s) as $jr
      | "| \($rate) | \(ratio($kr; $jr)) | \(ratio($j.latency_ms.handshake.p50; $k.latency_ms.handshake.p50)) | \(ratio($j.latency_ms.handshake.p99; $k.latency_ms.handshake.p99)) | \(ratio($j.latency_ms.find_node.p99; $k.latency_ms.find_node.p99)) | \(ratio($j.target_process.cpu_setup_s; $k.target_process.cpu_setup_s)) | \(ratio($j.target_process.rss_per_connection_kb; $k.target_process.rss_per_connection_kb)) |"
    ' "$out/$r-keel/load.json" "$out/$r-js/load.json"
  done
fi

# The crypto-only ceiling: BM_CryptoOnly is the CPU time of both sides' cryptography for one
# handshake; a target does about half of it (the XX pattern is nearly symmetric: each side makes
# two key pairs, does two or three X25519, one signature and one verification), so one core can
# answer at most 2 / crypto_only handshakes per second.
bench_bin="${NOISE_BENCH:-$build/bench/noise_handshake_bench}"
echo
if [ -x "$bench_bin" ]; then
  line=$("$bench_bin" --benchmark_min_time=0.5 --benchmark_filter='CryptoOnly|FullHandshake' 2>/dev/null | grep '^handshake:' || true)
  crypto_us=$(sed -n 's/.*crypto-only \([0-9.]*\) us.*/\1/p' <<< "$line")
  if [ -n "$crypto_us" ]; then
    ceiling=$(awk -v us="$crypto_us" 'BEGIN { printf "%d", 2e6 / us }')
    best=$(for r in $rates; do jq -r '(.success_rate * .connections / .client.setup_s) | round' "$out/$r-keel/load.json" 2>/dev/null; done | sort -n | tail -1)
    echo "crypto-only ceiling ($bench_bin): $line"
    echo "  one side, one core: 2 / ${crypto_us} us = ${ceiling} handshakes/s"
    [ -n "$best" ] && awk -v b="$best" -v c="$ceiling" 'BEGIN { printf "  Keel best (ok / setup): %d handshakes/s = %.0f %% of it\n", b, 100 * b / c }'
  else
    echo "crypto-only ceiling: $bench_bin printed no 'handshake:' line"
  fi
else
  echo "crypto-only ceiling: no $bench_bin (cmake --build $build --target noise_handshake_bench)"
fi
echo "reports: $out/*/load.json" >&2
