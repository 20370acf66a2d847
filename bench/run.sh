#!/usr/bin/env bash
# The benchmark of bench/README.md: in one run, on this machine, the
# ceilings (pgbench with a RequestApproval-shaped transaction, a bare gRPC
# callback echo server and its idle stream) and the broker's figures, each
# printed with its ratio. Never run by CI.
#
# Usage: bench/run.sh [--broker PATH] [--quick] [--build-dir DIR] [--keep]
#
#   --broker PATH    the approval-broker binary (default: <build>/server/approval-broker)
#   --build-dir DIR  where bench_load and bench_echo_server are built (default: build)
#   --quick          small N and short runs: a smoke test of the harness (< 2 min)
#   --keep           leave the work directory (logs, configs, raw results)
#
#   APPROVAL_BROKER_BENCH_PGPORT  port of the benchmark's own cluster (default: 55499)
#   APPROVAL_BROKER_BENCH_PGDATA  its data directory, deleted and made afresh
#                                 (default: bench/results/pgdata)
#
# Builds nothing: run `cmake --build build --target approval-broker bench_load
# bench_echo_server` first. Prints the table on stdout and writes it, with
# the raw key=value results of each step, to bench/results/<UTC time>/.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../scripts/lib/common.sh"
cd "${AB_REPO_ROOT}"

build_dir=build
broker=""
quick=0
keep=0
while (($# > 0)); do
  case "$1" in
    --broker) broker="$(readlink -f "$2")"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
done
broker="${broker:-$(readlink -f "${build_dir}/server/approval-broker")}"
load="$(readlink -f "${build_dir}/bench/bench_load")"
echo_server="$(readlink -f "${build_dir}/bench/bench_echo_server")"
for bin in "${broker}" "${load}" "${echo_server}"; do
  [[ -x "${bin}" ]] || ab_die "${bin} is not built"
done

# Sizes: the full run takes about 10 minutes on 2 cores.
if ((quick)); then
  secs=3 pg_secs=3 agents_small=1000 agents_large=5000 samples=20
else
  secs=15 pg_secs=15 agents_small=10000 agents_large=100000 samples=200
fi

# 100,000 streams are spread over connections, but every process here keeps
# a socket per connection plus the broker's pool: raise the limit anyway.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

export APPROVAL_BROKER_PGPORT="${APPROVAL_BROKER_BENCH_PGPORT:-55499}"
export APPROVAL_BROKER_PGDATA="${APPROVAL_BROKER_BENCH_PGDATA:-${AB_REPO_ROOT}/bench/results/pgdata}"
pg() { scripts/pg.sh "$@"; }
psql_admin() { pg psql -q -v ON_ERROR_STOP=1 "$@"; }

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
work="${AB_REPO_ROOT}/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "${work}"
chmod 700 "${work}"
results="${work}/results.txt"  # every step's key=value lines, prefixed
: >"${results}"

pids=()
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
  done
  pg stop >/dev/null 2>&1 || true
  ((keep || rc != 0)) || rm -f "${work}"/ids*.txt
  ((rc == 0)) || ab_warn "failed; logs in ${work}"
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs bench_load, keeps its output under `step` in results.txt.
run_load() {
  local step="$1"
  shift
  ab_log "${step}: bench_load $*"
  "${load}" "$@" >"${work}/${step}.out" 2>"${work}/${step}.err" ||
    ab_die "${step} failed: $(tail -n 5 "${work}/${step}.err")"
  sed "s/^/${step}./" "${work}/${step}.out" >>"${results}"
  [[ ! -s "${work}/${step}.err" ]] || ab_warn "${step}: $(head -n 3 "${work}/${step}.err")"
}
get() { sed -n "s/^$1=//p" "${results}" | tail -n 1; }

kill_pid() {
  local pid="$1" kept=()
  kill "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  for p in "${pids[@]}"; do [[ "${p}" == "${pid}" ]] || kept+=("${p}"); done
  pids=("${kept[@]}")
}

# Waits (bounded) until file $1 has a line matching $2; prints that line.
await_line() {
  local file="$1" pattern="$2" line=""
  for _ in $(seq 1 300); do
    line="$(grep -m1 -- "${pattern}" "${file}" 2>/dev/null || true)"
    [[ -z "${line}" ]] || { printf '%s\n' "${line}"; return 0; }
    sleep 0.1
  done
  ab_die "no '${pattern}' in ${file} within 30 s"
}

# --- PostgreSQL: a fresh private cluster, default settings (fsync on) ------

pg stop >/dev/null 2>&1 || true
rm -rf "${APPROVAL_BROKER_PGDATA}"
pg start
pgbench="$(find /usr/lib/postgresql -path '*/bin/pgbench' 2>/dev/null | sort -V | tail -n 1)"
[[ -x "${pgbench}" ]] || ab_die "no pgbench: run scripts/install-deps.sh (Debian postgresql-15 ships it)"
pg_settings="$(psql_admin -tAc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','wal_sync_method','shared_buffers','max_connections','commit_delay','full_page_writes','server_version')")"
printf 'pg.settings=%s\n' "${pg_settings}" >>"${results}"

