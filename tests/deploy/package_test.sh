#!/usr/bin/env bash
# The Debian packages end to end: builds them with cpack from BUILD_DIR,
# inspects them (files, conffiles, maintainer scripts, dependencies),
# installs them with dpkg -i on this machine, checks the installed unit with
# systemd-analyze verify, runs the installed broker (--version, migrate on a
# fresh database of the test PostgreSQL, serve on port 0 as the packaged
# system user, reached with the installed approvalctl), stops it and purges
# the packages, leaving the machine as it was (the system user too, when the
# test created it).
#   package_test.sh BUILD_DIR VERSION
# Needs root (dpkg -i; CI runs as root on a throw-away machine) and
# APPROVAL_BROKER_TEST_DATABASE_URL; without either it fails.
set -euo pipefail
build_dir="$1"
version="$2"
readonly PACKAGES=(approval-broker approval-client-dev)
readonly USER_NAME=approval-broker

fail() {
  echo "package_test: FAIL: $*" >&2
  exit 1
}
step() { echo "package_test: $*"; }

((EUID == 0)) || fail "must run as root: it installs the packages with dpkg -i \
(CI runs the suite as root on a throw-away machine)"
[[ -n "${APPROVAL_BROKER_TEST_DATABASE_URL:-}" ]] ||
  fail "APPROVAL_BROKER_TEST_DATABASE_URL is not set (scripts/pg.sh url)"
for p in "${PACKAGES[@]}"; do
  if dpkg-query -W -f='${db:Status-Status}' "${p}" 2>/dev/null |
    grep -qv '^not-installed$'; then
    fail "${p} is already installed here: the test would replace and purge it"
  fi
done
user_existed=0
getent passwd "${USER_NAME}" >/dev/null && user_existed=1

tmp="$(mktemp -d)"
admin_url="${APPROVAL_BROKER_TEST_DATABASE_URL}"
db="approval_pkg_test_$$"
db_created=0
installed=0
serve_pid=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n "${serve_pid}" ]] && kill -0 "${serve_pid}" 2>/dev/null; then
    kill -KILL "${serve_pid}"
    wait "${serve_pid}" 2>/dev/null
  fi
  ((installed)) && dpkg --purge "${PACKAGES[@]}" >/dev/null
  if ((!user_existed)) && getent passwd "${USER_NAME}" >/dev/null; then
    deluser --system "${USER_NAME}" >/dev/null 2>&1 ||
      userdel "${USER_NAME}" >/dev/null 2>&1
    getent group "${USER_NAME}" >/dev/null && groupdel "${USER_NAME}"
  fi
  ((db_created)) &&
    psql -q "${admin_url}" -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" \
      >/dev/null
  rm -rf "${tmp}"
  exit "${rc}"
}
trap cleanup EXIT

# --- Build ------------------------------------------------------------------
step "cpack in ${build_dir}"
cpack --config "${build_dir}/CPackConfig.cmake" -B "${tmp}/out" \
  >"${tmp}/cpack.log" 2>&1 || {
  cat "${tmp}/cpack.log" >&2
  fail "cpack failed"
}
arch="$(dpkg --print-architecture)"
broker_deb="${tmp}/out/approval-broker_${version}_${arch}.deb"
client_deb="${tmp}/out/approval-client-dev_${version}_${arch}.deb"
[[ -f "${broker_deb}" && -f "${client_deb}" ]] ||
  fail "cpack made $(find "${tmp}/out" -maxdepth 1 -name '*.deb' -printf '%f '), \
not $(basename "${broker_deb}") and $(basename "${client_deb}")"

