#!/usr/bin/env bash
# Runs the broker locally with demo identities: installs what is missing,
# builds the broker, approvalctl and the example agent (not the tests),
# starts a private PostgreSQL (scripts/pg.sh), migrates, creates the login
# role, writes .run/tokens.json and .run/config.json, prints the tokens and a
# grpcurl walkthrough, then serves in the foreground. Ctrl-C stops the
# broker and the PostgreSQL cluster.
#
# The demo also declares two chat relays (slack-bot and teams-bot, role
# observer) and links alice's and bob's users in a demo Slack workspace and
# Teams tenant, for scripts/try-chat.sh (approval-chat against fake Slack and
# Teams); their tokens and ids go to .run/chat-demo.env.
#
#   APPROVAL_BROKER_PGPORT            PostgreSQL port (default: 55432)
#   APPROVAL_BROKER_LISTEN_ADDRESS    gRPC address (default: 127.0.0.1:50051)
#   APPROVAL_BROKER_METRICS_ADDRESS   /metrics address (default: 127.0.0.1:9464)
#   APPROVAL_BROKER_RUN_DIR           config, tokens, keys (default: .run)
#   APPROVAL_BROKER_PREBUILT=1        skip installing and building; use the
#                                     binaries already in BUILD_DIR (the
#                                     tests run this script that way)
#   BUILD_DIR, JOBS                   as for scripts/build.sh
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

cd "${AB_REPO_ROOT}"
# Only what the demo runs: the broker, approvalctl and the example agent
# (scripts/test.sh builds everything, tests included).
ab_install_and_build "approval-broker approvalctl export_agent"

export APPROVAL_BROKER_PGPORT="${APPROVAL_BROKER_PGPORT:-55432}"
listen="${APPROVAL_BROKER_LISTEN_ADDRESS:-127.0.0.1:50051}"
metrics="${APPROVAL_BROKER_METRICS_ADDRESS:-127.0.0.1:9464}"
broker="$(ab_build_dir)/server/approval-broker"
[[ -x "${broker}" ]] || ab_die "${broker} was not built"

# shellcheck disable=SC2317  # reached through the EXIT trap
stop_cluster() {
  local rc=$?
  "${AB_REPO_ROOT}/scripts/pg.sh" stop || true
  exit "${rc}"
}
trap stop_cluster EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
scripts/pg.sh start

psql_admin() { scripts/pg.sh psql -q "$@"; }

# Database, schema (as the superuser, who owns it here), then the login role
# the broker serves as. The group role approval_broker_app comes from the
# first migration, so the login role is granted it afterwards.
if [[ -z "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'approval_broker'")" ]]; then
  ab_log "creating database approval_broker"
  psql_admin -c 'CREATE DATABASE approval_broker'
fi
ab_log "migrating"
"${broker}" migrate --database-url "$(scripts/pg.sh admin-url approval_broker)"
psql_admin -d approval_broker <<'SQL'
SET client_min_messages = warning;
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'approval_broker') THEN
    CREATE ROLE approval_broker LOGIN;
  END IF;
END
$$;
GRANT approval_broker_app TO approval_broker;
SQL

# Fresh demo tokens on every run; the broker only ever sees their SHA-256.
agent_token="$(openssl rand -hex 24)"
alice_token="$(openssl rand -hex 24)"
bob_token="$(openssl rand -hex 24)"
admin_token="$(openssl rand -hex 24)"
slack_bot_token="$(openssl rand -hex 24)"
teams_bot_token="$(openssl rand -hex 24)"
# The demo Slack workspace and Teams tenant, and alice's and bob's users in
# them (scripts/try-chat.sh plays both platforms with these).
slack_team=T0DEMO0001
slack_alice=U0ALICE001
slack_bob=U0BOB00001
teams_tenant=5f0c1d2e-0000-4000-8000-00000000d3e0
teams_alice=a11ce000-0000-4000-8000-00000000a11c
teams_bob=b0b00000-0000-4000-8000-00000000b0b0

