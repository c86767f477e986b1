#!/usr/bin/env bash
# The same `keel load` against four bootstraps on this machine, one after another at each rate:
#   keel  `keel bootstrap` (BUILD_DIR/keel)
#   go    go-libp2p v0.52 + go-libp2p-kad-dht v0.42.2: /var/cache/keel-interop/bin/go-peer
#         (tests/interop/go/build.sh)
#   rust  rust-libp2p 0.56 with Kademlia: /var/cache/keel-interop/bin/rust-peer-0.56
#         (tests/interop/rust/build.sh 0.56)
#   js    js-libp2p 3 + @libp2p/kad-dht: bench/js-bootstrap.mjs (tests/interop/install.sh)
# each a DHT server on /ipfs/kad/1.0.0 over TCP, Noise, Yamux, identify, so that `keel load
# --find-node` makes the same requests of all four. Then markdown tables: the figures per rate and
# target, the ratios of Keel to each other, the held-connection throughput (1,000 connections
# sending FIND_NODEs back to back), and the crypto-only ceiling of the Noise handshake.
# See docs/performance.md ("Reproduce").
#
# Usage: bench/compare.sh [BUILD_DIR] [OUT_DIR] [extra keel load flags...]
#   BUILD_DIR  has keel (and bench/noise_handshake_bench for the ceiling); default build/release
#   OUT_DIR    reports: OUT_DIR/RATE-TARGET/load.json, OUT_DIR/throughput-TARGET/load.json, and
#              each target's stdout and stderr next to them (target.out, target.log); default a
#              new /tmp/keel-compare.XXXXXX
# Environment:
#   TARGETS="keel go rust js"   the targets, in this order at each rate
#   RATES="500 1000 2000"  CONNECTIONS=5000  HOLD=5s  THREADS=1 (keel load's worker threads)
#   THROUGHPUT=1           the held-connection throughput part (0: skip it); it needs a keel load
#                          with --find-node-loop, and is skipped with a note without one
#   THROUGHPUT_CONNECTIONS=1000  THROUGHPUT_SECONDS=20  THROUGHPUT_RATE=200 (their set-up rate)
#   THROUGHPUT_THREADS=THREADS
#   MAX_PENDING            upgrades in progress Keel and js admit at once (Keel's
#                          limits.max_pending_inbound, js's maxIncomingPendingConnections);
#                          default max(CONNECTIONS, THROUGHPUT_CONNECTIONS): no cap, as go and rust
#                          have none. MAX_PENDING=256 gives Keel its default (surplus refused)
#   BACKLOG=4096           the js target's TCP listen backlog (see below)
#   GO_PEER, RUST_PEER     other binaries of the test peers
# A fresh target process per run (so "RSS before" is a cold start and nothing carries over).
#
# Every target is a release/optimised build with its limits raised so that none refuses a
# connection or a request by policy (keel load dials 100 connections from each of 127.1.0.1,
# 127.1.0.2, ...):
#   keel  [limits] max_connections = max(CONNECTIONS, THROUGHPUT_CONNECTIONS) + 1000 (default
#         4096), max_pending_inbound = MAX_PENDING (default 256), and the per-address limits off:
#         max_pending_inbound_per_ip, max_connections_per_ip, max_connections_per_subnet,
#         inbound_rate_per_ip = 0 (default 32, 64, 256, 10/s; loopback is exempt from them by
#         default anyway). Everything else default: one event loop thread, TCP backlog SOMAXCONN.
#         Text output, not --json (which prints a line per connection opened and closed).
#   go    --quiet-events (no event lines, no per-peer records of the test peer; see
#         tests/interop/peer-contract.md). Its resource manager is unlimited
#         (rcmgr.InfiniteLimits) with no connection manager, as the test peer always has it;
#         go-libp2p's per-address connection limit (8 per IPv4 address), connection rate limit
#         and identify-push rate limit exempt 127.0.0.0/8, so nothing else is raised. TCP backlog:
#         Go's (net.core.somaxconn). GOMAXPROCS: Go's default (every CPU; set GOMAXPROCS to change).
#   rust  --quiet-events, as go. rust-libp2p has no connection limit unless one is added; the
#         peer's idle-connection timeout is 3660 s here; its TCP listen backlog is 4096 (raised
#         in the peer from libp2p-tcp's 1024, as go and Keel). Two tokio worker threads.
#   js    maxConnections = max(CONNECTIONS, THROUGHPUT_CONNECTIONS) + 1000 (default 300),
#         maxIncomingPendingConnections = MAX_PENDING (default 10), inboundConnectionThreshold
#         unlimited (default 5 per second per address), TCP backlog BACKLOG (Node's default 511).
#         Its connection monitor (a ping per connection every 10 s) stays on, as in a real node.
# Upgrade deadlines: Keel and js 10 s, go 15 s, rust none; keel load's own is 10 s per phase.
#
# Ratios: for rates (handshakes/s, requests/s, requests per CPU-second) Keel/other, for costs (CPU
# and RSS per connection) other/Keel: above 1 means Keel does better either way.
# Needs jq; for js, tests/interop/node_modules; ulimit -Hn above the connections (the script
# raises the soft limit to it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build="${1:-$repo/build/release}"
out="${2:-$(mktemp -d /tmp/keel-compare.XXXXXX)}"
shift $(( $# >= 2 ? 2 : $# ))
keel="$build/keel"
targets="${TARGETS:-keel go rust js}"
rates="${RATES:-500 1000 2000}"
n="${CONNECTIONS:-5000}"
hold="${HOLD:-5s}"
threads="${THREADS:-1}"
throughput="${THROUGHPUT:-1}"
tp_n="${THROUGHPUT_CONNECTIONS:-1000}"
tp_s="${THROUGHPUT_SECONDS:-20}"
tp_rate="${THROUGHPUT_RATE:-200}"
tp_threads="${THROUGHPUT_THREADS:-$threads}"
most=$(( n > tp_n ? n : tp_n ))
max_conns=$(( most + 1000 ))
max_pending="${MAX_PENDING:-$most}"
backlog="${BACKLOG:-4096}"
go_peer="${GO_PEER:-/var/cache/keel-interop/bin/go-peer}"
rust_peer="${RUST_PEER:-/var/cache/keel-interop/bin/rust-peer-0.56}"
node_runner="$repo/tests/interop/run-node.sh"
node_modules="$repo/tests/interop/node_modules"
say() { echo "compare: $*" >&2; }
[ -x "$keel" ] || { say "no $keel"; exit 2; }
command -v jq >/dev/null || { say "needs jq"; exit 2; }
mkdir -p "$out"

target_pid=""
stop_target() {
  if [ -n "$target_pid" ] && kill -0 "$target_pid" 2>/dev/null; then
    kill -TERM "$target_pid"
    for _ in $(seq 100); do kill -0 "$target_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$target_pid" 2>/dev/null || true
  fi
  [ -n "$target_pid" ] && { wait "$target_pid" 2>/dev/null || true; }
  target_pid=""
}
trap stop_target EXIT

ulimit -n "$(ulimit -Hn)"   # the client and the target hold one descriptor per connection

# Why a target cannot run (empty: it can).
missing() {
  case "$1" in
    keel) ;;
    go|rust)
      local bin build_sh
      if [ "$1" = go ]; then bin="$go_peer"; build_sh="tests/interop/go/build.sh"
      else bin="$rust_peer"; build_sh="tests/interop/rust/build.sh 0.56"; fi
      if [ ! -x "$bin" ]; then
        echo "no $bin ($build_sh)"
      elif [[ "$("$bin" --help 2>&1 || true)" != *-quiet-events* ]]; then  # go: -quiet-events
        echo "$bin has no --quiet-events: built from an older source ($build_sh)"
      fi ;;
    js)
      if [ ! -f "$node_modules/libp2p/package.json" ] || [ ! -f "$node_modules/.keel-lock-hash" ]; then
        echo "no $node_modules (tests/interop/install.sh)"
      fi ;;
    *) echo "unknown target (keel, go, rust, js)" ;;
  esac
}