# --- Ceiling 1: pgbench, a RequestApproval-shaped transaction ---------------

ab_log "pgbench: RequestApproval-shaped transaction"
psql_admin -c 'CREATE DATABASE bench_pg'
psql_admin -d bench_pg <<'SQL'
CREATE TABLE approvals (
  id uuid PRIMARY KEY, requester text NOT NULL, action text NOT NULL,
  resource text NOT NULL, parameters jsonb NOT NULL, state text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE events (
  seq bigserial PRIMARY KEY, approval_id uuid NOT NULL, type text NOT NULL,
  payload jsonb NOT NULL, prev_hash bytea, created_at timestamptz NOT NULL DEFAULT now());
SQL
cat >"${work}/request_tx.sql" <<'SQL'
\set n random(1, 1000000000)
BEGIN;
INSERT INTO approvals VALUES (gen_random_uuid(), 'bench-agent', 'db.export', 'bench/' || :n, '{"rows":1200,"table":"customers"}', 'PENDING', now());
INSERT INTO events (approval_id, type, payload, prev_hash) VALUES (gen_random_uuid(), 'CREATED', '{"rows":1200,"table":"customers"}', sha256('x'::bytea));
COMMIT;
SQL
pgbench_run() {
  local step="$1" clients="$2" seconds="$3"
  PGHOST=127.0.0.1 PGPORT="${APPROVAL_BROKER_PGPORT}" PGUSER=postgres \
    "${pgbench}" -n -c "${clients}" -j 2 -T "${seconds}" -f "${work}/request_tx.sql" bench_pg \
    >"${work}/${step}.out" 2>"${work}/${step}.err" || ab_die "${step}: $(tail -n 3 "${work}/${step}.err")"
  printf '%s.tps=%s\n%s.latency_ms=%s\n' \
    "${step}" "$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "${work}/${step}.out")" \
    "${step}" "$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "${work}/${step}.out")" >>"${results}"
}
pgbench_run pgbench32 32 "${pg_secs}"
pgbench_run pgbench1 1 5

# --- Ceilings 2 and 3: the bare callback echo server -------------------------

start_echo() {
  "${echo_server}" >"${work}/echo.log" 2>&1 &
  echo_pid=$!
  pids+=("${echo_pid}")
  echo_target="$(await_line "${work}/echo.log" '^listening on ' | sed 's/^listening on //')"
}
start_echo
run_load echo_unary closed --target "${echo_target}" --op echo --inflight 512 --conns 16 --seconds "${secs}"
run_load echo_hold_small agents --echo --target "${echo_target}" --streams "${agents_small}" --server-pid "${echo_pid}"
kill_pid "${echo_pid}"
start_echo  # a fresh process: the deltas start from the same baseline
run_load echo_hold_large agents --echo --target "${echo_target}" --streams "${agents_large}" --server-pid "${echo_pid}"
kill_pid "${echo_pid}"

# --- The broker: database, identities, keys, config ---------------------------

ab_log "broker: migrating a fresh database"
psql_admin -c 'CREATE DATABASE approval_broker'
"${broker}" migrate --database-url "$(pg admin-url approval_broker)" >"${work}/migrate.log" 2>&1 ||
  ab_die "migrate failed: $(tail -n 3 "${work}/migrate.log")"
psql_admin -d approval_broker <<'SQL'
SET client_min_messages = warning;
CREATE ROLE approval_broker LOGIN;
GRANT approval_broker_app TO approval_broker;
SQL
agent_token="$(openssl rand -hex 24)"
reviewer_token="$(openssl rand -hex 24)"
(
  umask 077
  cat >"${work}/tokens.json" <<JSON
{"tokens": [
  {"sha256": "$(ab_sha256_hex "${agent_token}")", "identity": "bench-agent", "roles": ["agent"]},
  {"sha256": "$(ab_sha256_hex "${reviewer_token}")", "identity": "bench-reviewer", "roles": ["reviewer"]}
]}
JSON
  head -c 32 /dev/urandom >"${work}/fingerprint.key"
  openssl genpkey -algorithm ed25519 -out "${work}/signing-key.pem" 2>/dev/null
  # Defaults everywhere else (pool, policy: one approval from any reviewer).
  cat >"${work}/config.json" <<JSON
{
  "database_url": "postgresql://approval_broker@127.0.0.1:${APPROVAL_BROKER_PGPORT}/approval_broker",
  "listen_address": "127.0.0.1:0",
  "metrics_address": "",
  "auth": {"tokens_file": "$(ab_json_escape "${work}/tokens.json")"},
  "fingerprint_key_file": "$(ab_json_escape "${work}/fingerprint.key")",
  "signing_key_file": "$(ab_json_escape "${work}/signing-key.pem")"
}
JSON
)

# start_broker NAME: sets broker_pid and broker_target.
start_broker() {
  local name="$1"
  env -u APPROVAL_BROKER_DATABASE_URL -u APPROVAL_BROKER_LISTEN_ADDRESS \
    -u APPROVAL_BROKER_METRICS_ADDRESS \
    "${broker}" serve --config "${work}/config.json" 2>"${work}/${name}.log" &
  broker_pid=$!
  pids+=("${broker_pid}")
  broker_target="$(await_line "${work}/${name}.log" 'serving gRPC on ' |
    sed -n 's/.*"grpc_address":"\([^"]*\)".*/\1/p')"
  [[ -n "${broker_target}" ]] || ab_die "${name}: no grpc_address in its serving record"
}
agent=(--token "${agent_token}")