run_dir="${APPROVAL_BROKER_RUN_DIR:-${AB_REPO_ROOT}/.run}"
mkdir -p "${run_dir}"
chmod 700 "${run_dir}"
(
  umask 077
  cat >"${run_dir}/tokens.json" <<JSON
{"tokens": [
  {"sha256": "$(ab_sha256_hex "${agent_token}")", "identity": "agent-demo", "roles": ["agent"]},
  {"sha256": "$(ab_sha256_hex "${alice_token}")", "identity": "alice", "roles": ["reviewer", "agent"]},
  {"sha256": "$(ab_sha256_hex "${bob_token}")", "identity": "bob", "roles": ["reviewer"]},
  {"sha256": "$(ab_sha256_hex "${admin_token}")", "identity": "ops-admin", "roles": ["admin"]},
  {"sha256": "$(ab_sha256_hex "${slack_bot_token}")", "identity": "slack-bot", "roles": ["observer"]},
  {"sha256": "$(ab_sha256_hex "${teams_bot_token}")", "identity": "teams-bot", "roles": ["observer"]}
]}
JSON
  printf '%s\n' "${slack_bot_token}" >"${run_dir}/slack-bot.token"
  printf '%s\n' "${teams_bot_token}" >"${run_dir}/teams-bot.token"
  cat >"${run_dir}/chat-demo.env" <<ENV
# Written by scripts/run-demo.sh for scripts/try-chat.sh.
DEMO_BROKER_ADDRESS='${listen}'
DEMO_SLACK_TEAM=${slack_team}
DEMO_SLACK_ALICE=${slack_alice}
DEMO_SLACK_BOB=${slack_bob}
DEMO_TEAMS_TENANT=${teams_tenant}
DEMO_TEAMS_ALICE=${teams_alice}
DEMO_TEAMS_BOB=${teams_bob}
ENV
  # Keys survive runs (like the database): fingerprints stay comparable and
  # earlier approval tokens keep verifying.
  [[ -s "${run_dir}/fingerprint.key" ]] ||
    head -c 32 /dev/urandom >"${run_dir}/fingerprint.key"
  [[ -s "${run_dir}/signing-key.pem" ]] ||
    openssl genpkey -algorithm ed25519 -out "${run_dir}/signing-key.pem"
  # The demo's review policy; edit it and `kill -HUP` the broker to reload.
  [[ -s "${run_dir}/policy.jsonc" ]] || cat >"${run_dir}/policy.jsonc" <<'JSON'
// Written once by scripts/run-demo.sh; see deploy/policy.example.jsonc.
{
  "groups": {
    "data-team": ["alice"],
    "security": ["alice", "bob"]
  },
  "rules": [
    // Customer data leaves prod only with two people: alice and bob.
    {"name": "customer-export", "action": "db.export",
     "resource": "postgres://prod/*",
     "reviewer_groups": ["data-team", "security"], "approvals_required": 2,
     "justification_required": true, "justification_min_length": 10,
     "max_ttl": "2h", "execution_window": "15m"},
    {"name": "read-only-queries", "action": "db.query",
     "outcome": "auto_approve"},
    {"name": "no-prod-destroy", "action": "infra.destroy",
     "resource": "*prod*", "outcome": "deny"},
    {"name": "everything-else", "action": "*"}
  ],
  "masking": {
    "paths": [{"path": "$.rows[*].email", "label": "email"}]
  }
}
JSON
  cat >"${run_dir}/config.json" <<JSON
// Written by scripts/run-demo.sh on every run; see deploy/config.example.jsonc.
{
  "database_url": "postgresql://approval_broker@127.0.0.1:${APPROVAL_BROKER_PGPORT}/approval_broker",
  "listen_address": "$(ab_json_escape "${listen}")",
  "metrics_address": "$(ab_json_escape "${metrics}")",
  "auth": {
    "tokens_file": "$(ab_json_escape "${run_dir}/tokens.json")",
    // The chat relays of scripts/try-chat.sh, and the people behind clicks.
    "relays": [
      {"identity": "token:slack-bot", "namespace": "slack:${slack_team}"},
      {"identity": "token:teams-bot", "namespace": "teams:${teams_tenant}"}
    ],
    "principals": [
      {"principal": "alice", "identities": ["token:alice",
        "slack:${slack_team}/${slack_alice}", "teams:${teams_tenant}/${teams_alice}"]},
      {"principal": "bob", "identities": ["token:bob",
        "slack:${slack_team}/${slack_bob}", "teams:${teams_tenant}/${teams_bob}"]}
    ]
  },
  "policy_file": "$(ab_json_escape "${run_dir}/policy.jsonc")",
  "fingerprint_key_file": "$(ab_json_escape "${run_dir}/fingerprint.key")",
  "signing_key_file": "$(ab_json_escape "${run_dir}/signing-key.pem")"
}
JSON
)
chmod 600 "${run_dir}/tokens.json"

