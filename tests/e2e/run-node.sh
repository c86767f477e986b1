#!/bin/sh
# Runs Node for the end-to-end tests: node_modules/.bin/node (Node 22 from the npm package "node"),
# else the machine's node if it is >= 22. Fails, rather than skips, when tests/e2e/install.sh has
# not been run.
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$here/node_modules/playwright-core/package.json" ] || [ ! -f "$here/node_modules/.keel-lock-hash" ]; then
  echo "e2e: $here/node_modules is missing or incomplete: run tests/e2e/install.sh" >&2
  exit 1
fi
is22='process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)'
for node in "$here/node_modules/.bin/node" node; do
  if "$node" -e "$is22" 2>/dev/null; then exec "$node" "$@"; fi
done
echo "e2e: no Node >= 22 (neither $here/node_modules/.bin/node nor the machine's): run tests/e2e/install.sh" >&2
exit 1
