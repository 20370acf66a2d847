#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang-14 (coverage, ASan and
# UBSan; warnings are errors) and runs each for a bounded time on its
# committed seed corpus. New inputs go to a scratch directory, so
# fuzz/corpus/ is never modified.
# Exits non-zero when a target crashes, leaks, times out or breaks one of
# its invariants; the input that did it is kept in
# <FUZZ_BUILD_DIR>/fuzz-artifacts/.
#
#   scripts/fuzz.sh                 every target (one per fuzz/corpus/<name>)
#   scripts/fuzz.sh jwt_fuzzer ...  only these
#
#   FUZZ_SECONDS    time per target (default: 5)
#   FUZZ_BUILD_DIR  build directory (default: build-fuzz)
#   JOBS            build jobs and targets run at once (default: 2)
#
# The last line is "fuzz: N passed, N failed".
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

cd "${AB_REPO_ROOT}"
seconds="${FUZZ_SECONDS:-5}"
jobs="${JOBS:-2}"
build_dir="${FUZZ_BUILD_DIR:-build-fuzz}"
[[ "${build_dir}" == /* ]] || build_dir="${AB_REPO_ROOT}/${build_dir}"
command -v clang++-14 >/dev/null 2>&1 ||
  ab_die "clang++-14 not found: run scripts/install-deps.sh first"

if (($# > 0)); then
  targets=("$@")
else
  targets=()
  for dir in fuzz/corpus/*/; do targets+=("$(basename "${dir}")"); done
fi

ab_log "configuring fuzz targets in ${build_dir}"
# -O0 -g1: a quarter quicker to compile than -O1 (the short CI runs fuzz
# seconds, not minutes), and line tables to read a crash's stack.
# Ninja for a new build directory, as scripts/build.sh does.
generator=()
if [[ ! -f "${build_dir}/CMakeCache.txt" ]] && command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi
CC=clang-14 CXX=clang++-14 cmake -S . -B "${build_dir}" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPPROVAL_FUZZ=ON -DAPPROVAL_WERROR=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O0 -g1 -DNDEBUG" >/dev/null
ab_log "building ${#targets[@]} fuzz targets with ${jobs} jobs"
cmake --build "${build_dir}" -j "${jobs}" --target "${targets[@]}"

artifacts="${build_dir}/fuzz-artifacts"
logs="${build_dir}/fuzz-logs"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/approval-fuzz-XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT
mkdir -p "${artifacts}" "${logs}"

# Runs one target; its exit status is libFuzzer's (0: nothing found).
run_target() {
  local name="$1"
  mkdir -p "${scratch}/${name}"
  # -timeout: one input running longer is a hang; -rss_limit_mb: one
  # input using more is a memory blow-up. Both count as failures.
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "${build_dir}/fuzz/${name}" -max_total_time="${seconds}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="${artifacts}/${name}-" \
    "${scratch}/${name}" "fuzz/corpus/${name}" >"${logs}/${name}.log" 2>&1
}

ab_log "fuzzing ${#targets[@]} targets for ${seconds}s each, ${jobs} at a time"
declare -A pid_of=()
for name in "${targets[@]}"; do
  [[ -d "fuzz/corpus/${name}" ]] || ab_die "no seed corpus fuzz/corpus/${name}"
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_target "${name}" &
  pid_of[${name}]=$!
done

passed=0
failed=0
for name in "${targets[@]}"; do
  if wait "${pid_of[${name}]}"; then
    runs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' \
      "${logs}/${name}.log" | tail -n 1)"
    printf 'fuzz %-20s ok, %s inputs in %ss\n' "${name}" "${runs:-?}" "${seconds}"
    passed=$((passed + 1))
  else
    printf 'fuzz %-20s FAILED (log: %s)\n' "${name}" "${logs}/${name}.log"
    # Best effort (|| true): no match, or head closing the pipe early, must
    # not end the script (set -e, pipefail) before the summary.
    grep -E 'invariant failed|^  [^ #]|ERROR: |runtime error|SUMMARY' \
      "${logs}/${name}.log" | head -n 8 | sed 's/^/    /' || true
    grep -E '^artifact_prefix|Test unit written to' "${logs}/${name}.log" |
      sed 's/^/    /' || true
    failed=$((failed + 1))
  fi
done
echo "fuzz: ${passed} passed, ${failed} failed"
((failed == 0))
