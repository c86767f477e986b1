#!/usr/bin/env bash
# shellcheck disable=SC2154  # b1_addr, b2_peer, …: set by start_bootstrap through printf -v
# Fault scenarios in network namespaces (issue 7): real keel processes on two veth links that this
# script creates and removes, faults injected with nft (this kernel has no netem):
#   syn-dropped   a bootstrap whose port drops every SYN: keel ping fails in the dial phase at the
#                 10 s deadline
#   packet-loss   10 % of the bootstraps' packets dropped (nft numgen): discovery verification still
#                 passes all six steps; the step figures are printed
#   partition     the node's link to its bootstrap cut, then healed: down, then healthy again by
#                 itself
#   slowloris     300 connections from one host that never finish the handshake: a client from
#                 another host still connects and pings in normal time
# Topology: netns B (bootstraps, 10.77.1.1 and 10.77.2.1), N (node, 10.77.1.2), S (slowloris
# host, 10.77.2.2). Needs root, ip and nft. Usage: fault-test.sh SCENARIO (KEEL_BINARY set).
set -euo pipefail
scenario=${1:?scenario}
src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../deploy/lib.sh
source "$src/tests/deploy/lib.sh"
keel=${KEEL_BINARY:?KEEL_BINARY}
[[ $(id -u) == 0 ]] || fail "fault tests need root (network namespaces)"

ns=keelf$$
B=${ns}b N=${ns}n S=${ns}s
teardown_netns() {
    # Whatever still runs inside (a namespace outlives nothing it holds) is killed first.
    local n
    for n in "$B" "$N" "$S"; do
        ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    done
    ip netns del "$B" 2>/dev/null || true
    ip netns del "$N" 2>/dev/null || true
    ip netns del "$S" 2>/dev/null || true
}
trap 'cleanup; teardown_netns' EXIT

ip netns add "$B"
ip netns add "$N"
ip netns add "$S"
ip link add "${ns}vb1" netns "$B" type veth peer name "${ns}vn" netns "$N"
ip link add "${ns}vb2" netns "$B" type veth peer name "${ns}vs" netns "$S"
ip -n "$B" addr add 10.77.1.1/24 dev "${ns}vb1"
ip -n "$B" addr add 10.77.2.1/24 dev "${ns}vb2"
ip -n "$N" addr add 10.77.1.2/24 dev "${ns}vn"
ip -n "$S" addr add 10.77.2.2/24 dev "${ns}vs"
for pair in "$B:${ns}vb1" "$B:${ns}vb2" "$N:${ns}vn" "$S:${ns}vs" "$B:lo" "$N:lo" "$S:lo"; do
    ip -n "${pair%%:*}" link set "${pair#*:}" up
done

# shellcheck source=lib.sh
source "$src/tests/fault/lib.sh"
figure_prefix=fault

# start_bootstrap NAME PORT [PEER]: a keel bootstrap in B on both links; sets <NAME>_addr
# (/ip4/10.77.1.1/... as the node sees it) and <NAME>_peer.
start_bootstrap() {
    local name=$1 port=$2 peer=${3:-}
    local args=(bootstrap --listen "/ip4/10.77.1.1/tcp/$port" --listen "/ip4/10.77.2.1/tcp/$port"
        --data-dir "$tmp/$name" --json --log-level warn)
    [[ -n "$peer" ]] && args+=(--bootstrap "$peer")
    # Not through inside(): a backgrounded function is a subshell, and its PID is not keel's.
    ip netns exec "$B" "$keel" "${args[@]}" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    started_pids+=($!)
    wait_for "$name listening" 20 grep -q '"event":"listening"' "$tmp/$name.out"
    local id
    id=$(grep '"event":"listening"' "$tmp/$name.out" | jq -r .peer_id)
    printf -v "${name}_peer" '%s' "$id"
    printf -v "${name}_addr" '%s' "/ip4/10.77.1.1/tcp/$port/p2p/$id"
}

# event_after FILE LINE JQ_FILTER: true when a JSON line after line LINE of FILE matches.
event_after() {
    [[ -n "$(tail -n +"$(($2 + 1))" "$1" | jq -c "select($3)" 2>/dev/null)" ]]
}

case "$scenario" in
syn-dropped)
    start_bootstrap b1 4001
    inside "$B" nft -f - <<NFT
table inet keel_fault {
  chain input {
    type filter hook input priority 0;
    tcp dport 4001 drop
  }
}
NFT
    t0=$(now)
    set +e
    out=$(inside "$N" "$keel" ping "$b1_addr" --json 2>/dev/null)
    code=$?
    set -e
    took=$(since "$t0")
    phase=$(echo "$out" | jq -r .phase)
    figure "syn_dropped_ping_fail_s=$took phase=$phase exit=$code bound=9..11"
    [[ $code != 0 ]] || fail "ping succeeded through a dropped port"
    [[ "$phase" == dial ]] || fail "phase $phase, expected dial: $out"
    holds "$took >= 9 && $took <= 11" || fail "failed after ${took}s, expected 10 s ± 1"
    pass "SYN dropped: dial phase after ${took}s"
    ;;