# What a target is: one line.
describe() {
  case "$1" in
    keel)
      echo "keel: $("$keel" --version 2>/dev/null | head -n1) ($keel), keel bootstrap --api off --log-level warn, one event loop; [limits] max_connections = $max_conns, max_pending_inbound = $max_pending, max_pending_inbound_per_ip = max_connections_per_ip = max_connections_per_subnet = inbound_rate_per_ip = 0 (off)" ;;
    go)
      local v
      v=$(go version -m "$go_peer" 2>/dev/null | awk '
          NR == 1 { tc = $2 }
          $2 == "github.com/libp2p/go-libp2p" { l = $3 }
          $2 == "github.com/libp2p/go-libp2p-kad-dht" { d = $3 }
          END { if (l != "") printf "go-libp2p %s + go-libp2p-kad-dht %s (%s)", l, d, tc }' || true)
      echo "go: ${v:-go-libp2p v0.52 + go-libp2p-kad-dht v0.42.2} ($go_peer --quiet-events), GOMAXPROCS ${GOMAXPROCS:-$(nproc)}; rcmgr.InfiniteLimits, no connection manager, loopback exempt from the per-address limits (go-libp2p's default), TCP backlog = net.core.somaxconn ($(cat /proc/sys/net/core/somaxconn))" ;;
    rust)
      local lock="$repo/tests/interop/rust/v0_56/Cargo.lock" v
      v=$(awk '/^name = / { name = $3 } /^version = / && name != "" { gsub(/"/, "", $3); gsub(/"/, "", name); ver[name] = $3; name = "" }
               END { printf "rust-libp2p %s (kad %s, tcp %s, yamux %s, noise %s)", ver["libp2p"], ver["libp2p-kad"], ver["libp2p-tcp"], ver["libp2p-yamux"], ver["libp2p-noise"] }' "$lock" 2>/dev/null || true)
      echo "rust: ${v:-rust-libp2p 0.56} per $lock, release build ($rust_peer --quiet-events), 2 tokio workers; no connection limits (none by default), TCP listen backlog 4096 (libp2p-tcp default 1024), idle timeout 3660 s" ;;
    js)
      local p="$node_modules"
      echo "js: js-libp2p $(jq -r .version "$p/libp2p/package.json") + @libp2p/kad-dht $(jq -r .version "$p/@libp2p/kad-dht/package.json") on Node $("$node_runner" --version 2>/dev/null) (bench/js-bootstrap.mjs); maxConnections = $max_conns, maxIncomingPendingConnections = $max_pending, inboundConnectionThreshold unlimited, TCP backlog $backlog, connection monitor on" ;;
  esac
}

