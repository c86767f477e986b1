#!/usr/bin/env bash
# deploy/keel-health-check against real `keel bootstrap` processes on 127.0.0.1: two bootstraps that
# know each other (so FIND_NODE names a peer) and a lone one (degraded). The restart command appends
# to a file, alerts go to a local webhook (alert-receiver.mjs). Checks: healthy -> nothing; degraded
# -> restart only on the 2nd check in a row; frozen (SIGSTOP) or killed -> restart + alert at once;
# 4 failing checks -> 3 restarts and a "start limit reached" alert; plus the edges (service not
# active, no webhook, webhook down, restart failing, no address, --alert).
# Env: KEEL_BINARY (required), KEEL_SOURCE_DIR, KEEL_DEPLOY_CONFIG (the packaged keel.toml).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/deploy/lib.sh
source "$here/lib.sh"
src=${KEEL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
keel=$(realpath "${KEEL_BINARY:?KEEL_BINARY: the keel binary to test}")
check=$src/deploy/keel-health-check
config=${KEEL_DEPLOY_CONFIG:-}
for tool in jq curl flock timeout; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup installs it)"
done
node=$(find_node "$src") || fail "no Node.js for the alert receiver (scripts/setup installs it)"
# The check's settings come only from this test.
while IFS='=' read -r name _; do
    [[ "$name" == KEEL_* && "$name" != KEEL_BINARY && "$name" != KEEL_SOURCE_DIR &&
        "$name" != KEEL_DEPLOY_* ]] && unset "$name"
done < <(env)

# ---- the webhook --------------------------------------------------------------------------------
alerts=$tmp/alerts.jsonl
: >"$alerts"
"$node" "$here/alert-receiver.mjs" "$alerts" "$tmp/receiver.port" 2>"$tmp/receiver.err" &
started_pids+=($!)
wait_for "alert receiver listening" 20 test -s "$tmp/receiver.port"
webhook="http://127.0.0.1:$(cat "$tmp/receiver.port")/alert"

