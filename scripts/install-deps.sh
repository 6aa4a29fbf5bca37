#!/usr/bin/env bash
# Installs every build and test dependency of Argus from Debian 12 packages.
# Non-interactive and idempotent: packages already present are skipped by apt.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git openssl
  clang lld libclang-rt-14-dev clang-format clang-tidy
  libsecp256k1-dev libssl-dev
  libboost-dev libboost-system-dev
  libpqxx-dev libpq-dev postgresql
  libzmq3-dev cppzmq-dev
  prometheus-cpp-dev
  doctest-dev
  libsqlite3-dev
  nlohmann-json3-dev libsodium-dev libcli11-dev
  prometheus prometheus-alertmanager
  python3-electrum
  patroni etcd-server etcd-client
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
