#!/usr/bin/env bash
# Builds Keel's rust interop test peer (tests/interop/peer-contract.md) twice from one source
# (src/): against rust-libp2p 0.53.2 (v0_53/, the version Chiral pins) and 0.56.x (v0_56/), to
#
#     /var/cache/keel-interop/bin/rust-peer-0.53
#     /var/cache/keel-interop/bin/rust-peer-0.56
#
# Usage: build.sh [0.53] [0.56]      (no argument: both)
#
# Idempotent: each version has its own cargo target directory under the cache (so the two
# lockfiles never invalidate each other's artifacts), cargo's no-op check makes a rebuild with
# nothing changed take about a second, and a binary is only replaced when it changed. The
# committed Cargo.lock of each directory is used as is (--locked); crates come from crates.io.
#
# Environment: KEEL_INTEROP_CACHE (default /var/cache/keel-interop), CARGO (default: cargo on
# PATH), KEEL_BUILD_JOBS (cargo -j; default: cargo decides). A cold build of one version takes
# a few minutes on 2 cores.
set -euo pipefail

die() {
    echo "tests/interop/rust/build.sh: error: $*" >&2
    exit 1
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KEEL_INTEROP_CACHE:-/var/cache/keel-interop}"
cargo_bin="${CARGO:-cargo}"

command -v "$cargo_bin" >/dev/null 2>&1 ||
    die "no Rust toolchain ('$cargo_bin' not on PATH): install cargo and rustc (Rust >= 1.83)"
rustc_version="$(rustc --version 2>/dev/null)" || die "'rustc --version' failed: is the Rust toolchain installed?"

versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(0.53 0.56)

jobs=()
if [[ -n "${KEEL_BUILD_JOBS:-}" ]]; then
    [[ "$KEEL_BUILD_JOBS" =~ ^[1-9][0-9]*$ ]] || die "KEEL_BUILD_JOBS must be a positive integer, not '$KEEL_BUILD_JOBS'"
    jobs=(-j "$KEEL_BUILD_JOBS")
fi

mkdir -p "$cache/bin" || die "cannot create $cache/bin (permissions?)"

for v in "${versions[@]}"; do
    case "$v" in
        0.53 | 0.56) ;;
        *) die "unknown version '$v' (0.53 or 0.56)" ;;
    esac
    dir="$here/v${v/./_}"
    target="$cache/cargo-target-$v"
    out="$cache/bin/rust-peer-$v"
    [[ -f "$dir/Cargo.toml" && -f "$dir/Cargo.lock" ]] || die "$dir/Cargo.toml or Cargo.lock is missing"

    start=$(date +%s)
    if ! CARGO_TARGET_DIR="$target" "$cargo_bin" build --release --locked "${jobs[@]}" \
        --manifest-path "$dir/Cargo.toml"; then
        die "cargo build of rust-peer $v failed in $dir (target dir $target; $rustc_version). With --locked, a Cargo.toml change that needs a new Cargo.lock fails here: run 'cargo generate-lockfile' (or 'cargo update -p CRATE') in $dir and commit Cargo.lock"
    fi
    built="$target/release/rust-peer"
    [[ -x "$built" ]] || die "cargo build of rust-peer $v produced no binary at $built"

    # Replace the binary only if it changed (keeps its mtime when nothing did).
    if [[ -x "$out" ]] && cmp -s "$built" "$out"; then
        :
    else
        tmp="$out.tmp.$$"
        cp -f "$built" "$tmp" || die "cannot copy $built to $tmp"
        mv -f "$tmp" "$out" || die "cannot move $tmp to $out"
    fi
    echo "tests/interop/rust/build.sh: $out ready ($(($(date +%s) - start)) s, $rustc_version)"
done
