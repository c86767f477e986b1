#!/usr/bin/env bash
# Builds the .deb with CPack from a configured and built build dir and checks it: the files
# (dpkg-deb -c), the control fields and computed Depends (dpkg-deb -I), the conffiles, the packaged
# keel.toml (the example with a bootstrap's listen and api), and that the packaged keel runs a
# bootstrap from the packaged config.
# Env: KEEL_BUILD_DIR (required), KEEL_VERSION (required), KEEL_SOURCE_DIR,
#      KEEL_DEB_OUTDIR (keep the package there; default a temporary dir).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/deploy/lib.sh
source "$here/lib.sh"
src=${KEEL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=${KEEL_BUILD_DIR:?KEEL_BUILD_DIR: a configured and built build dir}
version=${KEEL_VERSION:?KEEL_VERSION: the project version}
out=${KEEL_DEB_OUTDIR:-$tmp/deb}
for tool in cpack dpkg-deb dpkg-shlibdeps jq; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup installs it)"
done

# 1. Build it.
mkdir -p "$out"
rm -f "$out"/keel_*.deb
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out" >"$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log"; fail "cpack -G DEB failed"; }
rm -rf "$out/_CPack_Packages"
debs=("$out"/keel_*.deb)
[[ ${#debs[@]} == 1 && -f "${debs[0]}" ]] || fail "cpack made no single keel_*.deb in $out"
deb=${debs[0]}
arch=$(dpkg --print-architecture)
[[ "$(basename "$deb")" == "keel_${version}_${arch}.deb" ]] || fail "package file name $(basename "$deb")"
echo "[figure] package: $deb ($(du -k "$deb" | cut -f1) KiB)"

# 2. Contents.
dpkg-deb -c "$deb" >"$tmp/contents"
has() {  # has MODE PATH: the package holds PATH with permissions MODE (e.g. -rwxr-xr-x)
    awk -v mode="$1" -v path="./$2" '$1 == mode && $NF == path { found = 1 } END { exit !found }' \
        "$tmp/contents" || fail "the package lacks $1 $2 (dpkg-deb -c):
$(cat "$tmp/contents")"
}
has -rwxr-xr-x usr/bin/keel
has -rwxr-xr-x usr/lib/keel/keel-health-check
for u in keel-bootstrap.service keel-health.service keel-health.timer keel-alert@.service; do
    has -rw-r--r-- "lib/systemd/system/$u"
done
has -rw-r--r-- etc/keel/keel.toml
has -rw------- etc/keel/health-check.env
for d in README.md CHANGELOG.md operations.md configuration.md user-guide.md api.md keel.example.toml; do
    has -rw-r--r-- "usr/share/doc/keel/$d"
done
for g in keel-bootstrap.json keel-node.json; do
    has -rw-r--r-- "usr/share/keel/grafana/$g"
done
if awk '$1 !~ /^d/ && $2 != "root/root" { bad = 1 } END { exit !bad }' "$tmp/contents"; then
    fail "files not owned by root/root"
fi
pass "dpkg-deb -c: /usr/bin/keel, units, /usr/lib/keel/keel-health-check, /etc/keel, docs"

# 3. Control: name, version, computed Depends, conffiles, maintainer scripts.
dpkg-deb -I "$deb" >"$tmp/info"
sed 's/^/  /' "$tmp/info"
[[ "$(dpkg-deb -f "$deb" Package)" == keel ]] || fail "Package is not keel"
[[ "$(dpkg-deb -f "$deb" Version)" == "$version" ]] || fail "Version is not $version"
depends=$(dpkg-deb -f "$deb" Depends)
echo "[figure] Depends: $depends"
for dep in libc6 libstdc++6 libsqlite3-0 libssl3 libsodium23 curl jq; do
    [[ ", $depends," == *", $dep "* || ", $depends," == *", $dep,"* ]] ||
        fail "Depends lacks $dep: $depends"
done
conffiles=$(dpkg-deb -I "$deb" conffiles)
[[ "$conffiles" == $'/etc/keel/keel.toml\n/etc/keel/health-check.env' ]] ||
    fail "conffiles: $conffiles"
for script in postinst prerm postrm; do
    grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$script " "$tmp/info" ||
        fail "no executable $script in the control archive"
done
pass "dpkg-deb -I: keel $version, Depends computed ($depends), conffiles, maintainer scripts"

# 4. The packaged files: units as in deploy/, keel.toml = the example with listen and api changed.
root=$tmp/root
dpkg-deb -x "$deb" "$root"
for u in keel-bootstrap.service keel-health.service keel-health.timer keel-alert@.service; do
    cmp -s "$root/lib/systemd/system/$u" "$src/deploy/systemd/$u" || fail "$u differs from deploy/systemd"
done
cmp -s "$root/usr/lib/keel/keel-health-check" "$src/deploy/keel-health-check" ||
    fail "keel-health-check differs from deploy/"
toml=$root/etc/keel/keel.toml
grep -qx 'listen = \["/ip4/0.0.0.0/tcp/4001"\]' "$toml" || fail "keel.toml: listen is not 0.0.0.0:4001"
grep -qE '^api = "off" ' "$toml" || fail "keel.toml: api is not off"
# Everything from [node] on, but for those two lines, is the example's.
diff <(sed -n '/^\[node\]/,$p' "$src/docs/keel.example.toml" | grep -vE '^(listen|api) = ') \
    <(sed -n '/^\[node\]/,$p' "$toml" | grep -vE '^(listen|api) = ') >"$tmp/toml.diff" ||
    fail "keel.toml drifted from docs/keel.example.toml: $(cat "$tmp/toml.diff")"
pass "packaged files match deploy/ and docs/keel.example.toml"

# 5. The packaged keel runs a bootstrap from the packaged config (flags win over its listen).
"$root/usr/bin/keel" bootstrap --config "$toml" --listen /ip4/127.0.0.1/tcp/0 \
    --data-dir "$tmp/data" --json >"$tmp/events.jsonl" 2>"$tmp/stderr.log" &
pid=$!
started_pids+=("$pid")
wait_for "packaged keel bootstrap listening" 30 grep -q '"event":"listening"' "$tmp/events.jsonl"
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
forget_pid "$pid"
[[ $code == 0 ]] || fail "packaged keel bootstrap exited $code on SIGTERM: $(cat "$tmp/stderr.log")"
pass "packaged keel bootstrap runs with /etc/keel/keel.toml and exits 0 on SIGTERM"
echo "PASS: package $deb"
