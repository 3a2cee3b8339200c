#!/bin/sh
# Instructions per operation of single-process benchmark cases, counted by valgrind (callgrind), which gives the same
# count on a busy machine as on a quiet one. Each case runs alone twice, with LOW and HIGH operations; the difference
# of the two counts divided by HIGH - LOW is the cost of one operation without the set-up (opening the store, making
# the breakers, tripping the open circuit).
#
#   Benchmarks/instructions.sh [BINARY] [CASE ...]
#
# BINARY defaults to .build/release/circuitry-bench (`swift build -c release --product circuitry-bench`); CASE to
# the SQLite and in-memory breaker cases and the floors. LOW and HIGH come from the environment (default 2000 and
# 12000). Counts include every thread and SQLite; system calls count as one instruction each, so the kernel's share
# (file locks, the write-ahead log's writes) is not in them: time it with `make bench`.
set -eu
binary=${1:-.build/release/circuitry-bench}
[ $# -gt 0 ] && shift
low=${LOW:-2000}
high=${HIGH:-12000}
if [ $# -eq 0 ]; then
    set -- floor.read_ns floor.write_tx_ns sqlite.execute_success_ns sqlite.two_step_success_ns \
        sqlite.execute_rejected_open_ns sqlite.execute_failure_ns sqlite.two_step_failure_ns \
        memory.execute_success_ns memory.execute_rejected_open_ns memory.execute_failure_ns
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count() {
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$binary" --profile "$1" --operations "$2" \
        >/dev/null 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
    sed -n 's/^summary: //p' "$work/out"
}
printf '%-36s %12s\n' case instructions/op
for case in "$@"; do
    a=$(count "$case" "$low")
    b=$(count "$case" "$high")
    printf '%-36s %12d\n' "$case" $(( (b - a) / (high - low) ))
done
