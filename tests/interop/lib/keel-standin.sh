#!/bin/sh
# Stand-in for the keel binary, for checking this harness without Keel:
#   KEEL_BINARY=tests/interop/lib/keel-standin.sh ./run-node.sh --test js-dials-keel.test.mjs
# It is js-node.mjs (js-libp2p) behind Keel's CLI contract, with an agentVersion starting "keel/";
# `keel-standin.sh p2pd FLAGS` is js-p2pd.mjs (js-libp2p behind the daemon control protocol).
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1-}" = p2pd ]; then
  shift
  exec "$here/../run-node.sh" "$here/../js-p2pd.mjs" "$@"
fi
exec "$here/../run-node.sh" "$here/../js-node.mjs" "$@" --agent "keel/0.0.0-js-standin"
