#!/usr/bin/env bash
# shellcheck disable=SC2154  # boot_peer, …: set through printf -v
# The brief's network behind NAT (issue 14, acceptance 2), in network namespaces with nft
# masquerade: a public Keel bootstrap with the chiral profile (Kademlia /chiral/kad/1.0.0, Circuit
# Relay v2, identify /chiral/id/1.0.0), two NATed rust-libp2p 0.53 clients configured as Chiral's
# (Kademlia server mode, identify /chiral/id/1.0.0 with agent chiral/2.0.0 and the agent check,
# relay client that re-reserves after every reconnect, DCUtR, ping every 15 s) and two NATed Keel
# nodes (keel node --profile chiral, relay client "auto").
#
#   round 1  A provides a key; B finds A within 5 s and fetches 4 MiB from A over the circuit
#            (/keel-test/file/1.0.0, request-response), byte-identical; B echoes 4 MiB through
#            the circuit to Keel node K1; B finds K1's provider record; K2 (Keel) finds A and K1 and
#            reaches both through the bootstrap's circuits.
#   restart  kill -9 the bootstrap, start it again on the same data directory: every client
#            re-reserves (the time from the restart is printed; target under 10 s), then round 1
#            again.
#
# Topology: netns I ("internet": the bootstrap on 198.51.100.1, a router), four NAT routers R1..R4
# (203.0.113.8i+2 on the internet side, 192.168.i.1 inside, nft masquerade with random ports: a
# symmetric NAT, so DCUtR's hole punch cannot succeed and the data must take the circuit) and four
# clients C1..C4 (192.168.i.2): A, B (rust), K1, K2 (Keel). Inbound connections to a client are
# dropped by its router. Needs root, ip, nft, jq, curl; KEEL_BINARY; the rust peer from
# tests/interop/rust/build.sh (KEEL_RUST_PEER, default /var/cache/keel-interop/bin/rust-peer-0.53).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../deploy/lib.sh
source "$src/tests/deploy/lib.sh"
keel=${KEEL_BINARY:?KEEL_BINARY}
rust_peer=${KEEL_RUST_PEER:-${KEEL_INTEROP_CACHE:-/var/cache/keel-interop}/bin/rust-peer-0.53}
[[ $(id -u) == 0 ]] || fail "NAT tests need root (network namespaces)"
[[ -x "$rust_peer" ]] || fail "no rust peer at $rust_peer (tests/interop/rust/build.sh 0.53)"

file_bytes=$((4 * 1024 * 1024))
key_a="chiral-file-from-A"
key_k1="chiral-file-from-K1"

ns=kn$$
I=${ns}i
namespaces=("$I")
for i in 1 2 3 4; do namespaces+=("${ns}r$i" "${ns}c$i"); done
teardown_netns() {
    local n
    for n in "${namespaces[@]}"; do
        ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    done
    for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
}
trap 'cleanup; teardown_netns' EXIT

for n in "${namespaces[@]}"; do
    ip netns add "$n"
    ip -n "$n" link set lo up
done
ip -n "$I" addr add 198.51.100.1/32 dev lo
ip netns exec "$I" sysctl -qw net.ipv4.ip_forward=1
for i in 1 2 3 4; do
    R=${ns}r$i C=${ns}c$i
    wan_i=203.0.113.$((8 * i + 1)) wan_r=203.0.113.$((8 * i + 2))
    ip link add "${ns}w$i" netns "$I" type veth peer name wan netns "$R"
    ip link add lan netns "$R" type veth peer name eth0 netns "$C"
    ip -n "$I" addr add "$wan_i/29" dev "${ns}w$i"
    ip -n "$R" addr add "$wan_r/29" dev wan
    ip -n "$R" addr add "192.168.$i.1/24" dev lan
    ip -n "$C" addr add "192.168.$i.2/24" dev eth0
    ip -n "$I" link set "${ns}w$i" up
    ip -n "$R" link set wan up
    ip -n "$R" link set lan up
    ip -n "$C" link set eth0 up
    ip -n "$R" route add default via "$wan_i"
    ip -n "$C" route add default via "192.168.$i.1"
    ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
    # A home router: the LAN leaves with the router's address and a random port per connection;
    # nothing from outside gets in unless it answers a connection from inside.
    ip netns exec "$R" nft -f - <<NFT
