#!/usr/bin/env bash
# Runs `systemd-analyze verify` on deploy/approval-chat.service with its
# ExecStart pointed at the approval-chat just built; fails on any complaint.
#   verify_chat_unit.sh UNIT_FILE BINARY
set -euo pipefail
dir="$(mktemp -d)"
trap 'rm -rf "${dir}"' EXIT
sed "s|/usr/local/bin/approval-chat|$2|g" "$1" >"${dir}/approval-chat.service"
set +e
complaints="$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify \
  "${dir}/approval-chat.service" 2>&1)"
rc=$?
set -e
if ((rc != 0)) || [[ -n "${complaints}" ]]; then
  printf 'systemd-analyze verify (exit %d):\n%s\n' "${rc}" "${complaints}" >&2
  exit 1
fi
echo "approval-chat.service: systemd-analyze verify OK"
