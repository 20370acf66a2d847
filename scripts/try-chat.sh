#!/usr/bin/env bash
# Runs approval-chat next to the demo broker, against a fake Slack and a fake
# Microsoft Teams on loopback (approval-chat-fakes, the fakes of the tests as
# a program). Start scripts/run-demo.sh in a first terminal, then this in a
# second one. It builds approval-chat and the fakes, creates approval-chat's
# schema and login role in the demo's PostgreSQL, starts the fakes (every
# message they get posted or updated shows in this terminal), writes
# <run dir>/chat/chat.jsonc, starts approval-chat as the demo's relays
# slack-bot and teams-bot (its log: <run dir>/chat/approval-chat.log) and
# prints how to click. Ctrl-C stops both; the demo keeps running.
#
#   APPROVAL_BROKER_PGPORT, APPROVAL_BROKER_RUN_DIR,
#   APPROVAL_BROKER_PREBUILT, BUILD_DIR, JOBS   as for scripts/run-demo.sh
#   APPROVAL_CHAT_LISTEN            approval-chat's HTTP address, where the
#                                   platforms send clicks
#                                   (default: 127.0.0.1:8080)
#   APPROVAL_CHAT_METRICS_ADDRESS   its /metrics (default: 127.0.0.1:9465)
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

cd "${AB_REPO_ROOT}"
ab_install_and_build "approval-chat approval-chat-fakes"
export APPROVAL_BROKER_PGPORT="${APPROVAL_BROKER_PGPORT:-55432}"
listen="${APPROVAL_CHAT_LISTEN:-127.0.0.1:8080}"
metrics="${APPROVAL_CHAT_METRICS_ADDRESS:-127.0.0.1:9465}"
[[ "${listen}" =~ ^127\.0\.0\.1:([1-9][0-9]{0,4})$ ]] ||
  ab_die "APPROVAL_CHAT_LISTEN: '${listen}' is not 127.0.0.1:<port>"
chat_port="${BASH_REMATCH[1]}"

build_dir="$(ab_build_dir)"
chat="${build_dir}/bots/approval-chat"
fakes="${build_dir}/tests/support/chat/approval-chat-fakes"
[[ -x "${chat}" && -x "${fakes}" ]] ||
  ab_die "${chat} or ${fakes} was not built"

run_dir="${APPROVAL_BROKER_RUN_DIR:-${AB_REPO_ROOT}/.run}"
[[ -s "${run_dir}/chat-demo.env" ]] ||
  ab_die "${run_dir}/chat-demo.env not found: start scripts/run-demo.sh first"
# shellcheck source=/dev/null
source "${run_dir}/chat-demo.env"
scripts/pg.sh psql -q -d approval_broker -tAc 'SELECT 1' >/dev/null 2>&1 ||
  ab_die "the demo's PostgreSQL (port ${APPROVAL_BROKER_PGPORT}) is not up: start scripts/run-demo.sh first"

chat_dir="${run_dir}/chat"
mkdir -p "${chat_dir}"
chmod 700 "${chat_dir}"
rm -f "${chat_dir}/fakes.env" "${chat_dir}/fakes.json"

