#!/usr/bin/env bash
# The library's layers point down only (docs/architecture.md): each folder of src/keel/ may include
# its own headers and those of the folders listed for it here, nothing above. Static libraries
# alone do not refuse an upward #include (every layer sees all of src/), so this check does:
# run as ctest "layering.includes" (label unit), it names each include that points up.
set -euo pipefail
src=$(cd "$(dirname "$0")/../../src/keel" && pwd)

declare -A below=(
    [base]=""
    [multiaddr]="base"
    [crypto]="base multiaddr"
    [noise]="base"
    [store]="base multiaddr crypto"
    [net]="base multiaddr crypto noise"
    [protocols]="base multiaddr crypto noise net"
    [host]="base multiaddr crypto noise net protocols"
    [kad]="base multiaddr crypto noise net protocols host"
    [health]="base multiaddr crypto noise net protocols host kad"
    [relay]="base multiaddr crypto noise net protocols host"
    [http]="base multiaddr crypto net"
    [client]="base multiaddr crypto noise net protocols host kad"
    [load]="base multiaddr crypto noise net protocols host kad client"
    [p2pd]="base multiaddr crypto noise net protocols host kad"
    [app]="base multiaddr crypto noise net protocols host kad health relay store http"
)

bad=0
for dir in "$src"/*/; do
    layer=$(basename "$dir")
    if [[ ! -v below[$layer] ]]; then
        echo "layering: src/keel/$layer/ is not in tests/layering/check-includes.sh: place it" >&2
        bad=1
        continue
    fi
    allowed=" $layer ${below[$layer]} "
    while IFS=: read -r file line target; do
        if [[ "$allowed" != *" $target "* ]]; then
            echo "layering: ${file#"$src"/}:$line includes keel/$target/ (above $layer)" >&2
            bad=1
        fi
    done < <(grep -rnoE '#include "keel/[a-z_0-9]+/' "$dir" | sed -E 's|#include "keel/([a-z_0-9]+)/|\1|')
done
[[ $bad == 0 ]] && echo "layering: every include in src/keel points down"
exit "$bad"
