# shellcheck shell=bash
# Shared helpers for the scripts in scripts/. Source it; it only defines
# AB_REPO_ROOT and functions, it runs nothing.

# Absolute path of the repository root (this file lives in scripts/lib/).
AB_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
export AB_REPO_ROOT

ab_log() { printf '==> %s\n' "$*" >&2; }
ab_warn() { printf 'warning: %s\n' "$*" >&2; }
ab_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

ab_is_root() { [[ "$(id -u)" -eq 0 ]]; }

# First 12 hex digits of the SHA-256 of $1: short, stable names per path.
ab_short_hash() { printf '%s' "$1" | sha256sum | cut -c1-12; }

# Lower-case hex SHA-256 of the string $1 (no trailing newline hashed).
ab_sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# Runs "$@" as root: directly, through sudo, or fails saying why.
ab_as_root() {
  if ab_is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    ab_die "need root to run: $* (run this script as root or install sudo)"
  fi
}

# The build directory (BUILD_DIR overrides; relative to the repo root).
ab_build_dir() {
  local dir="${BUILD_DIR:-build}"
  [[ "${dir}" == /* ]] || dir="${AB_REPO_ROOT}/${dir}"
  printf '%s\n' "${dir}"
}

# Escapes $1 for use inside a JSON string literal.
ab_json_escape() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '%s' "${s}"
}

# Installs the Debian packages that are missing and builds the CMake targets
# $1 (space-separated), unless APPROVAL_BROKER_PREBUILT=1: then the binaries
# already in the build directory are used as they are (the tests run the
# scripts that way).
ab_install_and_build() {
  [[ "${APPROVAL_BROKER_PREBUILT:-}" == 1 ]] && return 0
  "${AB_REPO_ROOT}/scripts/install-deps.sh"
  BUILD_TARGETS="$1" "${AB_REPO_ROOT}/scripts/build.sh"
}

# Runs "$@" until it succeeds, for at most $1 seconds; fails after that.
# For what another process writes to a file, which gives bash no event to
# wait on: it polls every 0.1 s, always with a deadline.
ab_await() {
  local seconds="$1"
  shift
  for _ in $(seq $((seconds * 10))); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
