#!/usr/bin/env bash
# The README's main command. The end-to-end breach drill (tower + chain
# simulator + client node) is issue #5 and does not exist yet; until it does,
# this installs, builds and runs each binary's --version and --help.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh release
for binary in build/release/server/argus-tower build/release/client/argus-client; do
  echo "== $(basename "$binary") =="
  "$binary" --version
  "$binary" --help
done
echo
echo "The breach drill is not built yet (see docs/architecture.md for what exists)."
