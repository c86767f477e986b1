# shellcheck shell=bash
# Helpers for the deploy tests (sourced). Processes a test starts are recorded in started_pids and
# ended by cleanup (by PID only); every wait polls a condition against a deadline.

started_pids=()
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keel-deploy.XXXXXX")

cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${started_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ "${KEEL_DEPLOY_KEEP_TMP:-0}" == 1 ]]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

# forget_pid PID: a process the test already reaped; cleanup must not signal its (reusable) PID.
forget_pid() {
    local p kept=()
    for p in "${started_pids[@]}"; do [[ "$p" == "$1" ]] || kept+=("$p"); done
    started_pids=("${kept[@]}")
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
pass() { echo "ok: $*"; }

# wait_for DESCRIPTION SECONDS COMMAND...: runs COMMAND until it succeeds, failing after SECONDS.
wait_for() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$(($(date +%s%N) + seconds * 1000000000))
    until "$@" >/dev/null 2>&1; do
        (($(date +%s%N) < deadline)) || fail "$what: not within ${seconds}s"
        sleep 0.05
    done
}

# find_node: prints a Node.js binary (the system's, else the one tests/interop/install.sh fetched).
find_node() {
    local src=$1
    if command -v node >/dev/null 2>&1; then
        command -v node
    elif [[ -x "$src/tests/interop/node_modules/.bin/node" ]]; then
        echo "$src/tests/interop/node_modules/.bin/node"
    else
        return 1
    fi
}