table ip keel_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "wan" masquerade random
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
  }
}
NFT
done

# shellcheck source=lib.sh
source "$src/tests/fault/lib.sh"
figure_prefix=nat
start_bootstrap() {
    ip netns exec "$I" "$keel" bootstrap --profile chiral --listen /ip4/198.51.100.1/tcp/4001 \
        --data-dir "$tmp/boot" --json --log-level warn >>"$tmp/boot.out" 2>>"$tmp/boot.err" &
    boot_pid=$!
    started_pids+=("$boot_pid")
}
start_bootstrap
wait_for "bootstrap listening" 20 grep -q '"event":"listening"' "$tmp/boot.out"
boot_peer=$(grep -m1 '"event":"listening"' "$tmp/boot.out" | jq -r .peer_id)
boot=/ip4/198.51.100.1/tcp/4001/p2p/$boot_peer

# Keel nodes: the chiral profile, DHT server as Chiral's clients, /keel/echo/1.0.0 for the data
# check, the API inside their own namespace.
start_keel() {
    local name=$1 where=$2
    cat >"$tmp/$name.toml" <<TOML
[health]
backoff_initial = "250ms"
backoff_max = "2s"
TOML
    ip netns exec "$where" "$keel" node --profile chiral --dht-server --echo \
        --listen /ip4/0.0.0.0/tcp/4001 --bootstrap "$boot" --config "$tmp/$name.toml" \
        --data-dir "$tmp/$name" --api 127.0.0.1:5080 --json --log-level "${KEEL_NAT_LOG_LEVEL:-warn}" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    started_pids+=($!)
}
# api NS METHOD PATH [BODY]: the Keel node's HTTP API in namespace NS.
api() {
    local where=$1 method=$2 path=$3 body=${4:-}
    if [[ -n "$body" ]]; then
        inside "$where" curl -sf --max-time 60 -X "$method" -H 'content-type: application/json' \
            -d "$body" "http://127.0.0.1:5080$path"
    else
        inside "$where" curl -sf --max-time 10 -X "$method" "http://127.0.0.1:5080$path"
    fi
}
# reservation_expiry NS: the expiry (ms) of the Keel node's reservation on the bootstrap, or fails.
reservation_expiry() {
    api "$1" GET /api/v1/node |
        jq -e --arg b "$boot_peer" '.reachability.relays[] | select(.relay_peer == $b) | .expires_ms'
}
reserved_after() { local e; e=$(reservation_expiry "$1") && ((e > $2)); }

chiral=(--identify-protocol /chiral/id/1.0.0 --kad-protocol /chiral/kad/1.0.0 --agent chiral/2.0.0
    --agent-check chiral --kad-mode server --dcutr --ping-interval 15s
    --listen /ip4/0.0.0.0/tcp/4001 --timeout 60s --max-lifetime 600s)
start_rust() {
    local name=$1 where=$2
    shift 2
    ip netns exec "$where" "$rust_peer" "${chiral[@]}" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    started_pids+=($!)
}
# action_line NAME ACTION [NTH]: the NTH (default 1) JSON line of that action in NAME's output.
action_line() { jq -c --arg a "$2" 'select(.action == $a)' "$tmp/$1.out" | sed -n "${3:-1}p"; }
action_ok() { [[ $(action_line "$1" "$2" "${3:-1}" | jq -r .ok) == true ]]; }
action_done() { [[ -n $(action_line "$1" "$2" "${3:-1}") ]]; }
# expect_action NAME ACTION NTH SECONDS: waits for the line and fails unless it is ok.
expect_action() {
    wait_for "$1: $2 #$3" "$4" action_done "$1" "$2" "$3"
    action_ok "$1" "$2" "$3" || fail "$1: $2 #$3: $(action_line "$1" "$2" "$3"); $(tail -5 "$tmp/$1.err")"
}
peer_of() { jq -r 'select(.event == "listening") | .peer_id' "$tmp/$1.out" | head -1; }