packet-loss)
    start_bootstrap b1 4001
    start_bootstrap b2 4002 "$b1_addr"
    inside "$B" nft -f - <<NFT
table inet keel_fault {
  chain input {
    type filter hook input priority 0;
    meta l4proto tcp numgen random mod 100 < 10 counter drop
  }
  chain output {
    type filter hook output priority 0;
    meta l4proto tcp numgen random mod 100 < 10 counter drop
  }
}
NFT
    t0=$(now)
    set +e
    inside "$N" "$keel" verify --bootstrap "$b1_addr" --listen /ip4/10.77.1.2/tcp/0 --timeout 30s \
        --json >"$tmp/verify.out" 2>"$tmp/verify.err"
    code=$?
    set -e
    took=$(since "$t0")
    dropped=$(inside "$B" nft list table inet keel_fault | awk '/counter packets/ { n += $(NF-3) } END { print n + 0 }')
    while read -r step; do figure "packet_loss_10pct_$step"; done < <(jq -r \
        'select(.event == "step" and .status != "running") | "\(.id)_ms=\(.duration_ms|floor) status=\(.status)"' \
        "$tmp/verify.out")
    figure "packet_loss_10pct_verify_total_s=$took exit=$code packets_dropped=$dropped"
    [[ $code == 0 ]] || fail "verification under 10 % loss: exit $code; $(tail -1 "$tmp/verify.out")"
    pass "10 % packet loss: all six steps passed in ${took}s"
    ;;
partition)
    start_bootstrap b1 4001
    start_bootstrap b2 4002 "$b1_addr"
    cat >"$tmp/node.toml" <<TOML
[health]
probe_interval = "2s"
probe_timeout = "2s"
backoff_initial = "500ms"
backoff_max = "2s"
[connect]
timeout = "2s"
TOML
    ip netns exec "$N" "$keel" node --listen /ip4/10.77.1.2/tcp/0 --api off --data-dir "$tmp/node" --json \
        --log-level warn --config "$tmp/node.toml" --bootstrap "$b1_addr" \
        >"$tmp/node.out" 2>"$tmp/node.err" &
    started_pids+=($!)
    wait_for "node healthy" 30 event_after "$tmp/node.out" 0 '.event == "bootstrap_health" and .state == "healthy"'
    mark=$(wc -l <"$tmp/node.out")
    inside "$B" nft -f - <<NFT
table inet keel_fault {
  chain input {
    type filter hook input priority 0;
    ip saddr 10.77.1.2 drop
  }
  chain output {
    type filter hook output priority 0;
    ip daddr 10.77.1.2 drop
  }
}
NFT
    t0=$(now)
    wait_for "node sees the partition" 20 event_after "$tmp/node.out" "$mark" \
        '.event == "bootstrap_health" and (.state == "down" or .state == "degraded")'
    seen=$(since "$t0")
    mark=$(wc -l <"$tmp/node.out")
    inside "$B" nft delete table inet keel_fault
    t1=$(now)
    wait_for "node reconnects by itself" 30 event_after "$tmp/node.out" "$mark" \
        '.event == "bootstrap_health" and .state == "healthy"'
    healed=$(since "$t1")
    figure "partition_seen_s=$seen bound<=probe_interval+probe_timeout+2=6"
    figure "partition_healed_reconnect_s=$healed bound<=backoff_max+connect_timeout+1=5"
    holds "$seen <= 6" || fail "partition seen after ${seen}s"
    holds "$healed <= 5" || fail "reconnected ${healed}s after the heal"
    pass "partition seen in ${seen}s, healed in ${healed}s with no help"
    ;;
slowloris)
    start_bootstrap b1 4001
    # 300 connections from S that never say a word (bash /dev/tcp), held open.
    # shellcheck disable=SC2016  # expanded by the inner bash
    ip netns exec "$S" bash -c 'for _ in $(seq 300); do exec {fd}<>/dev/tcp/10.77.2.1/4001 || true; done
                     echo opened; exec sleep 120' >"$tmp/slowloris.out" 2>/dev/null &
    started_pids+=($!)
    wait_for "slowloris connections opened" 30 grep -q opened "$tmp/slowloris.out"
    worst=0
    for i in 1 2 3 4 5; do
        out=$(inside "$N" "$keel" ping "$b1_addr" --json --count 1 --timeout 10s 2>/dev/null) ||
            fail "legitimate ping $i failed during the slowloris: $out"
        ms=$(echo "$out" | jq -r '.connect_ms')
        figure "slowloris_legit_connect_$i=${ms}ms"
        if holds "$ms > $worst"; then worst=$ms; fi
    done
    figure "slowloris_silent_connections=300 legit_connect_worst_ms=$worst"
    holds "$worst < 1000" || fail "a legitimate client took ${worst} ms to connect"
    pass "slowloris: legitimate clients connected in ≤ ${worst} ms"
    ;;
*)
    fail "unknown scenario $scenario"
    ;;
esac