# --- Inspect ----------------------------------------------------------------
expect_paths() {
  local deb="$1"
  shift
  local contents
  contents="$(dpkg-deb --contents "${deb}" | awk '{print $6}')"
  for path in "$@"; do
    grep -qxF "./${path#/}" <<<"${contents}" ||
      fail "$(basename "${deb}"): no ${path}; it holds:"$'\n'"${contents}"
  done
}
expect_field() {
  local deb="$1" field="$2" pattern="$3" value
  value="$(dpkg-deb --field "${deb}" "${field}")"
  grep -qE "${pattern}" <<<"${value}" ||
    fail "$(basename "${deb}"): ${field} is '${value}', expected /${pattern}/"
}
step "inspecting $(basename "${broker_deb}")"
expect_field "${broker_deb}" Package '^approval-broker$'
expect_field "${broker_deb}" Version "^${version}\$"
# dpkg-shlibdeps found the shared libraries; adduser runs the postinst.
expect_field "${broker_deb}" Depends 'libc6'
expect_field "${broker_deb}" Depends 'libpqxx'
expect_field "${broker_deb}" Depends 'libgrpc\+\+'
expect_field "${broker_deb}" Depends 'adduser'
expect_paths "${broker_deb}" /usr/bin/approval-broker /usr/bin/approvalctl \
  /lib/systemd/system/approval-broker.service \
  /etc/approval-broker/config.jsonc /etc/approval-broker/policy.example.jsonc
mkdir "${tmp}/control"
dpkg-deb --control "${broker_deb}" "${tmp}/control"
diff <(sort "${tmp}/control/conffiles") \
  <(printf '%s\n' /etc/approval-broker/config.jsonc \
    /etc/approval-broker/policy.example.jsonc) ||
  fail "conffiles: expected exactly config.jsonc and policy.example.jsonc"
grep -qE '^[[:space:]]*adduser --system' "${tmp}/control/postinst" ||
  fail "postinst does not create the system user with adduser --system"
for script in postinst prerm postrm; do
  [[ -x "${tmp}/control/${script}" ]] || fail "${script} is not executable"
done

step "inspecting $(basename "${client_deb}")"
expect_field "${client_deb}" Package '^approval-client-dev$'
expect_field "${client_deb}" Depends 'libabsl-dev'
expect_field "${client_deb}" Depends 'libgrpc\+\+'
client_contents="$(dpkg-deb --contents "${client_deb}" | awk '{print $6}')"
for pattern in '/libapproval_client\.so$' '/libapproval_client\.so\.0$' \
  '/include/approval/client\.h$' \
  '/cmake/approval_client/approval_clientConfig\.cmake$' \
  '/cmake/approval_client/approval_clientTargets\.cmake$'; do
  grep -qE "^\./usr/${pattern#/}|^\./usr/.*${pattern}" <<<"${client_contents}" ||
    fail "approval-client-dev: nothing matches ${pattern}"
done

# --- Install ----------------------------------------------------------------
step "dpkg -i"
installed=1
dpkg -i "${broker_deb}" "${client_deb}" >"${tmp}/dpkg.log" 2>&1 || {
  cat "${tmp}/dpkg.log" >&2
  fail "dpkg -i failed"
}
getent passwd "${USER_NAME}" >/dev/null ||
  fail "postinst did not create the user ${USER_NAME}"
[[ "$(stat -c '%a %G' /etc/approval-broker)" == "750 ${USER_NAME}" ]] ||
  fail "/etc/approval-broker is $(stat -c '%a %G' /etc/approval-broker), \
expected 750 ${USER_NAME}"
# Read the whole listing first: `ldconfig -p | grep -q` under pipefail fails
# whenever grep matches before ldconfig has written everything (SIGPIPE).
ld_cache="$(ldconfig -p)"
grep -q 'libapproval_client\.so\.0 ' <<<"${ld_cache}" ||
  fail "libapproval_client.so.0 is not in the ld.so cache after install"

unit=/lib/systemd/system/approval-broker.service
grep -qx 'ExecStart=/usr/bin/approval-broker serve --config /etc/approval-broker/config.jsonc' \
  "${unit}" || fail "${unit}: ExecStart is not the installed broker"
grep -q '^ExecReload=' "${unit}" || fail "${unit}: no ExecReload"
set +e
complaints="$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "${unit}" 2>&1)"
rc=$?
set -e
if ((rc != 0)) || [[ -n "${complaints}" ]]; then
  fail "systemd-analyze verify ${unit} (exit ${rc}): ${complaints}"
fi

got="$(/usr/bin/approval-broker --version)" ||
  fail "approval-broker --version exited non-zero"
[[ "${got}" == "approval-broker ${version}" ]] ||
  fail "approval-broker --version printed '${got}', expected 'approval-broker ${version}'"

# --- Run --------------------------------------------------------------------
psql -q "${admin_url}" -c "CREATE DATABASE ${db}" >/dev/null
db_created=1
# The admin URL with the fresh database as its path.
base="${admin_url%%\?*}"
query="${admin_url:${#base}}"
db_url="${base%/*}/${db}${query}"

