#!/usr/bin/env bash
# Regenerates the fuzz seeds captured from real go, rust and js peers (docs/testing.md, "Fuzzing"):
# for each implementation, starts it as a Kademlia server on 127.0.0.1 (with a second node of the
# same implementation in its routing table, so FIND_NODE answers name a peer), dials it with
# fuzz_capture_seeds (tests/fuzz/capture_seeds.cpp), which writes what the peer sent at each layer
# into tests/fuzz/corpus/<target>/<label>-<what>; then lets the implementation dial a capturing
# listener (fuzz_capture_seeds --listen 1) and bootstrap off it, for the dialer's side.
#
#   tests/fuzz/capture-seeds.sh [OUT_DIR]          (default: tests/fuzz/corpus)
#
# Needs: build/dev/tests/fuzz_capture_seeds (cmake --build --preset dev --target
# fuzz_capture_seeds), the go and rust interop peers (/var/cache/keel-interop/bin, or
# KEEL_INTEROP_BIN) and the js interop install (tests/interop/install.sh; KEEL_INTEROP_JS names
# another tests/interop directory that has node_modules). PEERS="go js" picks implementations.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$repo/tests/fuzz/corpus}" && cd "${1:-$repo/tests/fuzz/corpus}" && pwd)
bin=${KEEL_INTEROP_BIN:-/var/cache/keel-interop/bin}
js_dir=${KEEL_INTEROP_JS:-$repo/tests/interop}
tool=${CAPTURE_TOOL:-$repo/build/dev/tests/fuzz_capture_seeds}
peers=${PEERS:-go rust-0.53 rust-0.56 js}

[ -x "$tool" ] || { echo "capture-seeds: $tool missing (cmake --build --preset dev --target fuzz_capture_seeds)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_line FILE REGEX SECONDS: prints the first line of FILE matching REGEX once it is there;
# fails after SECONDS.
wait_line() {
  local deadline=$((SECONDS + $3))
  until grep -m1 -E "$2" "$1" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "capture-seeds: no line matching '$2' in $1 within $3 s" >&2
      return 1
    fi
    sleep 0.1
  done
}
first_addr() { sed -E 's/.*"addrs":\["([^"]+)".*/\1/'; }

# wait_exit PID SECONDS: waits for a process we started to end; kills it after SECONDS.
wait_exit() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "capture-seeds: pid $1 still running after $2 s, killed" >&2
      kill "$1" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$1" 2>/dev/null
}

stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}

# The js node: run-node.sh js-node.mjs has no DHT, so this inline module is the js peer here.
#   listen: a kad-dht server with a second one in its routing table; prints the listening line.
#   dial MA: dials MA, waits until MA is in its routing table, runs a closest-peers query.
js_code='
import { kadDHT, passthroughMapper } from "@libp2p/kad-dht"
import { createJsPeer, loopbackAddrs, multiaddr, waitFor } from "./lib/js-peer.mjs"
const [cmd, target] = process.argv.slice(1)
const dht = () => ({ dht: kadDHT({ protocol: "/ipfs/kad/1.0.0", clientMode: false, peerInfoMapper: passthroughMapper }) })
const print = (o) => process.stdout.write(JSON.stringify(o) + "\n")
process.on("SIGTERM", () => process.exit(0))
setTimeout(() => process.exit(1), 120_000).unref()
if (cmd === "listen") {
  const helper = await createJsPeer({ services: dht() })
  const node = await createJsPeer({ services: dht() })
  await node.dial(helper.getMultiaddrs()[0])
  await waitFor(() => node.services.dht.routingTable.size > 0, { ms: 20_000, what: "routing table" })
  print({ event: "listening", peer_id: node.peerId.toString(), addrs: loopbackAddrs(node) })
} else {
  const node = await createJsPeer({ listen: false, services: dht() })
  await node.dial(multiaddr(target))
  await waitFor(() => node.services.dht.routingTable.size > 0, { ms: 20_000, what: "routing table" })
  for await (const e of node.services.dht.getClosestPeers(new TextEncoder().encode("keel-capture"), { signal: AbortSignal.timeout(15_000) })) { void e }
  print({ action: "dial", ok: true })
  process.exit(0)
}
'
start_js() {  # start_js LOG ARGS...
  local log=$1
  shift
  (cd "$js_dir" && exec ./run-node.sh --input-type=module -e "$js_code" "$@") >"$log" 2>"$log.err" &
  pids+=($!)
}

status=0
for label in $peers; do
  echo "== $label"
  case $label in
    go) peer="$bin/go-peer" ;;
    rust-*) peer="$bin/rust-peer-${label#rust-}" ;;
    js) peer="" ;;
    *) echo "capture-seeds: unknown peer $label" >&2; exit 2 ;;
  esac

  # 1. The peer as a listener (a DHT server that knows one other peer), Keel dialing it.
  if [ "$label" = js ]; then
    start_js "$tmp/$label.out" listen
    line=$(wait_line "$tmp/$label.out" '"event":"listening"' 60)
  else
    "$peer" --listen /ip4/127.0.0.1/tcp/0 --kad-mode server --max-lifetime 120s \
      >"$tmp/$label-helper.out" 2>"$tmp/$label-helper.err" &
    pids+=($!)
    helper=$(wait_line "$tmp/$label-helper.out" '"event":"listening"' 30 | first_addr)
    "$peer" --listen /ip4/127.0.0.1/tcp/0 --kad-mode server --max-lifetime 120s \
      --do "bootstrap $helper" >"$tmp/$label.out" 2>"$tmp/$label.err" &
    pids+=($!)
    line=$(wait_line "$tmp/$label.out" '"event":"listening"' 30)
    wait_line "$tmp/$label.out" '"action":"bootstrap"' 30 >/dev/null
  fi
  addr=$(echo "$line" | first_addr)
  echo "$label listens on $addr"
  "$tool" --label "$label" --addr "$addr" --out "$out" || status=1
  stop_all

  # 2. The peer as a dialer, bootstrapping off a capturing listener.
  "$tool" --label "$label" --listen 1 --out "$out" >"$tmp/$label-listener.out" &
  listener=$!
  pids+=("$listener")
  target=$(wait_line "$tmp/$label-listener.out" '"event":"listening"' 10 | first_addr)
  if [ "$label" = js ]; then
    start_js "$tmp/$label-dialer.out" dial "$target"
  else
    "$peer" --kad-mode server --max-lifetime 60s --do "bootstrap $target" \
      >"$tmp/$label-dialer.out" 2>"$tmp/$label-dialer.err" &
    pids+=($!)
  fi
  wait_exit "$listener" 60 || status=1
  cat "$tmp/$label-listener.out"
  stop_all
done
exit $status