start_keel k1 "${ns}c3"
start_keel k2 "${ns}c4"
wait_for "k1 reserved" 30 reservation_expiry "${ns}c3"
wait_for "k2 reserved" 30 reservation_expiry "${ns}c4"
k1_peer=$(api "${ns}c3" GET /api/v1/node | jq -r .peer_id)
k2_peer=$(api "${ns}c4" GET /api/v1/node | jq -r .peer_id)
status=$(api "${ns}c3" GET /api/v1/node | jq -r .reachability.status)
[[ "$status" == relayed ]] || fail "k1 says it is $status, expected relayed"
api "${ns}c3" POST /api/v1/providers "{\"key\":\"$key_k1\"}" | jq -e '.acknowledged > 0' >/dev/null ||
    fail "k1 could not provide"

start_rust a "${ns}c1" --serve-file "$file_bytes" --do "keep-reserved $boot" --do "bootstrap $boot" \
    --do "provide $key_a"
expect_action a keep-reserved 1 30
expect_action a provide 1 30
a_peer=$(peer_of a)
round=(--do "find-providers $key_a" --do "fetch $a_peer $file_bytes"
    --do "echo-via $boot/p2p-circuit/p2p/$k1_peer $file_bytes" --do "find-providers $key_k1")
start_rust b "${ns}c2" --do "keep-reserved $boot" --do "bootstrap $boot" --do "wait-file $tmp/go1" \
    "${round[@]}" --do "wait-file $tmp/go2" "${round[@]}"
expect_action b keep-reserved 1 30
expect_action b bootstrap 1 30

