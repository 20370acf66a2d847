#!/usr/bin/env bash
# Installs only the approval_client component of build tree $1 into a
# temporary prefix, then configures, builds and runs the example project $2
# out of tree against it, as another team's project would.
#
# Usage: consumer_test.sh <build dir> <example source dir> [compiler flags]
# The flags (e.g. -fsanitize=address,undefined when the library was built
# with them: a sanitized library needs a sanitized program) go to the
# example's compile and link.
set -euo pipefail
build_dir="$1"
example_dir="$2"
flags="${3:-}"
work="$(mktemp -d "${TMPDIR:-/tmp}/approval-consumer-XXXXXX")"
trap 'rm -rf "${work}"' EXIT

cmake --install "${build_dir}" --prefix "${work}/prefix" --component approval_client
# Nothing of the server and no generated protobuf headers in the package.
if [[ -n "$(find "${work}/prefix/include" -name '*.pb.h')" ]] ||
  grep -rq 'server/\|\.pb\.h' "${work}/prefix/include"; then
  echo "FAIL: the installed headers reach into the server or protobuf code" >&2
  exit 1
fi

cmake -S "${example_dir}" -B "${work}/build" -DCMAKE_PREFIX_PATH="${work}/prefix" \
  -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS=${flags}" \
  "-DCMAKE_EXE_LINKER_FLAGS=${flags}" >/dev/null
cmake --build "${work}/build" -j2

# It links and loads: without a token it prints its usage and exits 2.
set +e
out="$(env -u APPROVAL_BROKER_TOKEN "${work}/build/export_agent" 2>&1)"
rc=$?
set -e
echo "${out}"
if [[ ${rc} -ne 2 || "${out}" != *usage:* ]]; then
  echo "FAIL: export_agent exited ${rc}" >&2
  exit 1
fi
echo "OK: export_agent built against ${work}/prefix"
