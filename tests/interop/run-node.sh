#!/bin/sh
# Runs Node for the interop tests: node_modules/.bin/node (Node 22 from the npm package "node"),
# else the system node with polyfill.mjs (Promise.withResolvers, which js-libp2p 3 needs).
# Fails, rather than skips, when tests/interop/install.sh has not been run.
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$here/node_modules/libp2p/package.json" ] || [ ! -f "$here/node_modules/.keel-lock-hash" ]; then
  echo "interop: $here/node_modules is missing or incomplete: run tests/interop/install.sh" >&2
  exit 1
fi
node22="$here/node_modules/.bin/node"
if [ -x "$node22" ] && "$node22" -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' 2>/dev/null; then
  exec "$node22" "$@"
fi
if ! command -v node >/dev/null 2>&1; then
  echo "interop: no usable node: neither $node22 (Node 22) nor a system node; run tests/interop/install.sh" >&2
  exit 1
fi
echo "interop: $node22 unusable, falling back to $(node --version) with polyfill.mjs" >&2
exec node --import "$here/polyfill.mjs" "$@"
