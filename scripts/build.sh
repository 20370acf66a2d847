#!/usr/bin/env bash
# Configures and builds the broker and its tests with CMake.
#   BUILD_DIR      build directory (default: build, relative to the repo root)
#   JOBS           parallel build jobs (default: 2)
#   BUILD_TARGETS  space-separated CMake targets to build (default: all)
# Extra arguments are passed to the CMake configure step (e.g. -DFOO=ON).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

cd "${AB_REPO_ROOT}"
command -v cmake >/dev/null 2>&1 ||
  ab_die "cmake not found: run scripts/install-deps.sh first"

build_dir="$(ab_build_dir)"
jobs="${JOBS:-2}"

# Ninja for a new build directory: it compiles a library's users while the
# library's last file still compiles, where make leaves a core idle (a
# directory made earlier keeps its generator: CMake cannot switch it).
generator=()
if [[ ! -f "${build_dir}/CMakeCache.txt" ]] && command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi
ab_log "configuring in ${build_dir}"
cmake -S . -B "${build_dir}" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
read -r -a targets <<<"${BUILD_TARGETS:-}"
ab_log "building ${targets[*]:-everything} with ${jobs} jobs"
cmake --build "${build_dir}" -j "${jobs}" ${targets[@]:+--target "${targets[@]}"}
