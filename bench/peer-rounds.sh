#!/usr/bin/env bash
# Does a bootstrap give back what a crowd of peers cost once they are gone? One `keel bootstrap`,
# then ROUNDS rounds of `keel load` with PEERS new peers each (a fresh identity per connection,
# FIND_NODE on each); after each round, the wait for the bootstrap to forget them
# ([limits] forget_peers_after, set to TTL here, plus its 10 s maintenance period), then its RSS.
# A row per round: RSS with the round's connections open, then after they left and were forgotten,
# against the RSS before the first round. See docs/performance.md, "Memory given back".
#
# Usage: bench/peer-rounds.sh BUILD_DIR [OUT_DIR]
# Environment: ROUNDS=10  PEERS=5000  RATE=1000  TTL=5s  WAIT=17  (seconds after each round)
#              PORT=4101
# Needs jq and a descriptor limit above PEERS.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [OUT_DIR]" >&2; exit 2; }
keel="$1/keel"
out="${2:-$(mktemp -d /tmp/keel-peer-rounds.XXXXXX)}"
: "${ROUNDS:=10}" "${PEERS:=5000}" "${RATE:=1000}" "${TTL:=5s}" "${WAIT:=17}" "${PORT:=4101}"
[ -x "$keel" ] || { echo "peer-rounds: no $keel" >&2; exit 2; }
command -v jq >/dev/null || { echo "peer-rounds: needs jq" >&2; exit 2; }
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"

boot_pid=""
trap '[ -n "$boot_pid" ] && kill "$boot_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
printf '[limits]\nmax_connections = %d\nforget_peers_after = "%s"\n' $(( PEERS + 1000 )) "$TTL" \
  > "$out/limits.toml"
rm -rf "$out/boot"
"$keel" bootstrap --listen "/ip4/127.0.0.1/tcp/$PORT" --data-dir "$out/boot" --api off \
  --config "$out/limits.toml" --log-level warn --json > "$out/boot.jsonl" 2> "$out/boot.log" &
boot_pid=$!
addr=""
for _ in $(seq 100); do
  addr=$(head -n1 "$out/boot.jsonl" 2>/dev/null | jq -r '.addrs[0] // empty' 2>/dev/null || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "peer-rounds: the bootstrap did not start (see $out/boot.log)" >&2; exit 1; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$boot_pid/status"; }
sleep 2
base=$(rss_kb)
echo "peer-rounds: bootstrap pid $boot_pid, forget_peers_after $TTL, $ROUNDS rounds of $PEERS peers at $RATE/s, RSS before $((base / 1024)).$((base % 1024 * 10 / 1024)) MiB" >&2
echo "| round | success | RSS loaded MiB | RSS after MiB | after / before |"
echo "|---:|---:|---:|---:|---:|"
for r in $(seq "$ROUNDS"); do
  "$keel" load --target "$addr" --connections "$PEERS" --rate "$RATE" --duration 1s --find-node \
    --json --quiet > "$out/round-$r.json" 2> "$out/round-$r.log" || true
  sleep "$WAIT"  # the TTL, then the bootstrap's maintenance tick (every 10 s)
  after=$(rss_kb)
  jq -r --arg r "$r" --argjson after "$after" --argjson base "$base" '
    def r(d): (. * d | round) / d;
    "| \($r) | \(.success_rate * 100 | r(10)) % | \(.target_process.rss_loaded_kb / 1024 | r(10)) | \($after / 1024 | r(10)) | \($after / $base | r(100)) |"' \
    "$out/round-$r.json"
done
