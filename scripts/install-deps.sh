#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, test and run the broker.
# A no-op (no apt-get at all) when everything is already installed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

# The one list of system packages this project needs.
readonly PACKAGES=(
  build-essential
  cmake
  # New build directories use Ninja (scripts/build.sh): it keeps both cores
  # busy where make waits for a library to finish before its users compile.
  ninja-build
  pkg-config
  libgrpc++-dev
  protobuf-compiler-grpc
  libprotobuf-dev
  protobuf-compiler
  libabsl-dev
  libpqxx-dev
  prometheus-cpp-dev
  libcivetweb-dev
  catch2
  libssl-dev
  libcurl4-openssl-dev
  nlohmann-json3-dev
  postgresql
  postgresql-client
  openssl
  ca-certificates
  # tests/deploy: promtool checks and unit-tests deploy/prometheus, and a
  # prometheus of the test's own (loopback, own port and storage) scrapes a
  # broker. Installing the package may enable or start Debian's own
  # prometheus service (port 9090) and node exporter; no test uses them.
  prometheus
  python3
  python3-yaml
  # tests/domain (token interop): an independent JOSE implementation
  # (PyJWT with EdDSA through cryptography) verifies approval tokens.
  python3-jwt
  python3-cryptography
  # tests/deploy: systemd-analyze verify on deploy/approval-broker.service.
  systemd
  # cpack's Debian packages (deploy/debian/): dpkg-shlibdeps and file find
  # their dependencies; tests/deploy/package_test.sh installs them (adduser
  # in the postinst) and reads the broker's metrics with curl.
  dpkg-dev
  file
  adduser
  curl
  # scripts/fuzz.sh: clang with libFuzzer and the sanitizer runtimes, and
  # llvm-symbolizer for readable stack traces.
  clang-14
  libclang-rt-14-dev
  llvm-14
  # scripts/check-format.sh
  clang-format-14
)

is_installed() {
  local status
  status="$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" || return 1
  [[ "${status}" == installed ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "${pkg}" || missing+=("${pkg}")
done

if ((${#missing[@]} == 0)); then
  ab_log "system packages: all ${#PACKAGES[@]} installed"
  exit 0
fi

ab_log "installing missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
ab_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
ab_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}"