# ---- bootstraps ---------------------------------------------------------------------------------
# start_bootstrap NAME [FLAGS...]: sets pid[NAME] and addr[NAME] (its first full multiaddr).
declare -A pid addr
start_bootstrap() {
    local name=$1
    shift
    mkdir -p "$tmp/$name"
    local cfg=()
    [[ -n "$config" ]] && cfg=(--config "$config")
    "$keel" bootstrap "${cfg[@]}" --listen /ip4/127.0.0.1/tcp/0 --data-dir "$tmp/$name" --json \
        --log-level warn "$@" >"$tmp/$name/events.jsonl" 2>"$tmp/$name/stderr.log" &
    started_pids+=($!)
    pid[$name]=$!
    wait_for "bootstrap $name listening" 30 grep -q '"event":"listening"' "$tmp/$name/events.jsonl"
    local a
    a=$(grep '"event":"listening"' "$tmp/$name/events.jsonl" | head -n 1 | jq -r '.addrs[0]')
    [[ "$a" == /ip4/127.0.0.1/tcp/*/p2p/* ]] || fail "bootstrap $name: unexpected address '$a'"
    addr[$name]=$a
}
start_bootstrap a
start_bootstrap b --bootstrap "${addr[a]}"
start_bootstrap lone
echo "bootstraps: a=${addr[a]} b=${addr[b]} lone=${addr[lone]}"
wait_for "keel health a: healthy (FIND_NODE names b)" 60 \
    "$keel" health "${addr[a]}" --timeout 5s
wait_for "keel health b: healthy" 60 "$keel" health "${addr[b]}" --timeout 5s

# The listen-addr file `keel bootstrap` writes in its data dir; written here when it does not (yet).
if [[ -s "$tmp/a/listen-addr" ]]; then
    [[ "$(head -n 1 "$tmp/a/listen-addr")" == */p2p/* ]] ||
        fail "a/listen-addr holds '$(head -n 1 "$tmp/a/listen-addr")', not a full multiaddr"
    pass "keel bootstrap wrote $(head -n 1 "$tmp/a/listen-addr") to DATA_DIR/listen-addr"
else
    echo "[note] keel bootstrap did not write DATA_DIR/listen-addr: the test writes it"
    echo "${addr[a]}" >"$tmp/a/listen-addr"
fi

# ---- running a check ----------------------------------------------------------------------------
# run_check CASE [VAR=value...]: one check, state in $tmp/state-CASE, restarts appended to
# $tmp/restarts-CASE; sets rc, log (its stdout) and new_alerts (the alerts it posted).
run_check() {
    local case=$1
    shift
    local before
    before=$(wc -l <"$alerts")
    set +e
    log=$(env KEEL_BIN="$keel" KEEL_ACTIVE_CMD= KEEL_ALERT_WEBHOOK="$webhook" \
        KEEL_RESTART_CMD="echo restart >>$tmp/restarts-$case" \
        KEEL_HEALTH_STATE_DIR="$tmp/state-$case" KEEL_HEALTH_TIMEOUT=2s \
        KEEL_LISTEN_ADDR_FILE="$tmp/none/listen-addr" "$@" "$check" 2>"$tmp/check.err")
    rc=$?
    set -e
    new_alerts=$(tail -n +"$((before + 1))" "$alerts")
    echo "  [$case] rc=$rc $log"
}
restarts() { if [[ -f "$tmp/restarts-$1" ]]; then wc -l <"$tmp/restarts-$1"; else echo 0; fi; }
alert_count() { if [[ -z "$new_alerts" ]]; then echo 0; else wc -l <<<"$new_alerts"; fi; }
expect_log() {  # expect_log CASE key=value...
    local case=$1 kv
    shift
    for kv in "$@"; do
        [[ " $log " == *" $kv "* ]] || fail "$case: log line lacks '$kv': $log"
    done
}
# expect_alert CASE STATE: the last new alert is a well-formed alert in state STATE
expect_alert() {
    local a
    a=$(tail -n 1 <<<"$new_alerts")
    jq -e --arg state "$2" '(.service | type == "string") and (.host | length > 0)
        and .state == $state and (.error | type == "string")
        and (.consecutive_failures | type == "number")
        and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))' <<<"$a" >/dev/null ||
        fail "$1: alert is not a '$2' alert: $a"
}

# 1. Healthy, the address from the listen-addr file: no restart, no alert.
run_check healthy KEEL_LISTEN_ADDR_FILE="$tmp/a/listen-addr"
[[ $rc == 0 ]] || fail "healthy: exit $rc: $(cat "$tmp/check.err")"
expect_log healthy state=healthy action=none consecutive_failures=0 "addr=${addr[a]}"
[[ $(restarts healthy) == 0 && $(alert_count) == 0 ]] || fail "healthy: restarted or alerted"
pass "healthy: no restart, no alert"

# 1b. A wildcard listen address (the packaged config listens on 0.0.0.0) is probed on loopback.
echo "${addr[a]/\/ip4\/127.0.0.1\//\/ip4\/0.0.0.0\/}" >"$tmp/wildcard-addr"
run_check healthy KEEL_LISTEN_ADDR_FILE="$tmp/wildcard-addr"
expect_log wildcard state=healthy action=none "addr=${addr[a]}"
pass "0.0.0.0 in listen-addr is probed as 127.0.0.1"

# 2. Degraded (a lone bootstrap's FIND_NODE names nobody): the 1st check waits, the 2nd restarts.
run_check degraded KEEL_HEALTH_ADDR="${addr[lone]}"
[[ $rc == 0 ]] || fail "degraded: exit $rc"
expect_log degraded state=degraded action=wait consecutive_failures=1
[[ $(restarts degraded) == 0 && $(alert_count) == 0 ]] || fail "degraded: acted on the 1st check"
run_check degraded KEEL_HEALTH_ADDR="${addr[lone]}"
expect_log degraded state=degraded action=restart consecutive_failures=2 restart=ok alert=sent
[[ $(restarts degraded) == 1 && $(alert_count) == 1 ]] || fail "degraded: 2nd check did not restart+alert once"
expect_alert degraded degraded
pass "degraded: restart + alert on the 2nd check in a row (KEEL_DEGRADED_THRESHOLD=2)"

# 3. Frozen (SIGSTOP): down at once -> restart + alert.
kill -STOP "${pid[a]}"
run_check frozen KEEL_HEALTH_ADDR="${addr[a]}"
kill -CONT "${pid[a]}"
[[ $rc == 0 ]] || fail "frozen: exit $rc"
expect_log frozen state=down action=restart consecutive_failures=1 restart=ok alert=sent
[[ $(restarts frozen) == 1 && $(alert_count) == 1 ]] || fail "frozen: not exactly one restart + alert"
expect_alert frozen down
jq -e --arg addr "${addr[a]}" '.addr == $addr and .action == "restart" and .consecutive_failures == 1
    and (.error | length > 0)' <<<"$new_alerts" >/dev/null || fail "frozen: alert fields: $new_alerts"
pass "frozen: restart + alert ($(jq -r .error <<<"$new_alerts"))"

# 3b. Healthy again once it runs: the failure count starts over.
wait_for "a healthy again after SIGCONT" 60 "$keel" health "${addr[a]}" --timeout 5s
run_check frozen KEEL_HEALTH_ADDR="${addr[a]}"
expect_log frozen state=healthy action=none consecutive_failures=0
[[ $(restarts frozen) == 1 && $(alert_count) == 0 ]] || fail "frozen: acted when healthy again"
pass "healthy again: counter reset, no action"

# 4. Killed: down at once -> restart + alert.
kill -KILL "${pid[b]}"
wait "${pid[b]}" 2>/dev/null || true
forget_pid "${pid[b]}"
run_check killed KEEL_HEALTH_ADDR="${addr[b]}"
expect_log killed state=down action=restart restart=ok alert=sent
[[ $(restarts killed) == 1 && $(alert_count) == 1 ]] || fail "killed: not exactly one restart + alert"
expect_alert killed down
pass "killed: restart + alert ($(jq -r .error <<<"$new_alerts"))"

# 5. Start limit: 4 failing checks in a row -> 3 restarts, then "start limit reached" and nothing.
for i in 1 2 3 4; do
    run_check limit KEEL_HEALTH_ADDR="${addr[b]}"
    [[ $rc == 0 ]] || fail "start limit: check $i exit $rc"
    [[ $(alert_count) == 1 ]] || fail "start limit: check $i posted $(alert_count) alerts"
done
[[ $(restarts limit) == 3 ]] || fail "start limit: $(restarts limit) restarts, not 3"
expect_log limit state=down action=start-limit consecutive_failures=4 restarts_in_window=3
jq -e '.action == "start-limit" and (.error | startswith("start limit reached"))
    and .consecutive_failures == 4' <<<"$new_alerts" >/dev/null ||
    fail "start limit: last alert: $new_alerts"
expect_alert limit down
pass "start limit: 4 failing checks -> 3 restarts + a 'start limit reached' alert"

# 6. A service that is not active (stopped by the operator, or restarting) is left alone.
run_check inactive KEEL_HEALTH_ADDR="${addr[b]}" KEEL_ACTIVE_CMD=false
expect_log inactive state=inactive action=skip
[[ $(restarts inactive) == 0 && $(alert_count) == 0 ]] || fail "inactive: acted"
pass "service not active: skipped"

# 7. No webhook: restart, the log line is the only record. Webhook down: restart anyway, exit 0.
run_check nowebhook KEEL_HEALTH_ADDR="${addr[b]}" KEEL_ALERT_WEBHOOK=
expect_log nowebhook state=down action=restart alert=log-only
[[ $(restarts nowebhook) == 1 && $(alert_count) == 0 ]] || fail "no webhook: wrong actions"
run_check webhookdown KEEL_HEALTH_ADDR="${addr[b]}" KEEL_ALERT_WEBHOOK=http://127.0.0.1:9/alert \
    KEEL_ALERT_TIMEOUT=2
[[ $rc == 0 ]] || fail "webhook down: exit $rc"
expect_log webhookdown action=restart alert=failed
[[ $(restarts webhookdown) == 1 ]] || fail "webhook down: no restart"
pass "no webhook: log only; webhook down: still restarts"

# 8. A failing restart command is reported in the log line and the alert.
run_check restartfails KEEL_HEALTH_ADDR="${addr[b]}" KEEL_RESTART_CMD="echo no such unit >&2; false"
[[ "$log" == *'restart="failed (1)"'* ]] || fail "restart failing: $log"
jq -e '.error | contains("restart failed: no such unit")' <<<"$new_alerts" >/dev/null ||
    fail "restart failing: alert: $new_alerts"
pass "failing restart command: reported"

# 9. Cannot check: exit 2 (keel-health.service fails; its OnFailure= alert says so), no action.
run_check noaddr
[[ $rc == 2 ]] || fail "no address: exit $rc, not 2"
expect_log noaddr state=unknown action=none
grep -q "no address" "$tmp/check.err" || fail "no address: stderr: $(cat "$tmp/check.err")"
run_check badaddr KEEL_HEALTH_ADDR=/ip4/127.0.0.1/tcp/4001
[[ $rc == 2 && $(restarts badaddr) == 0 && $(alert_count) == 0 ]] || fail "address without /p2p/: rc $rc"
run_check badsetting KEEL_HEALTH_ADDR="${addr[a]}" KEEL_DEGRADED_THRESHOLD=0
[[ $rc == 2 ]] || fail "KEEL_DEGRADED_THRESHOLD=0: exit $rc"
pass "cannot check (no address, no /p2p/, bad setting): exit 2, no action"

# 10. --alert UNIT (keel-alert@.service, systemd's OnFailure= after the start limit).
before=$(wc -l <"$alerts")
MONITOR_SERVICE_RESULT=start-limit-hit MONITOR_EXIT_CODE=killed MONITOR_EXIT_STATUS=ABRT \
    KEEL_ALERT_WEBHOOK="$webhook" KEEL_HEALTH_STATE_DIR="$tmp/state-limit" \
    "$check" --alert keel-bootstrap.service >"$tmp/alert.log"
new_alerts=$(tail -n +"$((before + 1))" "$alerts")
echo "  [--alert] $(cat "$tmp/alert.log")"
expect_alert --alert failed
jq -e '.service == "keel-bootstrap.service" and .consecutive_failures == 4
    and (.error | startswith("start limit reached: keel-bootstrap.service entered the failed state"))' \
    <<<"$new_alerts" >/dev/null || fail "--alert: $new_alerts"
pass "--alert keel-bootstrap.service: posted"

echo "PASS: keel-health-check"
