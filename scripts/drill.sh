#!/usr/bin/env bash
# The README's main command: the breach drill. Installs dependencies, builds the
# release preset, then runs argus-drill: a chain (argus-chain-sim, or a real
# regtest bitcoind when BITCOIND=/path/to/bitcoind), an Argus tower on SQLite
# and an Argus client node; a channel with many updates and HTLCs, every revoked
# state backed up, a cheating counterparty, and the tower punishing it.
# Extra arguments go to argus-drill (see --help), e.g. --updates 50 --keep.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh release
exec build/release/tests/drill/argus-drill --bin-dir "$PWD/build/release" "$@"
