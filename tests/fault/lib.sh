# shellcheck shell=bash
# Helpers shared by the network-namespace tests (sourced after tests/deploy/lib.sh).

# inside NS CMD...: runs CMD in network namespace NS.
inside() {
    local where=$1
    shift
    ip netns exec "$where" "$@"
}
now() { date +%s.%N; }
# since T0: seconds from T0 to now, 3 decimals. holds EXPR: an awk comparison of numbers.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
holds() { awk "BEGIN { exit !($1) }"; }
# figure TEXT: a measured figure, prefixed with the test's $figure_prefix.
figure() { echo "[figure] ${figure_prefix:?} $*"; }