# Starts the target $1 with its files in $2; sets target_pid and addr, or returns 1 (with the
# reason in $2/failed). go and rust run as direct children ($! is the process that listens and is
# measured); run-node.sh execs Node.
start_target() {
  local kind="$1" dir="$2"
  addr=""
  case "$kind" in
    keel)
      printf '[limits]\nmax_connections = %d\nmax_pending_inbound = %d\nmax_pending_inbound_per_ip = 0\nmax_connections_per_ip = 0\nmax_connections_per_subnet = 0\ninbound_rate_per_ip = 0\n' \
        "$max_conns" "$max_pending" > "$dir/limits.toml"
      # Not --json: that prints a line per connection opened and closed (the text output has
      # none), which the other targets do not spend either.
      "$keel" bootstrap --listen /ip4/127.0.0.1/tcp/0 --data-dir "$dir/boot" --api off \
        --config "$dir/limits.toml" --log-level warn > "$dir/target.out" 2> "$dir/target.log" & ;;
    go)
      "$go_peer" --listen /ip4/127.0.0.1/tcp/0 --kad-mode server --quiet-events --max-lifetime 3600s \
        > "$dir/target.out" 2> "$dir/target.log" & ;;
    rust)
      "$rust_peer" --listen /ip4/127.0.0.1/tcp/0 --kad-mode server --quiet-events --max-lifetime 3600s \
        > "$dir/target.out" 2> "$dir/target.log" & ;;
    js)
      "$node_runner" "$here/js-bootstrap.mjs" --max-connections "$max_conns" \
        --max-pending "$max_pending" --backlog "$backlog" \
        > "$dir/target.out" 2> "$dir/target.log" & ;;
  esac
  target_pid=$!
  for _ in $(seq 200); do  # up to 20 s for the "listening" line
    if [ "$kind" = keel ]; then
      addr=$(sed -n 's/^Listening on \(.*\/p2p\/.*\)$/\1/p' "$dir/target.out" 2>/dev/null | head -n1 || true)
    else
      addr=$(head -n1 "$dir/target.out" 2>/dev/null | jq -r 'select(.event == "listening") | .addrs[0] // empty' 2>/dev/null || true)
    fi
    [ -n "$addr" ] && break
    kill -0 "$target_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "the $kind target did not start (see $dir/target.log)" > "$dir/failed"
    say "$(cat "$dir/failed")"
    stop_target
    return 1
  fi
  sleep 1   # let the target settle (Node's start-up JIT, the bootstrap's first refresh)
}

