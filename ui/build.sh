#!/bin/sh
# Builds Keel's network page into ui/dist, which the daemon serves (`keel up` finds it;
# `keel node --ui-dir ui/dist`). Installs ui/'s npm packages first, exactly as package-lock.json
# says (Svelte, Vite, and Node 22 from the npm package "node", so the build does not depend on the
# machine's Node.js). Idempotent: npm ci is skipped when node_modules was installed from the same
# lock file, the build when ui/dist was built from the same sources. Runs from any directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

"$here/../scripts/npm-ci-once" "$here" ui

# Vite needs Node >= 20.19: the npm package's Node 22, else the machine's if it is recent enough.
node=node_modules/.bin/node
if ! "$node" -e 'process.exit(0)' 2>/dev/null; then node=node; fi
if ! "$node" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; then
  echo "ui: no Node >= 20.19 to run Vite (node_modules/.bin/node is missing: rerun after rm -rf $here/node_modules)" >&2
  exit 1
fi

built=node_modules/.keel-build-hash
sources=$( (cat package-lock.json index.html vite.config.js svelte.config.js; find src -type f | LC_ALL=C sort | xargs cat) | sha256sum | cut -d' ' -f1)
if [ -f dist/index.html ] && [ -f "$built" ] && [ "$(cat "$built")" = "$sources" ]; then
  echo "ui: dist up to date with the sources, build skipped"
  exit 0
fi
rm -f "$built"
"$node" node_modules/vite/bin/vite.js build --logLevel warn
echo "$sources" >"$built"
echo "ui: built $here/dist"
