#!/usr/bin/env bash
# The systemd units in deploy/systemd: `systemd-analyze verify` passes on all four (copies whose
# ExecStart= points at the keel binary under test and at deploy/keel-health-check, as the installed
# paths need not exist here), and keel-bootstrap.service's `systemd-analyze security` exposure
# score is printed and is at most 2.0 (of 10). Works offline: systemd need not be PID 1.
# Env: KEEL_BINARY (required), KEEL_SOURCE_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/deploy/lib.sh
source "$here/lib.sh"
src=${KEEL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
keel=$(realpath "${KEEL_BINARY:?KEEL_BINARY: the keel binary to test}")
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (apt-get install systemd)"
max_exposure=2.0

# 1. verify
units=$tmp/units
mkdir -p "$units"
cp "$src"/deploy/systemd/* "$units/"
sed -i -e "s|/usr/bin/keel |$keel |g" \
    -e "s|/usr/lib/keel/keel-health-check|$src/deploy/keel-health-check|g" "$units"/*
grep -q "^ExecStart=$keel bootstrap " "$units/keel-bootstrap.service" || fail "ExecStart= not rewritten"
# The alert unit is a template: verify the instance OnFailure= starts.
cp "$units/keel-alert@.service" "$units/keel-alert@keel-bootstrap.service.service"
set +e
out=$(cd "$units" && systemd-analyze verify --man=no "$units/keel-bootstrap.service" \
    "$units/keel-health.service" "$units/keel-health.timer" \
    "$units/keel-alert@keel-bootstrap.service.service" 2>&1)
rc=$?
set -e
# Lines about the host's own units (not ours) are not our concern.
ours=$(grep -E 'keel' <<<"$out" || true)
echo "systemd-analyze verify: exit $rc${out:+; output:}"
[[ -z "$out" ]] || while IFS= read -r l; do echo "  $l"; done <<<"$out"
[[ $rc == 0 && -z "$ours" ]] || fail "systemd-analyze verify reported problems with the keel units"
pass "systemd-analyze verify: keel-bootstrap.service keel-health.service keel-health.timer keel-alert@.service"

# 2. The installed ExecStart= and friends, as the brief spells them.
unit=$src/deploy/systemd/keel-bootstrap.service
# shellcheck disable=SC2016 # $MAINPID and ${STATE_DIRECTORY} are systemd's, literally
for line in 'Type=notify' 'WatchdogSec=30' 'Restart=always' 'RestartSec=1' 'StartLimitBurst=3' \
    'StartLimitIntervalSec=300' 'OnFailure=keel-alert@%n.service' 'KillSignal=SIGTERM' \
    'TimeoutStopSec=10' 'ExecReload=/bin/kill -HUP $MAINPID' 'DynamicUser=yes' \
    'StateDirectory=keel' 'LimitNOFILE=65536' 'UMask=0077' 'CapabilityBoundingSet=' \
    'ExecStart=/usr/bin/keel bootstrap --config /etc/keel/keel.toml --data-dir ${STATE_DIRECTORY}'; do
    grep -qxF "$line" "$unit" || fail "keel-bootstrap.service lacks '$line'"
done
# (verify does not check that an OnFailure= unit exists)
for u in keel-bootstrap.service keel-health.service; do
    grep -qxF 'OnFailure=keel-alert@%n.service' "$src/deploy/systemd/$u" || fail "$u: no OnFailure= alert"
done
grep -qxF 'ExecStart=/usr/lib/keel/keel-health-check --alert %i' "$src/deploy/systemd/keel-alert@.service" ||
    fail "keel-alert@.service does not run keel-health-check --alert %i"
grep -qxF 'ExecStart=/usr/lib/keel/keel-health-check' "$src/deploy/systemd/keel-health.service" ||
    fail "keel-health.service does not run /usr/lib/keel/keel-health-check"
for line in 'OnBootSec=1min' 'OnUnitActiveSec=1min'; do
    grep -qxF "$line" "$src/deploy/systemd/keel-health.timer" || fail "keel-health.timer lacks '$line'"
done
pass "unit settings"

# 3. Exposure scores (0 = locked down, 10 = unprotected); keel-bootstrap.service must be <= 2.0.
score() {
    (cd "$src/deploy/systemd" && systemd-analyze security --offline=true --no-pager "$1" 2>&1) |
        sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\) .*/\1/p'
}
for u in keel-bootstrap.service keel-health.service keel-alert@.service; do
    s=$(score "$u")
    [[ -n "$s" ]] || fail "no exposure score for $u"
    echo "[figure] systemd-analyze security --offline=true $u: exposure $s"
    if [[ "$u" == keel-bootstrap.service ]]; then
        awk -v s="$s" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' ||
            fail "keel-bootstrap.service exposure $s > $max_exposure"
    fi
done
pass "keel-bootstrap.service exposure <= $max_exposure"