step "approval-broker migrate"
/usr/bin/approval-broker migrate --database-url "${db_url}" \
  >"${tmp}/migrate.log" 2>&1 || {
  cat "${tmp}/migrate.log" >&2
  fail "migrate failed"
}

# A config the packaged user can read: the installed example policy, a
# signing key and one admin token.
conf="${tmp}/conf"
mkdir "${conf}"
openssl genpkey -algorithm ed25519 -out "${conf}/signing-key.pem" 2>/dev/null
token="$(openssl rand -hex 24)"
printf '{"tokens": [{"sha256": "%s", "identity": "pkg-admin", "roles": ["admin"]}]}\n' \
  "$(printf %s "${token}" | sha256sum | cut -d' ' -f1)" >"${conf}/tokens.json"
cat >"${conf}/config.jsonc" <<CONF
{
  "auth": {"tokens_file": "tokens.json"},
  "signing_key_file": "signing-key.pem",
  "policy_file": "/etc/approval-broker/policy.example.jsonc"
}
CONF
chgrp -R "${USER_NAME}" "${tmp}"
chmod 0750 "${tmp}" "${conf}"
chmod 0640 "${conf}"/*

step "approval-broker serve (as ${USER_NAME}, port 0)"
log="${tmp}/serve.log"
# setpriv execs the broker itself, so the signal below reaches it directly.
setpriv --reuid="${USER_NAME}" --regid="${USER_NAME}" --init-groups \
  /usr/bin/approval-broker serve \
  --config "${conf}/config.jsonc" --database-url "${db_url}" \
  --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 >"${log}" 2>&1 &
serve_pid=$!
# Wait (30 s at most) for the record naming the bound ports; tail --pid
# ends when the broker dies, so an early exit ends the wait too.
if ! timeout 30 grep -m1 -q 'serving gRPC on ' \
  <(tail --pid="${serve_pid}" -n +1 -F "${log}" 2>/dev/null); then
  cat "${log}" >&2
  fail "serve did not log 'serving gRPC on' within 30 s (or exited first)"
fi
line="$(grep -m1 'serving gRPC on ' "${log}")"
grpc_addr="$(sed -E 's/.*serving gRPC on ([^ ]+) .*/\1/' <<<"${line}")"
metrics_url="$(sed -E 's|.*metrics on (http://[^ ]+/metrics).*|\1|' <<<"${line}")"

# Healthy: the installed approvalctl reaches it (gRPC, auth, database) and
# the metrics endpoint answers.
export APPROVAL_BROKER_TOKEN="${token}"
/usr/bin/approvalctl --addr "${grpc_addr}" pending -o json \
  >"${tmp}/pending.json" 2>&1 || {
  cat "${tmp}/pending.json" "${log}" >&2
  fail "approvalctl pending against the installed broker failed"
}
/usr/bin/approvalctl --addr "${grpc_addr}" audit verify >"${tmp}/verify.txt" 2>&1 || {
  cat "${tmp}/verify.txt" "${log}" >&2
  fail "approvalctl audit verify against the installed broker failed"
}
# Into a file first: grep -q stopping early would SIGPIPE curl (pipefail).
curl -fsS -o "${tmp}/metrics.txt" "${metrics_url}" ||
  fail "${metrics_url} did not answer"
grep -q '^approval_' "${tmp}/metrics.txt" ||
  fail "${metrics_url} shows no approval_ metric"

step "stopping the broker (SIGTERM)"
kill -TERM "${serve_pid}"
set +e
wait "${serve_pid}"
rc=$?
set -e
serve_pid=""
((rc == 0)) || {
  cat "${log}" >&2
  fail "serve exited ${rc} on SIGTERM"
}

# --- Purge ------------------------------------------------------------------
step "dpkg --purge"
dpkg --purge "${PACKAGES[@]}" >"${tmp}/purge.log" 2>&1 || {
  cat "${tmp}/purge.log" >&2
  fail "dpkg --purge failed"
}
installed=0
for path in /usr/bin/approval-broker /usr/bin/approvalctl "${unit}" \
  /etc/approval-broker/config.jsonc; do
  [[ ! -e "${path}" ]] || fail "${path} is still there after dpkg --purge"
done
step "OK"
