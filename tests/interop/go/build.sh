#!/usr/bin/env bash
# Builds Keel's go interop test peer (go-libp2p v0.52.0, go-libp2p-kad-dht v0.42.2; see
# tests/interop/peer-contract.md) to /var/cache/keel-interop/bin/go-peer.
#
# Idempotent: go's build cache makes a rebuild with nothing changed take a second or two, and
# the binary is only replaced when the build succeeded. go.mod/go.sum are used as committed
# (-mod=readonly): modules come from the Go module proxy into the module cache below.
#
# Environment: KEEL_INTEROP_CACHE (default /var/cache/keel-interop), GO (default: go on PATH),
# KEEL_INTEROP_GO_PARALLEL (go build -p, default 1: the machines have 2 shared cores).
set -euo pipefail

die() {
    echo "tests/interop/go/build.sh: error: $*" >&2
    exit 1
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KEEL_INTEROP_CACHE:-/var/cache/keel-interop}"
go_bin="${GO:-go}"
out="$cache/bin/go-peer"

command -v "$go_bin" >/dev/null 2>&1 || die "no Go toolchain ('$go_bin' not on PATH); go.mod needs Go >= 1.26.0"

go_version="$("$go_bin" env GOVERSION 2>/dev/null)" || die "'$go_bin env GOVERSION' failed"
# go.mod says "go 1.26.0" (go-libp2p v0.52.0 requires it).
case "$go_version" in
    go1.2[6-9]* | go1.[3-9][0-9]* | go[2-9]*) ;;
    *) die "Go $go_version is too old: go.mod (go-libp2p v0.52.0) needs Go >= 1.26.0" ;;
esac

mkdir -p "$cache/go-build" "$cache/go-mod" "$cache/bin" || die "cannot create $cache (permissions?)"

export GOCACHE="$cache/go-build"
export GOMODCACHE="$cache/go-mod"
export GOFLAGS="-mod=readonly"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

cd "$here"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

start=$(date +%s)
if ! "$go_bin" build -p "${KEEL_INTEROP_GO_PARALLEL:-1}" -trimpath -buildvcs=false -o "$tmp" . ; then
    die "go build failed in $here (modules: $GOMODCACHE; with -mod=readonly, a go.mod/go.sum that needs an update fails here: run 'go mod tidy' in $here and commit go.mod and go.sum)"
fi
[[ -x "$tmp" ]] || die "go build produced no binary"

# Replace the binary only if it changed (keeps its mtime when nothing did).
if [[ -x "$out" ]] && cmp -s "$tmp" "$out"; then
    rm -f "$tmp"
else
    mv -f "$tmp" "$out"
fi
trap - EXIT
echo "tests/interop/go/build.sh: $out ready ($(($(date +%s) - start)) s, $go_version)"
