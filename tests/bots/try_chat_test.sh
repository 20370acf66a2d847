#!/usr/bin/env bash
# The README's try-out of approval-chat, run as a new user would, on ports and
# a PostgreSQL cluster of its own: scripts/run-demo.sh (terminal 1),
# scripts/try-chat.sh (terminal 2), the example agent asking (terminal 3),
# then the clicks the try-out prints: mallory (linked to nobody) is refused,
# alice approves in fake Slack, bob in fake Teams; the agent gets APPROVED,
# the Slack message and the Teams card show the outcome without buttons, and
# the approval was posted once on each.
#
# Usage: try_chat_test.sh BUILD_DIR   (the binaries must be built already)
set -euo pipefail

build_dir="$(readlink -f "$1")"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
# shellcheck source=scripts/lib/common.sh
source "${repo}/scripts/lib/common.sh"
work="$(mktemp -d /tmp/try-chat-test.XXXXXX)"
chmod 755 "${work}" # the cluster runs as the postgres user

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  for f in demo chat agent; do
    [[ -f "${work}/${f}.log" ]] || continue
    printf -- '--- %s.log (last 40 lines)\n' "${f}" >&2
    tail -n 40 "${work}/${f}.log" >&2
  done
  [[ -f "${work}/run/chat/approval-chat.log" ]] &&
    { printf -- '--- approval-chat.log\n' >&2; tail -n 20 "${work}/run/chat/approval-chat.log" >&2; }
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_port="$(free_port)"
broker_address="127.0.0.1:$(free_port)"
broker_metrics="127.0.0.1:$(free_port)"
chat_listen="127.0.0.1:$(free_port)"
chat_metrics="127.0.0.1:$(free_port)"
export BUILD_DIR="${build_dir}"
export APPROVAL_BROKER_PREBUILT=1
export APPROVAL_BROKER_PGPORT="${pg_port}"
export APPROVAL_BROKER_PGDATA="${work}/pgdata"
export APPROVAL_BROKER_RUN_DIR="${work}/run"
export APPROVAL_BROKER_LISTEN_ADDRESS="${broker_address}"
export APPROVAL_BROKER_METRICS_ADDRESS="${broker_metrics}"
export APPROVAL_CHAT_LISTEN="${chat_listen}"
export APPROVAL_CHAT_METRICS_ADDRESS="${chat_metrics}"

demo_pid=""
chat_pid=""
agent_pid=""
cleanup() {
  local rc=$?
  [[ -n "${agent_pid}" ]] && kill "${agent_pid}" 2>/dev/null
  # As Ctrl-C would: the whole process group of each script (a script
  # waiting for a foreground child runs its trap only once that child ends).
  for pid in "${chat_pid}" "${demo_pid}"; do
    [[ -n "${pid}" ]] && kill -TERM -- "-${pid}" 2>/dev/null
  done
  wait 2>/dev/null || true
  # run-demo.sh stops its cluster on exit; make sure of it.
  "${repo}/scripts/pg.sh" stop >/dev/null 2>&1 || true
  rm -rf "${work}"
  exit "${rc}"
}
trap cleanup EXIT

# Waits up to $2 seconds until file $1 contains the fixed string $3.
await_text() {
  # shellcheck disable=SC2317  # called through ab_await
  has_text() { [[ -f "$1" ]] && grep -qF -- "$2" "$1"; }
  ab_await "$2" has_text "$1" "$3"
}

# Terminal 1.
setsid "${repo}/scripts/run-demo.sh" >"${work}/demo.log" 2>&1 &
demo_pid=$!
await_text "${work}/demo.log" 180 '"event":"serving"' ||
  fail "the demo broker did not start"
agent_token="$(sed -n 's/^export AGENT_TOKEN=\([0-9a-f]*\).*/\1/p' "${work}/demo.log")"
[[ -n "${agent_token}" ]] || fail "run-demo.sh printed no AGENT_TOKEN"

# Terminal 2.
setsid "${repo}/scripts/try-chat.sh" >"${work}/chat.log" 2>&1 &
chat_pid=$!
await_text "${work}/chat.log" 120 "Ctrl-C stops approval-chat" ||
  fail "try-chat.sh did not get approval-chat serving"
click="$(sed -n 's/^  \(\S*approval-chat-fakes click --dir \S*\) slack alice approve <id>.*/\1/p' "${work}/chat.log")"
[[ -n "${click}" ]] || fail "try-chat.sh printed no click command"

# Terminal 3: the agent asks and waits.
(cd "${work}" &&
  APPROVAL_BROKER_ADDR="${broker_address}" APPROVAL_BROKER_TOKEN="${agent_token}" \
    timeout 120 "${build_dir}/client_lib/examples/export_agent/export_agent" customers) \
  >"${work}/agent.log" 2>&1 &
agent_pid=$!
await_text "${work}/chat.log" 60 "[slack C0APPROVALS] new message" ||
  fail "the approval was not posted to fake Slack"
await_text "${work}/chat.log" 60 "new card" ||
  fail "the approval was not posted to fake Teams"
id="$(sed -n 's/^    approval \([0-9a-f-]*\)$/\1/p' "${work}/chat.log" | head -n 1)"
[[ -n "${id}" ]] || fail "the posted message shows no approval id"

# The clicks, run from the repository root as printed.
cd "${repo}"
if out="$(${click} slack mallory approve "${id}")"; then
  fail "mallory, linked to nobody, was not refused: ${out}"
fi
grep -qi "not linked" <<<"${out}" || fail "mallory's refusal does not say why: ${out}"
out="$(${click} slack alice approve "${id}")" || fail "alice's approve was refused: ${out}"
await_text "${work}/chat.log" 60 "1 more needed" ||
  fail "the message was not updated with alice's review"
out="$(${click} teams bob approve "${id}")" || fail "bob's approve was refused: ${out}"

# The agent ends on the decision (or its own 120 s bound): wait for that.
agent_rc=0
wait "${agent_pid}" || agent_rc=$?
agent_pid=""
((agent_rc == 0)) || fail "the agent exited ${agent_rc}"
grep -q "APPROVED" "${work}/agent.log" || fail "the agent did not print APPROVED"
# The last thing each platform shows: the outcome, without buttons.
last_block() {
  awk -v p="[$1 " 'index($0, p) == 1 { keep = 1; block = $0 "\n"; next }
    /^(\[|==>)/ { keep = 0 } keep { block = block $0 "\n" }
    END { printf "%s", block }' "${work}/chat.log"
}
# shellcheck disable=SC2317  # called through ab_await
shows_outcome() { grep -q "Approved" <<<"$(last_block "$1")"; }
for platform in slack teams; do
  ab_await 60 shows_outcome "${platform}" || true
  block="$(last_block "${platform}")"
  grep -q "Approved" <<<"${block}" ||
    fail "the last ${platform} update does not show the outcome: ${block}"
  if grep -q "\[Approve\]" <<<"${block}"; then
    fail "the last ${platform} update still has buttons: ${block}"
  fi
done

# Posted once on each platform.
posts="$(grep -c '^\[slack C0APPROVALS\] new message' "${work}/chat.log" || true)"
cards="$(grep -c '\] new card' "${work}/chat.log" || true)"
[[ "${posts}" == 1 && "${cards}" == 1 ]] ||
  fail "posted ${posts} Slack messages and ${cards} Teams cards, want 1 and 1"
echo "README try-out: approved through fake Slack and Teams"
