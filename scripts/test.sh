#!/usr/bin/env bash
# The README's test command: installs dependencies (Debian 12 packages), builds
# with warnings as errors, runs every test, then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer (clang). Set ARGUS_SKIP_SANITIZERS=1
# to skip the second pass while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs="$(nproc)"

./scripts/build.sh ci
ctest --preset ci -j "$jobs"

if [[ "${ARGUS_SKIP_SANITIZERS:-0}" != "1" ]]; then
  echo "== asan+ubsan pass =="
  ./scripts/build.sh asan
  # Sanitizer options, including tests/sanitizers/lsan.supp, come from the preset.
  ctest --preset asan -j "$jobs"
fi
