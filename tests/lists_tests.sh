#!/usr/bin/env bash
# Usage: lists_tests.sh BINARY...
# Fails naming each Catch2 binary that does not start or lists no test
# case: catch_discover_tests would register nothing for it, and its tests
# would silently drop out of CI. Catch2 v2 exits with the number of test
# cases when listing, so the exit status says nothing; a listing that ran to
# its end says "N test cases" last.
set -uo pipefail
(($# > 0)) || {
  echo "no Catch2 binaries given: tests/CMakeLists.txt found none" >&2
  exit 1
}
bad=0
for binary in "$@"; do
  listing="$("${binary}" --list-tests 2>&1)"
  count="$(sed -nE 's/^([0-9]+) test cases?$/\1/p' <<<"${listing}" | tail -n 1)"
  if [[ -z "${count}" ]]; then
    echo "FAIL ${binary}: did not finish listing its tests:" >&2
    tail -n 5 <<<"${listing}" >&2
    bad=1
  elif ((count == 0)); then
    echo "FAIL ${binary}: lists no test" >&2
    bad=1
  else
    echo "ok   ${binary}: ${count} test cases"
  fi
done
exit "${bad}"
