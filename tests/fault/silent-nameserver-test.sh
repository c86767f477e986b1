#!/usr/bin/env bash
# Name lookups against a DNS server that never answers (label fault): runs
# silent_nameserver_test.cpp in a network and mount namespace of its own, where /etc/resolv.conf
# is bind-mounted to name 127.0.0.1 with glibc's default timeouts. Needs root (unshare, mount).
# Usage: silent-nameserver-test.sh (KEEL_SILENT_NAMESERVER_TEST set to the test binary).
set -euo pipefail
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
[[ $(id -u) == 0 ]] || fail "needs root (network and mount namespaces)"
binary=${KEEL_SILENT_NAMESERVER_TEST:?set KEEL_SILENT_NAMESERVER_TEST to the test binary}
conf=$(mktemp)
trap 'rm -f "$conf"' EXIT
printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n' >"$conf"
unshare --net --mount --propagation private bash -c '
    set -e
    ip link set lo up
    mount --bind "$1" /etc/resolv.conf
    exec "$2"' _ "$conf" "$binary"
echo "ok: lookups nobody answers end at their deadline (or as cancelled) and hold up no other lookup"
