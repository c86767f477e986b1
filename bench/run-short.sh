#!/usr/bin/env bash
# A quick run of the benchmarks: the Noise handshake table, then one line
#   handshake: full X us, crypto-only Y us, ratio Z
# the DHT lookup table of a 50-node in-process network (latency p50/p99, hops), and the floor
# under a bootstrap's CPU per connection (bench/connection_floor, 200 connections), and the cost
# of one page of a full peer store and of a full provider store's count (bench/store_bench).
# (CPU time per handshake, both sides; computed inside the benchmark binary, so nothing beyond
# the packages of scripts/setup is needed). Extra arguments go to the benchmark binary.
# Usage: bench/run-short.sh BUILD_DIR [--benchmark_filter=...]
# Meaningful numbers want an optimised build: cmake --preset release && bench/run-short.sh build/release
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [benchmark flags...]" >&2
  exit 2
fi
build="$1"
shift
bin="$build/bench/noise_handshake_bench"

if [ ! -x "$bin" ]; then
  echo "run-short: building noise_handshake_bench in $build" >&2
  cmake --build "$build" --target noise_handshake_bench
fi

# Google Benchmark 1.7.1 takes --benchmark_min_time as a plain number of seconds.
"$bin" --benchmark_min_time=0.2 "$@"

lookup="$build/bench/dht_lookup_bench"
[ -x "$lookup" ] || cmake --build "$build" --target dht_lookup_bench >&2
"$lookup" --lookups=300

# The floor of this machine (docs/performance.md): small, so that a broken exchange shows here.
floor="$build/bench/connection_floor"
[ -x "$floor" ] || cmake --build "$build" --target connection_floor >&2
"$floor" --connections 200 --rate 200

# One GET /api/v1/peers with 50,000 peers (the whole store copied and sorted, against one page),
# and counting 200,000 provider records.
store="$build/bench/store_bench"
[ -x "$store" ] || cmake --build "$build" --target store_bench >&2
"$store" --benchmark_min_time=0.2