# circuit_of NS KEY PEER: finds KEY's providers from the Keel node in NS, checks PEER is one of them
# with a /p2p-circuit address, within 5 s, and prints that address.
circuit_of() {
    local where=$1 key=$2 peer=$3 answer ms addr
    answer=$(api "$where" POST /api/v1/providers/find "{\"key\":\"$key\"}") || fail "providers/find $key failed"
    ms=$(jq -r .elapsed_ms <<<"$answer")
    addr=$(jq -r --arg p "$peer" '.providers[] | select(.peer_id == $p) | .addrs[]
        | select(contains("/p2p-circuit"))' <<<"$answer" | head -1)
    [[ -n "$addr" ]] || fail "no /p2p-circuit address of $peer among the providers of $key: $answer"
    [[ "$addr" == */p2p/"$peer" ]] || addr="$addr/p2p/$peer"
    figure "round${round_no}_keel_finds_${key}_ms=$(printf %.0f "$ms") bound<5000" >&2
    holds "$ms < 5000" || fail "Keel found the provider of $key after $ms ms"
    echo "$addr"
}
# reach_over_circuit NS PEER: the Keel node in NS reaches PEER (over the connection it has, else
# by PEER's addresses from the provider record: only its /p2p-circuit one works through the NAT),
# pings it, and lists it as connected only over a relay (limited).
reach_over_circuit() {
    local where=$1 peer=$2 answer
    answer=$(api "$where" POST "/api/v1/peers/$peer/verify" '{}') || fail "verify $peer failed"
    jq -e '.reachable' <<<"$answer" >/dev/null || fail "Keel could not reach $peer: $answer"
    figure "round${round_no}_keel_reaches_${peer:0:12}_latency_ms=$(jq -r '.latency_ms|floor' <<<"$answer")"
    answer=$(api "$where" GET /api/v1/peers | jq -c --arg p "$peer" '.peers[] | select(.peer_id == $p)')
    jq -e '.connected and .limited' <<<"$answer" >/dev/null ||
        fail "Keel's connection to $peer is not a relayed one: $answer"
}

run_round() {
    round_no=$1
    local fp_a=$((2 * round_no - 1)) fp_k1=$((2 * round_no)) line
    touch "$tmp/go$round_no"
    expect_action b find-providers "$fp_a" 30
    line=$(action_line b find-providers "$fp_a")
    jq -e --arg a "$a_peer" '.providers | index($a)' <<<"$line" >/dev/null ||
        fail "B did not find A: $line"
    figure "round${round_no}_b_finds_a_ms=$(jq -r '.ms|floor' <<<"$line") bound<5000"
    holds "$(jq -r .ms <<<"$line") < 5000" || fail "B found A after $(jq -r .ms <<<"$line") ms"

    expect_action b fetch "$round_no" 180
    line=$(action_line b fetch "$round_no")
    [[ $(jq -r .bytes <<<"$line") == "$file_bytes" ]] || fail "fetched $(jq -r .bytes <<<"$line") bytes"
    [[ $(jq -r .relayed <<<"$line") == true ]] || fail "the file did not come over the circuit: $line"
    figure "round${round_no}_b_fetches_4MiB_from_a_over_circuit_ms=$(jq -r '.ms|floor' <<<"$line") sha256=$(jq -r '.sha256[0:16]' <<<"$line")"

    expect_action b echo-via "$round_no" 180
    line=$(action_line b echo-via "$round_no")
    figure "round${round_no}_b_echoes_4MiB_through_keel_k1_over_circuit_ms=$(jq -r '.ms|floor' <<<"$line")"

    expect_action b find-providers "$fp_k1" 30
    line=$(action_line b find-providers "$fp_k1")
    jq -e --arg k "$k1_peer" '.providers | index($k)' <<<"$line" >/dev/null ||
        fail "B (rust) did not find K1 (Keel): $line"
    figure "round${round_no}_b_finds_keel_k1_ms=$(jq -r '.ms|floor' <<<"$line")"

    circuit_of "${ns}c4" "$key_a" "$a_peer" >/dev/null
    reach_over_circuit "${ns}c4" "$a_peer"
    circuit_of "${ns}c4" "$key_k1" "$k1_peer" >/dev/null
    reach_over_circuit "${ns}c4" "$k1_peer"
    pass "round $round_no: found within 5 s, 4 MiB fetched and echoed over the circuit, Keel reached both"
}
run_round 1

# kill -9 the bootstrap and start it again at once: every client re-reserves by itself.
k1_expiry=$(reservation_expiry "${ns}c3")
k2_expiry=$(reservation_expiry "${ns}c4")
kill -9 "$boot_pid"
wait "$boot_pid" 2>/dev/null || true
forget_pid "$boot_pid"
start_bootstrap
t0=$(now)
# (jq -e would judge only the last line of the file.)
rust_reserved() { jq -c 'select(.event == "reserved" and .n >= 2)' "$tmp/$1.out" | grep -q .; }
declare -A took=()
deadline=$(($(date +%s) + 60))
while ((${#took[@]} < 4)); do
    (($(date +%s) < deadline)) || fail "not every client re-reserved within 60 s: ${!took[*]} did"
    [[ -v took[a] ]] || ! rust_reserved a || took[a]=$(since "$t0")
    [[ -v took[b] ]] || ! rust_reserved b || took[b]=$(since "$t0")
    [[ -v took[k1] ]] || ! reserved_after "${ns}c3" "$k1_expiry" || took[k1]=$(since "$t0")
    [[ -v took[k2] ]] || ! reserved_after "${ns}c4" "$k2_expiry" || took[k2]=$(since "$t0")
    sleep 0.05
done
slowest=0
for c in a b k1 k2; do if holds "${took[$c]} > $slowest"; then slowest=${took[$c]}; fi; done
figure "re_reserved_after_restart_s a=${took[a]} b=${took[b]} k1=${took[k1]} k2=${took[k2]} slowest=$slowest target<10"
run_round 2

rejected=$(cat "$tmp/a.out" "$tmp/b.out" | jq -c 'select(.event == "agent-rejected")')
[[ -z "$rejected" ]] || fail "a Chiral client rejected a peer's agent version: $rejected"
punches=$(cat "$tmp/a.out" "$tmp/b.out" | jq -s -c '[.[] | select(.event == "dcutr")] | {tried: length, ok: map(select(.ok)) | length}')
figure "dcutr_through_symmetric_nat $punches (expected: none succeeds, the data takes the circuit)"
pass "the brief's network behind NAT: found, fetched, survived a kill -9 of its bootstrap"
