#!/usr/bin/env bash
# Runs Debian's PostgreSQL as one stateful shoal instance:
#   command = ["scripts/postgres-instance.sh"]   with   stateful = true
# The cluster lives in the instance's volume ($SHOAL_VOLUME/pgdata, created by initdb on the
# first start, kept afterwards) and listens on 127.0.0.1:$PORT, with its socket in the volume.
# PostgreSQL refuses to run as root: when shoal runs as root, the server runs as the `postgres`
# user (setpriv execs it directly, so shoal's signals reach the server itself).
set -euo pipefail
volume="${SHOAL_VOLUME:?run this as a stateful shoal service (SHOAL_VOLUME is not set)}"
port="${PORT:?PORT is not set}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$bin/postgres" ] || { echo "PostgreSQL is not installed (scripts/install-deps.sh test installs it)" >&2; exit 1; }
data="$volume/pgdata"
as=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$volume"
  as=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
if [ ! -s "$data/PG_VERSION" ]; then
  "${as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
fi
exec "${as[@]}" "$bin/postgres" -D "$data" -p "$port" -k "$volume" -c listen_addresses=127.0.0.1
