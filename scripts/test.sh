#!/usr/bin/env bash
# Sets everything up (system packages, build, a private PostgreSQL cluster),
# runs every test with CTest and exits with CTest's status. Extra arguments
# go to ctest, e.g. `scripts/test.sh -R postgres -V`.
#
#   APPROVAL_BROKER_TEST_PGPORT  port of the test cluster (default: 55433)
#   APPROVAL_BROKER_TEST_PGDATA  its data directory (default: <repo>/.pgdata-test)
#   BUILD_DIR, JOBS              as for scripts/build.sh (JOBS also for ctest)
#
# The tests get a cluster of their own, apart from the demo's (.pgdata, port
# 55432), because they stop and start it to simulate a database outage and
# this script stops it when it ends.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

cd "${AB_REPO_ROOT}"
scripts/install-deps.sh
scripts/build.sh

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

APPROVAL_BROKER_TEST_DATABASE_URL="$(scripts/pg.sh url)"
export APPROVAL_BROKER_TEST_DATABASE_URL
# Tests run `$APPROVAL_BROKER_TEST_PGCTL stop|start` to take the database away.
export APPROVAL_BROKER_TEST_PGCTL="${AB_REPO_ROOT}/scripts/pg.sh"

build_dir="$(ab_build_dir)"
log="${build_dir}/ctest-output.log"
ab_log "running tests (database ${APPROVAL_BROKER_TEST_DATABASE_URL})"
set +e
ctest --test-dir "${build_dir}" --output-on-failure --no-tests=error \
  -j "${JOBS:-2}" --timeout 300 "$@" 2>&1 | tee "${log}"
rc=${PIPESTATUS[0]}
set -e

# "95% tests passed, 1 tests failed out of 20" -> "19 passed, 1 failed".
summary="$(sed -nE 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1 \2/p' "${log}" | tail -n 1)"
if [[ -n "${summary}" ]]; then
  read -r failed total <<<"${summary}"
  echo "$((total - failed)) passed, ${failed} failed"
fi
exit "${rc}"
