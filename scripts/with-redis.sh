#!/usr/bin/env bash
# Runs a command beside a throw-away redis-server:
#   scripts/with-redis.sh COMMAND [ARGS...]
# The server runs in a fresh temporary folder on a free loopback port, without persistence. COMMAND sees its URL in
# CIRCUITRY_REDIS_URL. The server is stopped and the folder removed when COMMAND ends, however it ends.
set -euo pipefail
server=${REDIS_SERVER:-/usr/bin/redis-server}
if [ ! -x "$server" ]; then
    echo "with-redis: $server is missing; install Debian's redis-server package" >&2
    exit 69
fi
folder=$(mktemp -d /tmp/circuitry-redis-XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
    if [ -f "$folder/server.pid" ]; then
        pid=$(cat "$folder/server.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$folder"
}
trap stop EXIT
"$server" --port "$port" --bind 127.0.0.1 --dir "$folder" --save '' --appendonly no --daemonize yes \
    --pidfile "$folder/server.pid" --logfile "$folder/server.log" >/dev/null
for _ in $(seq 1 300); do
    [ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = "PONG" ] && break
    sleep 0.1
done
export CIRCUITRY_REDIS_URL="redis://127.0.0.1:$port/0"
echo "with-redis: redis-server $("$server" --version | sed 's/.*v=\([^ ]*\).*/\1/') at $CIRCUITRY_REDIS_URL (stopped when the command ends)" >&2
status=0
"$@" || status=$?
exit $status
