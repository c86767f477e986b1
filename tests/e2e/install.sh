#!/bin/sh
# Installs what the web UI's end-to-end tests need: Debian's Chromium (apt, when missing; never a
# browser download) and the npm packages of package-lock.json (playwright-core, and Node 22 from
# the npm package "node") into tests/e2e/node_modules. Idempotent: skips apt when chromium is
# installed, and `npm ci` when node_modules was installed from the same lock file.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  echo "e2e: installing Debian's chromium"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi
"$here/../../scripts/npm-ci-once" "$here" e2e