# One run: target $1, reports in $2, then keel load's flags.
run_one() {
  local kind="$1" dir="$2"
  shift 2
  rm -rf "$dir"; mkdir -p "$dir"
  if ! start_target "$kind" "$dir"; then runs_failed+="$(basename "$dir") "; return 0; fi
  say "$(basename "$dir"): $kind at $addr (pid $target_pid)"
  "$keel" load --target "$addr" --target-pid "$target_pid" --json --quiet "$@" \
    > "$dir/load.json" 2> "$dir/load.log" || true
  stop_target
  if ! jq -e .connections "$dir/load.json" >/dev/null 2>&1; then
    echo "no report from keel load (see $dir/load.log)" > "$dir/failed"
    say "$(cat "$dir/failed")"
  fi
  if [ -e "$dir/failed" ]; then runs_failed+="$(basename "$dir") "; fi
}

active=""
notes=""
runs_failed=""
for kind in $targets; do
  why=$(missing "$kind")
  if [ "$kind" = keel ] && [ -n "$why" ]; then say "keel: $why"; exit 2; fi
  if [ -n "$why" ]; then notes+="$kind: skipped: $why"$'\n'; else active+="$kind "; fi
done
tp_note=""
if [ "$throughput" != 0 ] && [[ "$("$keel" load --help 2>&1 || true)" != *--find-node-loop* ]]; then
  tp_note="throughput: skipped: $keel load has no --find-node-loop"
fi

say "$(nproc) CPUs, $(uname -r), $n connections at ${rates// /, }/s, hold $hold, $threads load thread(s); targets: ${active:-none}; reports in $out"
for r in $rates; do
  for kind in $active; do
    run_one "$kind" "$out/$r-$kind" --connections "$n" --rate "$r" --duration "$hold" \
      --threads "$threads" --find-node "$@"
  done
done
if [ "$throughput" != 0 ] && [ -z "$tp_note" ]; then
  for kind in $active; do
    run_one "$kind" "$out/throughput-$kind" --connections "$tp_n" --rate "$tp_rate" \
      --duration "${tp_s}s" --threads "$tp_threads" --find-node --find-node-loop "$@"
  done
fi

# ---------------------------------------------------------------------------------------------
# The report (stdout).

ok() { [ ! -e "$1/failed" ] && [ -s "$1/load.json" ]; }
# shellcheck disable=SC2016  # jq's $variables
# jq: fixed(d) prints a number with d decimals; ms with 2, 1 or 0 by size; x a ratio (1 decimal).
jq_defs='
  def fixed(d): pow(10; d) as $p | (. * $p | round) as $x
    | ($x / $p | floor | tostring)
      + (if d > 0 then "." + ($x % $p | tostring | if length < d then ("000000"[0:d - length]) + . else . end) else "" end);
  def ms: if . == null then "-" elif . >= 100 then (round | tostring) elif . >= 10 then fixed(1) else fixed(2) end;
  def ratio(a; b): if (b // 0) > 0 and a != null then (a / b | fixed(1)) + "×" else "-" end;'
md() { awk -F'\t' '{ line = "|"; for (i = 1; i <= NF; i++) line = line " " $i " |"; print line }'; }
name() { case "$1" in keel) echo Keel ;; *) echo "$1" ;; esac; }