cat <<EOF

================================================================================
Approval Broker demo on ${listen} (plaintext; reflection on; metrics on
http://${metrics}/metrics). Identities and their tokens, for every terminal:

export AGENT_TOKEN=${agent_token}   # agent-demo (agent)
export ALICE_TOKEN=${alice_token}   # alice (reviewer; may also request)
export BOB_TOKEN=${bob_token}   # bob (reviewer)
export ADMIN_TOKEN=${admin_token}   # ops-admin (admin: audit verify)

Walkthrough with grpcurl (https://github.com/fullstorydev/grpcurl/releases):

  grpcurl -plaintext ${listen} list

  # As the agent, ask for approval:
  grpcurl -plaintext -H "authorization: Bearer \$AGENT_TOKEN" \\
    -d '{"action":"db.export","resource":"postgres://prod/customers","parameters_json":"{\"table\":\"customers\",\"rows\":1200}","justification":"quarterly report","idempotency_key":"export-q3"}' \\
    ${listen} approval.v1.ApprovalBroker/RequestApproval
  export APPROVAL_ID=<approval.id from the answer>

  # As alice, see what waits:
  grpcurl -plaintext -H "authorization: Bearer \$ALICE_TOKEN" \\
    -d '{"state":"PENDING"}' ${listen} approval.v1.ApprovalBroker/ListApprovals

  # In a second terminal, as the agent, follow the approval:
  grpcurl -plaintext -H "authorization: Bearer \$AGENT_TOKEN" \\
    -d "{\"approval_ids\":[\"\$APPROVAL_ID\"]}" ${listen} approval.v1.ApprovalBroker/StreamDecisions

  # The agent cannot approve (no reviewer role): PERMISSION_DENIED
  grpcurl -plaintext -H "authorization: Bearer \$AGENT_TOKEN" \\
    -d "{\"approval_id\":\"\$APPROVAL_ID\",\"verdict\":\"APPROVE\"}" ${listen} approval.v1.ApprovalBroker/Decide

  # The policy (${run_dir}/policy.jsonc) wants two people for this export:
  # alice approves (approvals_missing: 1), then bob; the stream shows
  # EVENT_APPROVED with the signed approval_token:
  grpcurl -plaintext -H "authorization: Bearer \$ALICE_TOKEN" \\
    -d "{\"approval_id\":\"\$APPROVAL_ID\",\"verdict\":\"APPROVE\",\"comment\":\"ok\"}" ${listen} approval.v1.ApprovalBroker/Decide
  grpcurl -plaintext -H "authorization: Bearer \$BOB_TOKEN" \\
    -d "{\"approval_id\":\"\$APPROVAL_ID\",\"verdict\":\"APPROVE\",\"comment\":\"ok\"}" ${listen} approval.v1.ApprovalBroker/Decide

  # alice asks for something herself and tries to approve it: refused
  # (PERMISSION_DENIED "self-approval refused ..."), and audited; bob may.
  grpcurl -plaintext -H "authorization: Bearer \$ALICE_TOKEN" \\
    -d '{"action":"iam.grant","resource":"role/prod-admin","parameters_json":"{\"user\":\"alice\"}"}' \\
    ${listen} approval.v1.ApprovalBroker/RequestApproval
  grpcurl -plaintext -H "authorization: Bearer \$ALICE_TOKEN" \\
    -d "{\"approval_id\":\"<its id>\",\"verdict\":\"APPROVE\"}" ${listen} approval.v1.ApprovalBroker/Decide

  grpcurl -plaintext ${listen} grpc.health.v1.Health/Check

To approve in (fake) Slack and Teams instead, run scripts/try-chat.sh in a
second terminal: approval-chat joins as the relays slack-bot and teams-bot.

Ctrl-C stops the broker and its PostgreSQL cluster.
================================================================================

EOF

ab_log "serving on ${listen}"
# The demo database only: an exported APPROVAL_BROKER_DATABASE_URL would win
# over the config file.
env -u APPROVAL_BROKER_DATABASE_URL \
  APPROVAL_BROKER_LISTEN_ADDRESS="${listen}" \
  APPROVAL_BROKER_METRICS_ADDRESS="${metrics}" \
  "${broker}" serve --config "${run_dir}/config.json"
