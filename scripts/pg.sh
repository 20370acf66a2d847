#!/usr/bin/env bash
# A private PostgreSQL cluster for development, the demo and the tests.
#
# Usage: scripts/pg.sh init|start|stop|status|url [DB]|admin-url [DB]|psql [ARGS]
#
#   APPROVAL_BROKER_PGDATA    data directory (default: <repo>/.pgdata)
#   APPROVAL_BROKER_PGPORT    TCP port (default: 55432)
#   APPROVAL_BROKER_PGBINDIR  PostgreSQL bin dir (default: the highest
#                             version under /usr/lib/postgresql)
#
# The cluster is ours alone: its own data directory, its own port, listening
# on 127.0.0.1 only, its Unix socket inside the data directory, started and
# stopped by this script. The Debian package's own cluster (15/main) and its
# service are neither used nor touched.
#
# PostgreSQL refuses to run as root, so when run as root the server runs as
# the `postgres` OS user (or a dedicated `approval-pg` system user when the
# postgresql package has not created `postgres`). When that user cannot
# traverse the path to the data directory (e.g. a clone under /root), the data
# directory moves to /var/tmp/approval-broker-pg-<hash of the path>.
#
# `start` and `stop` are idempotent, block until done and work from any
# directory: the tests call them to simulate a database outage.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

readonly PG_SUPERUSER=postgres
readonly PORT="${APPROVAL_BROKER_PGPORT:-55432}"
if ! [[ "${PORT}" =~ ^[1-9][0-9]{0,4}$ ]] || ((PORT > 65535)); then
  ab_die "APPROVAL_BROKER_PGPORT: '${PORT}' is not a TCP port"
fi

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

url() { printf 'postgresql://%s@127.0.0.1:%s/%s\n' "${PG_SUPERUSER}" "${PORT}" "${1:-postgres}"; }

# --- PostgreSQL binaries ----------------------------------------------------

bindir() {
  if [[ -n "${APPROVAL_BROKER_PGBINDIR:-}" ]]; then
    printf '%s\n' "${APPROVAL_BROKER_PGBINDIR}"
    return
  fi
  local version
  version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null |
    grep -E '^[0-9]+$' | sort -n | tail -n 1 || true)"
  [[ -n "${version}" && -x "/usr/lib/postgresql/${version}/bin/pg_ctl" ]] ||
    ab_die "no PostgreSQL server under /usr/lib/postgresql: run scripts/install-deps.sh"
  printf '%s\n' "/usr/lib/postgresql/${version}/bin"
}

# --- The OS user the server runs as -----------------------------------------

PG_OS_USER=""
if ab_is_root; then
  if id -u postgres >/dev/null 2>&1; then
    PG_OS_USER=postgres
  else
    PG_OS_USER=approval-pg
  fi
else
  PG_OS_USER="$(id -un)"
fi

pg_os_user_exists() { id -u "${PG_OS_USER}" >/dev/null 2>&1; }

ensure_pg_os_user() {
  pg_os_user_exists && return
  ab_log "creating system user ${PG_OS_USER} to run PostgreSQL"
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "${PG_OS_USER}"
}

# Runs "$@" as the server's OS user from /, with no file descriptors beyond
# 0-2: the postmaster that pg_ctl forks must not inherit a lock or a pipe of
# ours (a caller reading our output would otherwise wait for it forever).
as_pg() {
  (
    local fd
    for fd in /proc/self/fd/*; do
      fd="${fd##*/}"
      if [[ "${fd}" =~ ^[0-9]+$ ]] && ((fd > 2)); then
        eval "exec ${fd}>&-" 2>/dev/null || true
      fi
    done
    cd /
    if ab_is_root; then
      exec runuser -u "${PG_OS_USER}" -- env LC_ALL=C.UTF-8 "$@"
    else
      exec env LC_ALL=C.UTF-8 "$@"
    fi
  )
}

# --- Where the cluster lives ------------------------------------------------

