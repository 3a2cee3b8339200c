#!/usr/bin/env bash
# `make dashboard`: the demo's worker processes, run after run, on one SQLite file, and `circuitry serve` over it:
#   scripts/dashboard-demo.sh BIN_FOLDER [HOST:PORT]
# BIN_FOLDER holds circuitry (built with the trait Dashboard) and circuitry-demo. Open the printed address: the
# failing tenant's circuit trips and recovers in the page as each run goes. ^C stops both; the folder is removed.
set -euo pipefail
bin=$1
listen=${2:-127.0.0.1:8080}
folder=$(mktemp -d /tmp/circuitry-dashboard-XXXXXX)
db="$folder/breakers.sqlite"
serve=""
stop() {
    if [ -n "$serve" ]; then
        kill -TERM "$serve" 2>/dev/null || true
        wait "$serve" 2>/dev/null || true
    fi
    rm -rf "$folder"
}
trap stop EXIT
trap 'exit 130' INT TERM
"$bin/circuitry" init --db "$db" >/dev/null
"$bin/circuitry" serve --db "$db" --listen "$listen" &
serve=$!
echo "dashboard: the demo runs again and again on $db; ^C to stop"
run=0
while kill -0 "$serve" 2>/dev/null; do
    run=$((run + 1))
    echo "dashboard: demo run $run (its output: $folder/demo.log)"
    "$bin/circuitry-demo" --db "$db" >"$folder/demo.log" 2>&1 || echo "dashboard: the demo failed; see $folder/demo.log"
    sleep 2
done
