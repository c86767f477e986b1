#!/bin/sh
# Installs the interop tests' npm packages (js-libp2p and Node 22 from the npm package "node") into
# tests/interop/node_modules, exactly as package-lock.json says. Idempotent: skips `npm ci` when
# node_modules was installed from the same lock file. Runs from any directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
stamp=node_modules/.keel-lock-hash
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/.bin/node ]; then
  echo "interop: node_modules up to date with package-lock.json ($(node_modules/.bin/node --version)), npm ci skipped"
  exit 0
fi
log=$(mktemp)
if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "interop: npm ci failed in $here" >&2
  exit 1
fi
rm -f "$log"
if ! node_modules/.bin/node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)'; then
  echo "interop: node_modules/.bin/node is not Node >= 22; run-node.sh will fall back to polyfill.mjs" >&2
fi
echo "$want" >"$stamp"
echo "interop: npm ci done in $here ($(node_modules/.bin/node --version 2>/dev/null || echo 'no Node 22'))"
