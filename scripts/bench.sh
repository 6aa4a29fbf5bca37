#!/usr/bin/env bash
# Builds the release preset and runs the benchmarks. Figures are recorded in
# docs/performance.md with the date and this machine's ceiling.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh release
seconds="${1:-5}"
build/release/tests/bench/argus-bench-ingest "$seconds"
build/release/tests/bench/argus-bench-block