requested_datadir() {
  local dir="${APPROVAL_BROKER_PGDATA:-${AB_REPO_ROOT}/.pgdata}"
  [[ "${dir}" == /* ]] || dir="${PWD}/${dir}"
  printf '%s\n' "${dir%/}"
}

# True when the server's OS user can reach directory $1.
pg_user_can_reach() {
  ab_is_root || return 0
  pg_os_user_exists || return 0
  as_pg test -d "$1" -a -x "$1"
}

DATADIR=""
DATADIR_NOTE=""
resolve_datadir() {
  local requested parent
  requested="$(requested_datadir)"
  parent="$(dirname "${requested}")"
  if [[ -d "${parent}" ]] && ! pg_user_can_reach "${parent}"; then
    DATADIR="/var/tmp/approval-broker-pg-$(ab_short_hash "${requested}")"
    DATADIR_NOTE="user ${PG_OS_USER} cannot reach ${parent}; using data directory ${DATADIR}"
  else
    DATADIR="${requested}"
  fi
}

# The Unix socket goes into the data directory unless its path would pass the
# kernel's limit (107 bytes), as it can in a deep CI checkout.
socket_dir() {
  if ((${#DATADIR} + ${#PORT} + 12 < 100)); then
    printf '%s\n' "${DATADIR}"
  else
    printf '%s\n' "/tmp/approval-broker-pgsock-$(ab_short_hash "${DATADIR}")"
  fi
}

logfile() { printf '%s\n' "${DATADIR}/postgresql.log"; }
is_initialized() { [[ -f "${DATADIR}/PG_VERSION" ]]; }

# Creates directory $1 for the server's OS user (mode 700), refusing one that
# someone else owns (it may sit in a world-writable place such as /var/tmp).
make_pg_dir() {
  local dir="$1" owner
  mkdir -p "${dir}"
  if ab_is_root; then
    owner="$(stat -c %U "${dir}")"
    if [[ "${owner}" != "${PG_OS_USER}" ]]; then
      if [[ "${owner}" == root && -z "$(ls -A "${dir}")" ]]; then
        chown "${PG_OS_USER}:" "${dir}"
      else
        ab_die "${dir} belongs to ${owner}, not ${PG_OS_USER}: remove it or set APPROVAL_BROKER_PGDATA"
      fi
    fi
  elif [[ ! -O "${dir}" ]]; then
    ab_die "${dir} does not belong to $(id -un): remove it or set APPROVAL_BROKER_PGDATA"
  fi
  chmod 700 "${dir}"
}

# Writes stdin to file $1 in the data directory, owned by the server's user.
write_pg_file() {
  cat >"$1"
  ab_is_root && chown "${PG_OS_USER}:" "$1"
  chmod 600 "$1"
}

# Serialises init/start/stop of one data directory across concurrent callers.
take_lock() {
  local lock
  lock="${TMPDIR:-/tmp}/approval-broker-pg-$(ab_short_hash "${DATADIR}").lock"
  if ( : >>"${lock}" ) 2>/dev/null; then
    exec 9>>"${lock}"
    flock -w 120 9 || ab_die "timed out waiting for ${lock}"
  fi
}

# --- Commands ---------------------------------------------------------------

is_running() {
  is_initialized || return 1
  as_pg "${BIN}/pg_ctl" status -D "${DATADIR}" >/dev/null 2>&1
}

wait_ready() {
  local i
  for ((i = 0; i < 150; i++)); do
    if "${BIN}/pg_isready" -q -h 127.0.0.1 -p "${PORT}" -U "${PG_SUPERUSER}" -d postgres -t 2; then
      return 0
    fi
    sleep 0.2
  done
  ab_die "PostgreSQL on 127.0.0.1:${PORT} did not become ready; see $(logfile)"
}

do_init() {
  [[ -z "${DATADIR_NOTE}" ]] || ab_log "${DATADIR_NOTE}"
  if is_initialized; then
    return 0
  fi
  [[ ! -e "${DATADIR}" || -z "$(ls -A "${DATADIR}")" ]] ||
    ab_die "${DATADIR} exists, is not empty and holds no cluster: remove it"
  make_pg_dir "${DATADIR}"
  ab_log "initialising PostgreSQL cluster in ${DATADIR}"
  local out
  if ! out="$(as_pg "${BIN}/initdb" -D "${DATADIR}" -U "${PG_SUPERUSER}" \
    --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-instructions 2>&1)"; then
    printf '%s\n' "${out}" >&2
    ab_die "initdb failed"
  fi
  # Trust on loopback and the private socket only: this is a throw-away
  # dev/test cluster that listens on 127.0.0.1 alone. Production uses
  # scram-sha-256 over TLS (see deploy/postgres-roles.sql and README.md).
  write_pg_file "${DATADIR}/pg_hba.conf" <<'HBA'
# Private dev/test cluster of scripts/pg.sh, listening on 127.0.0.1 only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
HBA
  printf "\ninclude_if_exists = 'approval_broker.conf'\n" >>"${DATADIR}/postgresql.conf"
}

# Port and socket are rewritten on every start so that an override applies.
write_settings() {
  local sockdir
  sockdir="$(socket_dir)"
  [[ "${sockdir}" == "${DATADIR}" ]] || make_pg_dir "${sockdir}"
  write_pg_file "${DATADIR}/approval_broker.conf" <<CONF
# Written by scripts/pg.sh on every start; edits are lost.
listen_addresses = '127.0.0.1'
port = ${PORT}
unix_socket_directories = '${sockdir}'
max_connections = 200
CONF
}

do_start() {
  take_lock
  do_init
  if is_running; then
    local running_port
    running_port="$(sed -n 4p "${DATADIR}/postmaster.pid" 2>/dev/null || true)"
    [[ -z "${running_port}" || "${running_port}" == "${PORT}" ]] ||
      ab_warn "cluster in ${DATADIR} already runs on port ${running_port}, not ${PORT}"
    wait_ready
    ab_log "PostgreSQL already running: $(url)"
    return 0
  fi
  write_settings
  if ! as_pg "${BIN}/pg_ctl" start -D "${DATADIR}" -l "$(logfile)" -w -t 60 -s >/dev/null; then
    tail -n 20 "$(logfile)" >&2 || true
    ab_die "PostgreSQL did not start (log: $(logfile))"
  fi
  wait_ready
  ab_log "PostgreSQL running: $(url)"
}

do_stop() {
  take_lock
  if ! is_running; then
    ab_log "PostgreSQL not running (${DATADIR})"
    return 0
  fi
  if ! as_pg "${BIN}/pg_ctl" stop -D "${DATADIR}" -m fast -w -t 60 -s; then
    is_running && ab_die "PostgreSQL did not stop (log: $(logfile))"
  fi
  ab_log "PostgreSQL stopped"
}

# Exit status: 0 running, 3 not running (like pg_ctl status).
do_status() {
  [[ -z "${DATADIR_NOTE}" ]] || ab_log "${DATADIR_NOTE}"
  if ! is_initialized; then
    printf 'not initialized (data directory %s)\n' "${DATADIR}"
    return 3
  fi
  if is_running; then
    printf 'running: %s (data directory %s, log %s)\n' "$(url)" "${DATADIR}" "$(logfile)"
    return 0
  fi
  printf 'stopped (data directory %s)\n' "${DATADIR}"
  return 3
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "${cmd}" in
  url | admin-url)
    # Both are the superuser URL today: tests create their own databases and
    # the demo migrates with it. `admin-url` names the intent of the caller.
    url "${1:-}"
    ;;
  psql)
    BIN="$(bindir)"
    export PGHOST=127.0.0.1 PGPORT="${PORT}" PGUSER="${PG_SUPERUSER}"
    export PGDATABASE="${PGDATABASE:-postgres}"
    exec "${BIN}/psql" -X -v ON_ERROR_STOP=1 "$@"
    ;;
  init | start | stop | status)
    BIN="$(bindir)"
    # Only init and start create the user; resolving the data directory
    # needs it (can it reach the work tree?).
    [[ "${cmd}" == init || "${cmd}" == start ]] && ensure_pg_os_user
    resolve_datadir
    case "${cmd}" in
      init)
        take_lock
        do_init
        ;;
      start) do_start ;;
      stop) do_stop ;;
      status) do_status ;;
    esac
    ;;
  *) usage ;;
esac