start_broker broker_a
a_pid="${broker_pid}" a_target="${broker_target}"
run_load request_max closed --target "${a_target}" --op request --inflight 64 --conns 16 \
  --seconds "${secs}" "${agent[@]}" --ids-out "${work}/ids.txt"
max="$(get request_max.rate)"
# One pending approval per waiting agent of the Decide step.
have="$(wc -l <"${work}/ids.txt")"
if ((have < agents_small)); then
  run_load request_fill closed --target "${a_target}" --op request --inflight 64 --conns 16 \
    --calls "$((agents_small - have))" --seconds 600 "${agent[@]}" --ids-out "${work}/ids_fill.txt"
  cat "${work}/ids_fill.txt" >>"${work}/ids.txt"
fi
for pct in 50 80; do
  rps="$(awk -v m="${max}" -v p="${pct}" 'BEGIN { r = m * p / 100; printf "%.0f", (r < 1 ? 1 : r) }')"
  run_load "request_open${pct}" open --target "${a_target}" --op request --rps "${rps}" --conns 16 \
    --seconds "${secs}" "${agent[@]}"
done
run_load get closed --target "${a_target}" --op get --inflight 512 --conns 16 --seconds "${secs}" \
  "${agent[@]}" --ids "${work}/ids.txt"

# Waiting agents on broker A; Decides on A (one replica), then on B (two).
start_broker broker_b
b_pid="${broker_pid}" b_target="${broker_target}"
run_load agents_small agents --target "${a_target}" --streams "${agents_small}" "${agent[@]}" \
  --ids "${work}/ids.txt" --server-pid "${a_pid}" --decide "${a_target},${b_target}" \
  --reviewer-token "${reviewer_token}" --samples "${samples}"
kill_pid "${b_pid}"

# A restart, then every agent at once (they reconnect together), on
# approvals still pending (the ones decided above would end their streams).
tail -n "+$((2 * samples + 1))" "${work}/ids.txt" >"${work}/ids_pending.txt"
kill_pid "${a_pid}"
start_broker broker_a2
a_pid="${broker_pid}" a_target="${broker_target}"
run_load agents_large agents --target "${a_target}" --streams "${agents_large}" "${agent[@]}" \
  --ids "${work}/ids_pending.txt" --server-pid "${a_pid}" --samples 0
kill_pid "${a_pid}"

