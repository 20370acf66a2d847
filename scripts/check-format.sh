#!/usr/bin/env bash
# Checks that every tracked C++ file is formatted as .clang-format says
# (clang-format-14, the version Debian 12 ships). Changes nothing.
#
#   scripts/check-format.sh            every tracked .h/.cc file
#   scripts/check-format.sh FILE ...   only these
#
# Exits non-zero and names each file that differs (with clang-format's
# diagnostics); fix them with `clang-format-14 -i FILE`.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

cd "${AB_REPO_ROOT}"
command -v clang-format-14 >/dev/null 2>&1 ||
  ab_die "clang-format-14 not found: run scripts/install-deps.sh first"

if (($# > 0)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- '*.h' '*.cc')
fi

unformatted=()
for file in "${files[@]}"; do
  if ! clang-format-14 --dry-run --Werror "${file}" 2>/dev/null; then
    unformatted+=("${file}")
  fi
done

if ((${#unformatted[@]} > 0)); then
  printf 'not formatted (clang-format-14 -i FILE fixes it):\n' >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  exit 1
fi
ab_log "format: ${#files[@]} files formatted as .clang-format says"
