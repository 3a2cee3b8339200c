#!/bin/sh
# Where the PostgreSQL benchmark's slowest calls wait: runs circuitry-bench-postgres on a throw-away server
# (scripts/with-postgres.sh) that logs every lock wait and every statement over 20 ms, while schedstat.py samples
# how long the workers' and the server's threads wait for a core. Prints the benchmark's table, the sampler's
# summary and the server's slow statements and lock waits. See Docs/performance.md.
#
#   Benchmarks/postgres-tail/run.sh [BINARY] [BENCHMARK ARGUMENTS ...]
#
# With TAIL_SERVER_NICE=-10 (root only) the server runs ahead of the workers for a core (see the script below).
#
# BINARY defaults to .build/release/circuitry-bench-postgres (`swift build -c release --traits Postgres
# --product circuitry-bench-postgres`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-.build/release/circuitry-bench-postgres}
[ $# -gt 0 ] && shift
export TAIL_BINARY="$binary" TAIL_HERE="$here"
exec "$here/../../scripts/with-postgres.sh" sh -c '
    set -eu
    psql=/usr/lib/postgresql/15/bin/psql
    "$psql" -q "$CIRCUITRY_POSTGRES_URL" -c "ALTER SYSTEM SET log_lock_waits = on" \
        -c "ALTER SYSTEM SET deadlock_timeout = 20" -c "ALTER SYSTEM SET log_min_duration_statement = 20" \
        -c "SELECT pg_reload_conf()" >/dev/null
    log=$(dirname "$("$psql" -At "$CIRCUITRY_POSTGRES_URL" -c "SHOW data_directory")")/server.log
    postmaster=$(head -1 "$("$psql" -At "$CIRCUITRY_POSTGRES_URL" -c "SHOW data_directory")/postmaster.pid")
    # TAIL_SERVER_NICE (e.g. -10, as root): the server and the backends it forks from now on run at that niceness,
    # ahead of the workers for a core: an experiment standing in for a server with cores of its own.
    if [ -n "${TAIL_SERVER_NICE:-}" ]; then renice -n "$TAIL_SERVER_NICE" -p "$postmaster" >/dev/null; fi
    "$TAIL_BINARY" "$@" &
    bench=$!
    python3 "$TAIL_HERE/schedstat.py" $bench "$postmaster" > /tmp/circuitry-tail-schedstat.$$ &
    sampler=$!
    wait $bench || status=$?
    kill -TERM $sampler; wait $sampler || true
    cat /tmp/circuitry-tail-schedstat.$$; rm -f /tmp/circuitry-tail-schedstat.$$
    echo "server: statements over 20 ms: $(grep -c "duration:" "$log" || true); lock waits over 20 ms: $(grep -c "still waiting" "$log" || true)"
    echo "server: the 5 longest statements (ms, what):"
    sed -n "s/.*duration: \([0-9.]*\) ms *\(.\{0,60\}\).*/\1 \2/p" "$log" | sort -rn | head -5
    echo "server: the 3 longest lock waits:"
    grep -o "acquired [A-Za-z]* on [a-z]* .* after [0-9.]* ms" "$log" | sed "s/.* after \([0-9.]*\) ms/\1 ms/" | sort -rn | head -3
    exit ${status:-0}
' run.sh "$@"
