#!/bin/sh
# Installs the interop tests' npm packages (js-libp2p and Node 22 from the npm package "node") into
# tests/interop/node_modules, exactly as package-lock.json says. Idempotent: skips `npm ci` when
# node_modules was installed from the same lock file. Runs from any directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
"$here/../../scripts/npm-ci-once" "$here" interop
if ! node_modules/.bin/node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)'; then
  echo "interop: node_modules/.bin/node is not Node >= 22; run-node.sh will fall back to polyfill.mjs" >&2
fi
