#!/usr/bin/env bash
# Runs `systemd-analyze verify` on a unit of deploy/ with its ExecStart
# pointed at the binary just built (the unit names /usr/local/bin/<name of
# the binary>). Fails on any complaint, even one systemd only warns about
# (an unknown key is ignored at run time). With "reload", the unit must also
# have an ExecReload (systemctl reload needs it).
#   verify_unit.sh UNIT_FILE BINARY [reload]
set -euo pipefail
unit="$1"
binary="$2"
name="$(basename "${unit}")"
dir="$(mktemp -d)"
trap 'rm -rf "${dir}"' EXIT
sed "s|/usr/local/bin/$(basename "${binary}")|${binary}|g" "${unit}" \
  >"${dir}/${name}"
if [[ "${3:-}" == reload ]] && ! grep -q '^ExecReload=' "${dir}/${name}"; then
  echo "${name}: no ExecReload (systemctl reload needs it)" >&2
  exit 1
fi
set +e
complaints="$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify \
  "${dir}/${name}" 2>&1)"
rc=$?
set -e
if ((rc != 0)) || [[ -n "${complaints}" ]]; then
  printf 'systemd-analyze verify (exit %d):\n%s\n' "${rc}" "${complaints}" >&2
  exit 1
fi
echo "${name}: systemd-analyze verify OK"
