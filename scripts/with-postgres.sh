#!/usr/bin/env bash
# Runs a command beside a throw-away PostgreSQL 15 server:
#   scripts/with-postgres.sh COMMAND [ARGS...]
# The server runs in a fresh temporary folder on a free loopback port, with trust authentication, as the
# invoking user (as `nobody` when that is root, since PostgreSQL refuses to run as root). COMMAND sees its URL
# in CIRCUITRY_POSTGRES_URL. The server is stopped and the folder removed when COMMAND ends, however it ends.
set -euo pipefail
bin=${POSTGRES_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$bin/initdb" ]; then
    echo "with-postgres: $bin/initdb is missing; install Debian's postgresql-15 package" >&2
    exit 69
fi
folder=$(mktemp -d /tmp/circuitry-pg-XXXXXX)
chmod 755 "$folder"
as_server=()
if [ "$(id -u)" = 0 ]; then
    chown nobody:nogroup "$folder"
    as_server=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
    "${as_server[@]}" "$bin/pg_ctl" -D "$folder/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$folder"
}
trap stop EXIT
"${as_server[@]}" "$bin/initdb" -D "$folder/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >/dev/null
"${as_server[@]}" "$bin/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w -t 30 \
    -o "-h 127.0.0.1 -p $port -k $folder -c fsync=off -c max_connections=200" start >/dev/null
export CIRCUITRY_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL 15 at $CIRCUITRY_POSTGRES_URL (stopped when the command ends)" >&2
status=0
"$@" || status=$?
exit $status
