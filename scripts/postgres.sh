#!/usr/bin/env bash
# Starts the machine's PostgreSQL 15 cluster for CI and development, makes sure a `tidepool` role and database
# exist (password auth over TCP on 127.0.0.1), and prints `DATABASE_URL=postgres://...` on stdout.
# Safe to run again: every step checks before it acts. Progress goes to stderr so stdout stays eval-able:
#   eval "export $(scripts/postgres.sh)"
set -euo pipefail

VERSION="${TIDEPOOL_PG_VERSION:-15}"
CLUSTER="${TIDEPOOL_PG_CLUSTER:-main}"
ROLE=tidepool
PASSWORD="${TIDEPOOL_PG_PASSWORD:-tidepool}"
DATABASE=tidepool

say() { echo "postgres.sh: $*" >&2; }
die() { say "$*"; exit 1; }

command -v pg_ctlcluster >/dev/null 2>&1 && command -v pg_lsclusters >/dev/null 2>&1 ||
  die "PostgreSQL is not installed (no pg_ctlcluster). On Debian/Ubuntu: apt-get install postgresql-${VERSION}"
[[ -d "/etc/postgresql/${VERSION}/${CLUSTER}" ]] ||
  die "PostgreSQL ${VERSION} cluster '${CLUSTER}' not found (pg_lsclusters lists what exists). Install postgresql-${VERSION}."

# Runs a command as the cluster's superuser, whether we are root or already that user.
as_postgres() {
  if [[ "$(id -un)" == postgres ]]; then "$@"
  elif [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"
  else sudo -n -u postgres -- "$@" || die "need root or passwordless sudo to act as the postgres user"
  fi
}

status="$(pg_lsclusters --no-header "${VERSION}" "${CLUSTER}" | awk '{print $4}')"
if [[ "${status}" != online ]]; then
  say "starting cluster ${VERSION}/${CLUSTER}"
  # Its own messages ("Removed stale pid file.") go to stderr: stdout carries only the URL.
  pg_ctlcluster "${VERSION}" "${CLUSTER}" start >&2 || die "could not start the cluster; see /var/log/postgresql/postgresql-${VERSION}-${CLUSTER}.log"
fi
PORT="$(pg_lsclusters --no-header "${VERSION}" "${CLUSTER}" | awk '{print $3}')"

psql_super() { as_postgres psql --no-psqlrc -v ON_ERROR_STOP=1 -p "${PORT}" -qtA "$@"; }

# The server accepts connections a moment after pg_ctlcluster returns on slow machines.
for _ in $(seq 1 30); do psql_super -c 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
psql_super -c 'select 1' >/dev/null || die "the cluster started but does not accept connections on port ${PORT}"

if [[ "$(psql_super -c "select 1 from pg_roles where rolname = '${ROLE}'")" != 1 ]]; then
  say "creating role ${ROLE}"
  psql_super -c "create role ${ROLE} login password '${PASSWORD}'"
else
  psql_super -c "alter role ${ROLE} login password '${PASSWORD}'"
fi
if [[ "$(psql_super -c "select 1 from pg_database where datname = '${DATABASE}'")" != 1 ]]; then
  say "creating database ${DATABASE}"
  psql_super -c "create database ${DATABASE} owner ${ROLE}"
fi

URL="postgres://${ROLE}:${PASSWORD}@127.0.0.1:${PORT}/${DATABASE}"
PGPASSWORD="${PASSWORD}" psql --no-psqlrc -qtA "${URL}" -c 'select 1' >/dev/null ||
  die "role ${ROLE} cannot log in over TCP; check pg_hba.conf allows password auth on 127.0.0.1"
say "ready on 127.0.0.1:${PORT}"
echo "DATABASE_URL=${URL}"
