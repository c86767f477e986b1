#!/usr/bin/env bash
# `keel load` against one `keel bootstrap` at growing numbers of concurrent connections: for each
# size a fresh bootstrap (so "RSS before" is a cold start) with [limits] max_connections raised
# above the size, then keel load (full Noise + Yamux + identify + one FIND_NODE per connection),
# one JSON report per size in OUT_DIR and a summary table on stdout. See docs/performance.md.
#
# Usage: bench/load-scaling.sh BUILD_DIR [OUT_DIR] [extra keel load flags...]
# Environment: SIZES="1000 5000 10000"  RATE=500  HOLD=30s  PORT=4101  THREADS=1
# Needs jq, and a descriptor limit (ulimit -n) above the largest size for both processes.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [OUT_DIR] [keel load flags...]" >&2
  exit 2
fi
keel="$1/keel"
out="${2:-$(mktemp -d /tmp/keel-load-scaling.XXXXXX)}"
shift $(( $# >= 2 ? 2 : 1 ))
sizes="${SIZES:-1000 5000 10000}"
rate="${RATE:-500}"
hold="${HOLD:-30s}"
port="${PORT:-4101}"
threads="${THREADS:-1}"
[ -x "$keel" ] || { echo "load-scaling: no $keel (cmake --build $1 --target keel)" >&2; exit 2; }
mkdir -p "$out"

boot_pid=""
stop_bootstrap() {
  if [ -n "$boot_pid" ] && kill -0 "$boot_pid" 2>/dev/null; then
    kill -TERM "$boot_pid"
    wait "$boot_pid" 2>/dev/null || true
  fi
  boot_pid=""
}
trap stop_bootstrap EXIT

# Both processes hold one descriptor per connection.
ulimit -n "$(ulimit -Hn)"

printf '%-7s %-6s %-9s %-9s %-9s %-9s %-9s %-10s %-10s %-10s %-9s %s\n' \
  connections rate success hs_p50 hs_p99 hs_max id_p99 fn_p99 rss_before rss_loaded KiB/conn errors
for n in $sizes; do
  dir="$out/$n"
  rm -rf "$dir"
  mkdir -p "$dir"
  printf '[limits]\nmax_connections = %d\n' $(( n + 1000 )) > "$dir/limits.toml"
  "$keel" bootstrap --listen "/ip4/127.0.0.1/tcp/$port" --data-dir "$dir/boot" --api off \
    --config "$dir/limits.toml" --log-level warn --json > "$dir/bootstrap.jsonl" 2> "$dir/bootstrap.log" &
  boot_pid=$!
  addr=""
  for _ in $(seq 100); do  # up to 10 s for the "listening" event
    addr=$(head -n1 "$dir/bootstrap.jsonl" 2>/dev/null | jq -r '.addrs[0] // empty' 2>/dev/null || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "load-scaling: the bootstrap did not start (see $dir/bootstrap.log)" >&2; exit 1; }
  "$keel" load --target "$addr" --connections "$n" --rate "$rate" --duration "$hold" \
    --threads "$threads" --find-node --json "$@" > "$dir/load.json" 2> "$dir/load.log" || true
  stop_bootstrap
  jq -r --arg rate "$rate" '[
      (.connections|tostring), $rate, ((.success_rate*100*100|round/100|tostring)+"%"),
      (.latency_ms.handshake.p50*100|round/100|tostring),
      (.latency_ms.handshake.p99*100|round/100|tostring),
      (.latency_ms.handshake.max*100|round/100|tostring),
      (.latency_ms.identify.p99*100|round/100|tostring),
      (.latency_ms.find_node.p99*100|round/100|tostring),
      (if .target_process then (.target_process.rss_before_kb/1024*10|round/10|tostring)+"MiB" else "-" end),
      (if .target_process then (.target_process.rss_loaded_kb/1024*10|round/10|tostring)+"MiB" else "-" end),
      (if .target_process.rss_per_connection_kb then (.target_process.rss_per_connection_kb*10|round/10|tostring) else "-" end),
      ([.errors|to_entries[]|"\(.key):\(.value.count)"]|join(",")|if .=="" then "none" else . end)
    ] | "\(.[0]) \(.[1]) \(.[2]) \(.[3]) \(.[4]) \(.[5]) \(.[6]) \(.[7]) \(.[8]) \(.[9]) \(.[10]) \(.[11])"' \
    "$dir/load.json" | awk '{printf "%-7s %-6s %-9s %-9s %-9s %-9s %-9s %-10s %-10s %-10s %-9s %s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12}'
done
echo "reports: $out/*/load.json" >&2
