#!/usr/bin/env bash
# Runs `systemd-analyze verify` on deploy/approval-broker.service with its
# ExecStart pointed at the broker just built. Fails on any complaint, even
# one systemd only warns about (an unknown key is ignored at run time).
#   verify_unit.sh UNIT_FILE BROKER_BINARY
set -euo pipefail
unit="$1"
broker="$2"
dir="$(mktemp -d)"
trap 'rm -rf "${dir}"' EXIT
sed "s|/usr/local/bin/approval-broker|${broker}|g" "${unit}" \
  >"${dir}/approval-broker.service"
grep -q '^ExecReload=' "${dir}/approval-broker.service" || {
  echo "approval-broker.service: no ExecReload (systemctl reload needs it)" >&2
  exit 1
}
set +e
complaints="$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify \
  "${dir}/approval-broker.service" 2>&1)"
rc=$?
set -e
if ((rc != 0)) || [[ -n "${complaints}" ]]; then
  printf 'systemd-analyze verify (exit %d):\n%s\n' "${rc}" "${complaints}" >&2
  exit 1
fi
echo "approval-broker.service: systemd-analyze verify OK"