# --- The table ---------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "—"; else printf "%.2f", a / b }'; }
n0() { awk -v v="$1" 'BEGIN { if (v == "") print "—"; else printf "%\047.0f", v }'; }
ms() { awk -v v="$1" 'BEGIN { if (v == "") print "—"; else if (v < 10) printf "%.2f", v; else printf "%.1f", v }'; }
kb() { awk -v v="$1" 'BEGIN { printf "%.1f KB", v / 1024 }'; }
{
  printf 'Approval Broker benchmark, %s (UTC)\n' "$(date -u '+%Y-%m-%d %H:%M')"
  printf 'broker: %s (built %s; bench/ at %s)\n' "${broker}" "$(date -u -r "${broker}" '+%Y-%m-%d %H:%M')" \
    "$(git -C "${AB_REPO_ROOT}" describe --always --dirty 2>/dev/null || echo '?')"
  printf 'machine: nproc %s, %s, RAM %s; load average (1/5/15 min) at the start: %s, at the end: %s\n' \
    "$(nproc)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    "$(free -h | awk '/^Mem:/ { print $2 }')" "${load_before}" "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'PostgreSQL: %s\n' "${pg_settings}"
  ((quick)) && printf 'QUICK RUN: small N, short runs; not comparable with full runs\n'
  printf '\n| figure | broker | ceiling in same run | ratio |\n|---|---|---|---|\n'
  printf '| RequestApproval/s, 64 in flight | %s | pgbench RequestApproval-shaped tx, 32 clients: %s tps | %s |\n' \
    "$(n0 "${max}")" "$(n0 "$(get pgbench32.tps)")" "$(ratio "${max}" "$(get pgbench32.tps)")"
  for pct in 50 80; do
    printf '| RequestApproval latency, open loop at %s%% of max (%s/s) | p50 %s ms, p99 %s ms, p999 %s ms | one commit (pgbench, 1 client): %s ms | — |\n' \
      "${pct}" "$(n0 "$(get "request_open${pct}.rate")")" "$(ms "$(get "request_open${pct}.p50_ms")")" \
      "$(ms "$(get "request_open${pct}.p99_ms")")" "$(ms "$(get "request_open${pct}.p999_ms")")" "$(ms "$(get pgbench1.latency_ms)")"
  done
  printf '| GetApproval/s (16 conns × 32 in flight) | %s | bare callback echo server, same load: %s | %s |\n' \
    "$(n0 "$(get get.rate)")" "$(n0 "$(get echo_unary.rate)")" "$(ratio "$(get get.rate)" "$(get echo_unary.rate)")"
  printf '| Decide → waiting agent receives, %s waiting, 1 replica | p50 %s ms, p99 %s ms | Decide call itself: p50 %s ms | — |\n' \
    "$(n0 "${agents_small}")" "$(ms "$(get agents_small.fanout1_p50_ms)")" "$(ms "$(get agents_small.fanout1_p99_ms)")" "$(ms "$(get agents_small.decide1_p50_ms)")"
  printf '| Decide → waiting agent receives, %s waiting, 2 replicas | p50 %s ms, p99 %s ms | Decide call itself: p50 %s ms | — |\n' \
    "$(n0 "${agents_small}")" "$(ms "$(get agents_small.fanout2_p50_ms)")" "$(ms "$(get agents_small.fanout2_p99_ms)")" "$(ms "$(get agents_small.decide2_p50_ms)")"
  for size in small large; do
    agents_n="$([[ ${size} == small ]] && echo "${agents_small}" || echo "${agents_large}")"
    printf '| bytes and threads per waiting agent, %s agents | %s, %s threads (%s in all) | bare server idle stream: %s | %s |\n' \
      "$(n0 "${agents_n}")" "$(kb "$(get "agents_${size}.bytes_per_stream")")" \
      "$(get "agents_${size}.threads_per_stream")" \
      "$(awk -v a="$(get "agents_${size}.threads_after")" -v b="$(get "agents_${size}.threads_before")" 'BEGIN { printf "%+d", a - b }')" "$(kb "$(get "echo_hold_${size}.bytes_per_stream")")" \
      "$(ratio "$(get "agents_${size}.bytes_per_stream")" "$(get "echo_hold_${size}.bytes_per_stream")")"
  done
  printf '| %s agents open their streams at once (after a restart) | %s s (%s streams/s); RequestApproval meanwhile: p99 %s ms | bare server: %s s | %s |\n' \
    "$(n0 "${agents_large}")" "$(get agents_large.open_seconds)" \
    "$(n0 "$(awk -v n="${agents_large}" -v s="$(get agents_large.open_seconds)" 'BEGIN { print n / s }')")" \
    "$(ms "$(get agents_large.side_p99_ms)")" "$(get echo_hold_large.open_seconds)" \
    "$(ratio "$(get agents_large.open_seconds)" "$(get echo_hold_large.open_seconds)")"
  printf '\nFailures (should all be 0): '
  grep -E '\.(failed|register_failed|side_failed|fanout[12]_failed|decide[12]_failed)=' "${results}" |
    awk -F= '{ s += $2 } END { print s + 0 }'
} | tee "${work}/table.md"
ab_log "raw results: ${results}"