echo "Machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end. Targets:"
echo
for kind in $active; do echo "- $(describe "$kind")"; done
printf '%s' "$notes" | sed 's/^/- /'
echo
echo "$n connections per run, one FIND_NODE each, held $hold; keel load with $threads thread(s). Latencies in ms from the start of the TCP connect. Handshakes/s (ok / setup): connections set up / the time from the first dial until every one was set up or had failed (what the target sustained). CPU per connection: the target's user + system time until then / connections dialled. RSS per connection: (loaded − before) / connections held; after: 1 s after the clients closed."

# (a) One row per run.
row() {
  local r="$1" kind="$2" dir="$out/$1-$2"
  if ! ok "$dir"; then
    printf '%s\t%s\t%s\n' "$r" "$(name "$kind")" "$(cat "$dir/failed" 2>/dev/null || echo 'no report')"
    return
  fi
  jq -r --arg kind "$(name "$kind")" --arg rate "$r" "$jq_defs"'
    def mib: if . == null then "-" else (. / 1024 | fixed(1)) end;
    (.success_rate * .connections | round) as $ok
    | .target_process as $t
    | [ $rate, $kind,
        ((.success_rate * 100 | fixed(1)) + " %"),
        (if .client.setup_s > 0 then ($ok / .client.setup_s | round | tostring) else "-" end),
        (.latency_ms.handshake.p50 | ms),
        (.latency_ms.handshake.p99 | ms),
        (if .latency_ms.find_node.count > 0
         then (.latency_ms.find_node.p50 | ms) + " / " + (.latency_ms.find_node.p99 | ms)
         else "-" end),
        (if $t then (1000 * $t.cpu_setup_s / .connections | fixed(2)) else "-" end),
        (if $t.rss_per_connection_kb then ($t.rss_per_connection_kb | fixed(1)) else "-" end),
        (if $t then ($t.rss_before_kb | mib) + " → " + ($t.rss_loaded_kb | mib) + " → " + ($t.rss_after_kb | mib) else "-" end),
        ([.errors | to_entries[] | "\(.key) \(.value.count)"
           + (.value.messages | to_entries | if length > 0 then max_by(.value) | " (\(.key | .[0:48]))" else "" end)]
         | join(", ") | if . == "" then "none" else . end)
      ] | @tsv' "$dir/load.json"
}

echo
echo "| rate /s | target | success | handshakes/s (ok / setup) | handshake p50 | handshake p99 | FIND_NODE p50 / p99 | CPU ms / connection | RSS KiB / connection | RSS MiB before → loaded → after | errors (most frequent message) |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
for r in $rates; do
  for kind in $active; do row "$r" "$kind"; done
done | md

# Runs where keel load could not keep its schedule (then the rate asked for is not what was sent).
for r in $rates; do
  for kind in $active; do
    ok "$out/$r-$kind" || continue
    jq -r --arg k "$(name "$kind")" --arg r "$r" '
      select(.latency_ms.start_lag.p99 > 100)
      | "note: at \($r)/s against \($k), keel load started connections up to \(.latency_ms.start_lag.p99 | round) ms late (start lag p99)"' \
      "$out/$r-$kind/load.json"
  done
done

# (b) Keel against each other target.
others=""
for kind in $active; do [ "$kind" = keel ] || others+="$kind "; done
if [[ " $active " == *" keel "* && -n "$others" ]]; then
  echo
  echo "Keel against each: handshakes/s as Keel/other, costs as other/Keel (above 1: Keel does better)."
  echo
  echo "| rate /s | other | handshakes/s (ok / setup), Keel/other | CPU per connection, other/Keel | RSS per connection, other/Keel | RSS after, other/Keel |"
  echo "|---:|---|---:|---:|---:|---:|"
  for r in $rates; do
    for kind in $others; do
      if ! ok "$out/$r-keel" || ! ok "$out/$r-$kind"; then
        printf '%s\t%s\t-\t-\t-\t-\n' "$r" "Keel/$kind"
        continue
      fi
      jq -rs --arg rate "$r" --arg other "$kind" "$jq_defs"'
        def rate: .success_rate * .connections / .client.setup_s;
        (.[0]) as $k | (.[1]) as $o
        | [ $rate, "Keel/\($other)",
            ratio($k | rate; $o | rate),
            ratio($o.target_process.cpu_setup_s; $k.target_process.cpu_setup_s),
            ratio($o.target_process.rss_per_connection_kb; $k.target_process.rss_per_connection_kb),
            ratio($o.target_process.rss_after_kb; $k.target_process.rss_after_kb)
          ] | @tsv' "$out/$r-keel/load.json" "$out/$r-$kind/load.json"
    done
  done | md