pids=()
# shellcheck disable=SC2317  # reached through the EXIT trap
stop_all() {
  local rc=$?
  ((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  exit "${rc}"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The fakes first: approval-chat's config needs their URLs and secrets. A
# third Slack/Teams user, mallory, is linked to nobody.
"${fakes}" serve --dir "${chat_dir}" --chat-port "${chat_port}" \
  --slack-team "${DEMO_SLACK_TEAM}" --teams-tenant "${DEMO_TEAMS_TENANT}" \
  --user "alice=${DEMO_SLACK_ALICE},${DEMO_TEAMS_ALICE}" \
  --user "bob=${DEMO_SLACK_BOB},${DEMO_TEAMS_BOB}" \
  --user "mallory=U0MALLORY1,3a110000-0000-4000-8000-0000000bad00" &
pids+=($!)
# shellcheck disable=SC2317  # called through ab_await
fakes_up() {
  kill -0 "${pids[0]}" 2>/dev/null || ab_die "approval-chat-fakes stopped"
  [[ -s "${chat_dir}/fakes.env" ]]
}
ab_await 30 fakes_up || ab_die "approval-chat-fakes did not start"
# shellcheck source=/dev/null
source "${chat_dir}/fakes.env"

cat >"${chat_dir}/chat.jsonc" <<JSON
// Written by scripts/try-chat.sh on every run: approval-chat against the fake
// Slack and Teams of approval-chat-fakes (secrets in the files next to it).
{
  "broker": {"address": "$(ab_json_escape "${DEMO_BROKER_ADDRESS}")",
             "token_file": "$(ab_json_escape "${run_dir}/slack-bot.token")"},
  "database_url": "postgresql://approval_chat@127.0.0.1:${APPROVAL_BROKER_PGPORT}/approval_broker",
  "listen": "${listen}",
  "metrics_listen": "$(ab_json_escape "${metrics}")",
  "slack": {
    "team_id": "${DEMO_SLACK_TEAM}",
    "bot_token_file": "slack-bot-token",
    "signing_secret_file": "slack-signing-secret",
    "default_channel": "C0APPROVALS",
    "api_base_url": "${SLACK_API_BASE_URL}"
  },
  "teams": {
    "app_id": "${TEAMS_APP_ID}",
    "app_secret_file": "teams-app-secret",
    "tenant_id": "${DEMO_TEAMS_TENANT}",
    "service_url": "${TEAMS_SERVICE_URL}",
    "conversation_id": "${TEAMS_CONVERSATION_ID}",
    "relay_token_file": "$(ab_json_escape "${run_dir}/teams-bot.token")",
    "openid_metadata_url": "${OPENID_METADATA_URL}",
    "openid_ca_file": "openid-ca.pem",
    "token_url": "${TEAMS_TOKEN_URL}"
  }
}
JSON

# Its schema, as the database's owner; then the login role it serves as.
"${chat}" migrate --config "${chat_dir}/chat.jsonc" \
  --database-url "$(scripts/pg.sh admin-url approval_broker)" >/dev/null
scripts/pg.sh psql -q -d approval_broker <<'SQL'
SET client_min_messages = warning;
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'approval_chat') THEN
    CREATE ROLE approval_chat LOGIN;
  END IF;
END
$$;
GRANT approval_chat_app TO approval_chat;
SQL

log="${chat_dir}/approval-chat.log"
: >"${log}"
"${chat}" serve --config "${chat_dir}/chat.jsonc" >>"${log}" 2>&1 &
pids+=($!)
# shellcheck disable=SC2317  # called through ab_await
chat_up() {
  grep -q '"event":"serving"' "${log}" || ! kill -0 "${pids[1]}" 2>/dev/null
}
ab_await 30 chat_up || true
grep -q '"event":"serving"' "${log}" ||
  ab_die "approval-chat did not start; its log, ${log}, says: $(tail -n 5 "${log}")"

fakes_cmd="${fakes#"${AB_REPO_ROOT}/"} click --dir ${chat_dir#"${AB_REPO_ROOT}/"}"
cat <<EOF

================================================================================
approval-chat serves on ${listen} (log: ${log}; metrics on
http://${metrics}/metrics), following the demo broker as slack-bot (and
teams-bot for Teams clicks). Every approval that needs reviewers is posted
to fake Slack (channel C0APPROVALS) and fake Teams; both show below.

In another terminal, with the demo's exports, ask as the agent:

  APPROVAL_BROKER_TOKEN=\$AGENT_TOKEN build/client_lib/examples/export_agent/export_agent customers

Then click, as the platforms' users would (<id>: the "approval" line below):

  ${fakes_cmd} slack mallory approve <id>   # refused: not linked
  ${fakes_cmd} slack alice approve <id>     # 1 more needed
  ${fakes_cmd} teams bob approve <id>       # approved: the agent goes on
  ${fakes_cmd} teams bob deny <id> "not this quarter"   # or deny, with a reason

Ctrl-C stops approval-chat and the fakes.
================================================================================

EOF
wait "${pids[1]}"
