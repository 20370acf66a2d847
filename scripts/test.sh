#!/usr/bin/env bash
# Sets everything up (system packages, build, a private PostgreSQL cluster)
# and runs every check CI runs, timing each phase:
#   1. clang-format-14 over every tracked C++ file (scripts/check-format.sh);
#   2. the whole CTest suite, built with ASan+UBSan and -Werror (any
#      sanitizer report fails its test, any compiler warning the build);
#   3. every libFuzzer target in fuzz/ for FUZZ_SECONDS on its seed corpus
#      (scripts/fuzz.sh, also -Werror).
# Exits non-zero when the format check, a test or a fuzz target fails.
# Extra arguments go to ctest, e.g. `scripts/test.sh -R postgres -V` (with
# FUZZ_SECONDS=0 to skip fuzzing).
#
#   APPROVAL_BROKER_TEST_PGPORT  port of the test cluster (default: 55433)
#   APPROVAL_BROKER_TEST_PGDATA  its data directory (default: <repo>/.pgdata-test)
#   SANITIZE         1 (default): the suite runs in an ASan+UBSan build;
#                    0: in a plain build
#   BUILD_DIR        test build directory (default: build-sanitize, or
#                    build with SANITIZE=0); the demo keeps build/
#   FUZZ_SECONDS     time per fuzz target (default: 5; 0 skips fuzzing)
#   SANITIZE_DEBUG   debug-info flag of the sanitizer build (default: -g0)
#   FUZZ_BUILD_DIR   fuzz build directory (default: build-fuzz)
#   JOBS             parallel build jobs and fuzz targets (default: 2)
#   CTEST_JOBS       tests run at once (default: twice JOBS)
#
# The tests get a cluster of their own, apart from the demo's (.pgdata, port
# 55432), because they stop and start it to simulate a database outage and
# this script stops it when it ends. The last line is "N passed, N failed",
# counting the format check, CTest tests and fuzz targets.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

cd "${AB_REPO_ROOT}"
declare -a phase_names=() phase_seconds=()
phase_start=${SECONDS}
# Records the time since the previous phase ended under the name $1.
end_phase() {
  phase_names+=("$1")
  phase_seconds+=($((SECONDS - phase_start)))
  phase_start=${SECONDS}
}
print_phases() {
  local i
  for i in "${!phase_names[@]}"; do
    printf 'phase %-28s %4ds\n' "${phase_names[i]}" "${phase_seconds[i]}"
  done
}

scripts/install-deps.sh
end_phase "install packages"

# Counted like one test; a failure here still runs everything else.
format_rc=0
scripts/check-format.sh || format_rc=$?
end_phase "format (clang-format-14)"

sanitize="${SANITIZE:-1}"
if [[ "${sanitize}" == 1 ]]; then
  export BUILD_DIR="${BUILD_DIR:-build-sanitize}"
  # -Og: compiles in half the time of -O1 for our JSON-heavy files (a
  # quarter less for a test file) and still runs the suite as fast, which
  # keeps CI inside its 20 minutes on 2 cores. No debug info by default
  # (-g0 saves ~7% more): reports name functions, not lines;
  # SANITIZE_DEBUG=-g1 adds line tables. The benchmarks are not run here:
  # left out to save build time.
  scripts/build.sh -DAPPROVAL_SANITIZE=ON -DAPPROVAL_WERROR=ON \
    -DAPPROVAL_BUILD_BENCH=OFF \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-Og ${SANITIZE_DEBUG:--g0} -DNDEBUG"
  # Any ASan or UBSan report aborts the process, which fails its test.
  # LeakSanitizer too: tests/lsan.supp lists the one-time allocations of
  # gRPC, protobuf and OpenSSL globals it may not free at exit.
  export ASAN_OPTIONS="detect_leaks=1"
  export LSAN_OPTIONS="suppressions=${AB_REPO_ROOT}/tests/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  end_phase "build (ASan+UBSan)"
else
  scripts/build.sh -DAPPROVAL_SANITIZE=OFF -DAPPROVAL_WERROR=ON
  end_phase "build"
fi

export APPROVAL_BROKER_PGPORT="${APPROVAL_BROKER_TEST_PGPORT:-55433}"
export APPROVAL_BROKER_PGDATA="${APPROVAL_BROKER_TEST_PGDATA:-${AB_REPO_ROOT}/.pgdata-test}"

# shellcheck disable=SC2317  # reached through the EXIT trap
stop_cluster() {
  local rc=$?
  "${AB_REPO_ROOT}/scripts/pg.sh" stop || true
  exit "${rc}"
}
trap stop_cluster EXIT
scripts/pg.sh start
end_phase "start PostgreSQL"

APPROVAL_BROKER_TEST_DATABASE_URL="$(scripts/pg.sh url)"
export APPROVAL_BROKER_TEST_DATABASE_URL
# Tests run `$APPROVAL_BROKER_TEST_PGCTL stop|start` to take the database away.
export APPROVAL_BROKER_TEST_PGCTL="${AB_REPO_ROOT}/scripts/pg.sh"

build_dir="$(ab_build_dir)"
log="${build_dir}/ctest-output.log"
ab_log "running tests (database ${APPROVAL_BROKER_TEST_DATABASE_URL})"
set +e
# Twice as many tests as cores: most of a test's time is spent waiting
# (PostgreSQL, child processes, streams), so -j4 on 2 cores takes ~2/3 of
# the time of -j2.
ctest --test-dir "${build_dir}" --output-on-failure --no-tests=error \
  -j "${CTEST_JOBS:-$((2 * ${JOBS:-2}))}" --timeout 300 "$@" 2>&1 | tee "${log}"
rc=${PIPESTATUS[0]}
set -e
end_phase "tests (ctest)"

# "95% tests passed, 1 tests failed out of 20" -> 19 passed, 1 failed.
passed=0
failed=0
summary="$(sed -nE 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1 \2/p' "${log}" | tail -n 1)"
if [[ -n "${summary}" ]]; then
  read -r failed total <<<"${summary}"
  passed=$((total - failed))
fi
echo "tests: ${passed} passed, ${failed} failed"
if ((format_rc == 0)); then
  passed=$((passed + 1))
else
  echo "format: FAILED (scripts/check-format.sh names the files)"
  failed=$((failed + 1))
  ((rc != 0)) || rc=${format_rc}
fi

if [[ "${FUZZ_SECONDS:-5}" != 0 ]]; then
  fuzz_log="$(mktemp "${TMPDIR:-/tmp}/approval-fuzz-log-XXXXXX")"
  set +e
  scripts/fuzz.sh 2>&1 | tee "${fuzz_log}"
  fuzz_rc=${PIPESTATUS[0]}
  set -e
  end_phase "fuzz (build + run)"
  fuzz_summary="$(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "${fuzz_log}" | tail -n 1)"
  rm -f "${fuzz_log}"
  if [[ -n "${fuzz_summary}" ]]; then
    read -r fuzz_passed fuzz_failed <<<"${fuzz_summary}"
    passed=$((passed + fuzz_passed))
    failed=$((failed + fuzz_failed))
  fi
  # A fuzz build that failed counts as one failure.
  if ((fuzz_rc != 0)); then
    [[ -n "${fuzz_summary}" ]] || failed=$((failed + 1))
    ((rc != 0)) || rc=${fuzz_rc}
  fi
fi

print_phases
echo "${passed} passed, ${failed} failed"
exit "${rc}"