fi

# (c) Held-connection throughput.
echo
if [ "$throughput" = 0 ]; then
  echo "throughput: not run (THROUGHPUT=0)"
elif [ -n "$tp_note" ]; then
  echo "$tp_note"
else
  echo "Held-connection throughput: $tp_n connections (set up at $tp_rate/s), each sending FIND_NODEs back to back (a new stream each) for ${tp_s} s; keel load with $tp_threads thread(s). Requests per CPU-second: requests answered / the target's CPU seconds during the hold. Keel/this: above 1, Keel does better."
  echo
  echo "| target | connections held | requests ok | requests/s | requests per target CPU-s | target CPU cores busy | p50 ms | p99 ms | failed (most frequent message) | Keel/this requests/s | Keel/this per CPU-s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  keel_tp="$out/throughput-keel/load.json"
  ok "$out/throughput-keel" || keel_tp=/dev/null
  for kind in $active; do
    dir="$out/throughput-$kind"
    if ! ok "$dir"; then
      printf '%s\t%s\n' "$(name "$kind")" "$(cat "$dir/failed" 2>/dev/null || echo 'no report')"
      continue
    fi
    jq -rs --arg kind "$(name "$kind")" "$jq_defs"'
      def per_cpu: if (.target_process.cpu_hold_s // 0) > 0 and .find_node_loop
                   then .find_node_loop.ok / .target_process.cpu_hold_s else null end;
      (.[0]) as $t | (.[1]) as $k | $t.find_node_loop as $l
      | if $l == null then [$kind, "no .find_node_loop in the report"] else
        [ $kind,
          "\($t.held) / \($t.attempted)",
          ($l.ok | tostring),
          ($l.per_s | round | tostring),
          ($t | per_cpu | if . == null then "-" else round | tostring end),
          (if $t.target_process and $t.hold_s > 0 then ($t.target_process.cpu_hold_s / $t.hold_s | fixed(2)) else "-" end),
          ($l.latency_ms.p50 | ms),
          ($l.latency_ms.p99 | ms),
          ($l.failed | tostring) + ($l.errors // {} | to_entries
            | if length > 0 then max_by(.value) | " (\(.key | .[0:48]))" else "" end),
          (if $k then ratio($k.find_node_loop.per_s; $l.per_s) else "-" end),
          (if $k then ratio($k | per_cpu; $t | per_cpu) else "-" end)
        ] end | @tsv' "$dir/load.json" "$keel_tp"
  done | md
fi

# (d) The crypto-only ceiling: BM_CryptoOnly is the CPU time of both sides' cryptography for one
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
    echo "crypto-only ceiling ($bench_bin): $line"
    echo "  one side, one core: 2 / ${crypto_us} us = ${ceiling} handshakes/s"
    for kind in $active; do
      best=$(for r in $rates; do
               ok "$out/$r-$kind" && jq -r '(.success_rate * .connections / .client.setup_s) | round' "$out/$r-$kind/load.json"
             done | sort -n | tail -n1)
      [ -n "$best" ] && awk -v k="$(name "$kind")" -v b="$best" -v c="$ceiling" \
        'BEGIN { printf "  %s best (ok / setup): %d handshakes/s = %.0f %% of it\n", k, b, 100 * b / c }'
    done
  else
    echo "crypto-only ceiling: $bench_bin printed no 'handshake:' line"
  fi
else
  echo "crypto-only ceiling: no $bench_bin (cmake --build $build --target noise_handshake_bench)"
fi
say "reports: $out/*/load.json"

# A run without a report fails the script (after the tables, which say which).
if [ -n "$runs_failed" ]; then
  say "runs without a report: $runs_failed"
  exit 1
fi
