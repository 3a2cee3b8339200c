#!/usr/bin/env python3
"""Samples how long the benchmark's processes wait for a core while `make bench-postgres` runs.

Every 50 ms it reads /proc/<pid>/task/<tid>/schedstat (time on a core, time runnable but waiting for one) of every
thread of the benchmark's worker processes (children of the pid given first) and of the PostgreSQL server's
processes (the postmaster, given second, and its children), and /proc/stat's
procs_running. At the end (SIGTERM or SIGINT) it prints, per group, CPU time and run-queue wait over the sampled
period, and the longest wait a single thread accumulated within one 100 ms and one 1 s window — the size of stall a call can
meet without any lock or server wait. Used by Benchmarks/postgres-tail/run.sh; see Docs/performance.md.
"""
import os
import signal
import sys
import time

INTERVAL = 0.05
WINDOW = 2  # samples per short window (100 ms)
LONG = 20  # samples per long window (1 s)


def parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        return None


def worker_kind(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            arguments = f.read().split(b"\0")
        return arguments[arguments.index(b"--worker") + 1].decode()
    except (OSError, ValueError, IndexError):
        return "other"


def groups():
    """The worker processes of this run's benchmark and the processes of this run's server, by parent."""
    found = {postmaster: "server"}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            owner = parent(pid)
            if owner == coordinator:
                found[pid] = f"{worker_kind(pid)} workers"
            elif owner == postmaster:
                found[pid] = "server"
    return found


def threads(pid):
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def schedstat(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            on_cpu, waiting, _ = f.read().split()
            return int(on_cpu), int(waiting)
    except (OSError, ValueError):
        return None


def running():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("procs_running"):
                return int(line.split()[1])
    return 0


coordinator, postmaster = sys.argv[1], sys.argv[2]
stop = False


def finish(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, finish)
signal.signal(signal.SIGINT, finish)

last = {}
totals = {}
history = {}  # (pid, tid) -> list of waiting deltas, newest last
worst = {}
worst_long = {}
runnable = []
active_samples = 0
while not stop:
    found = groups()
    working = any(kind.endswith("workers") for kind in found.values())
    if working:
        active_samples += 1
        runnable.append(running())
    for pid, kind in found.items():
        for tid in threads(pid):
            now = schedstat(pid, tid)
            if now is None:
                continue
            key = (pid, tid)
            before = last.get(key)
            last[key] = now
            if before is None or not working:
                continue
            cpu, wait = now[0] - before[0], now[1] - before[1]
            total = totals.setdefault(kind, [0, 0])
            total[0] += cpu
            total[1] += wait
            window = history.setdefault(key, [])
            window.append(wait)
            del window[:-LONG]
            worst[kind] = max(worst.get(kind, 0), sum(window[-WINDOW:]))
            worst_long[kind] = max(worst_long.get(kind, 0), sum(window))
    time.sleep(INTERVAL)

seconds = active_samples * INTERVAL
print(f"schedstat: {active_samples} samples while workers ran (~{seconds:.1f} s)")
if runnable:
    runnable.sort()
    print(f"schedstat: runnable tasks on the machine: median {runnable[len(runnable) // 2]}, max {runnable[-1]}")
for kind, (cpu, wait) in totals.items():
    print(
        f"schedstat: {kind}: on a core {cpu / 1e9:.2f} s, runnable but waiting {wait / 1e9:.2f} s "
        f"({(wait / cpu if cpu else 0):.2f} s waiting per s on a core); longest wait of one thread "
        f"within 100 ms: {worst[kind] / 1e6:.1f} ms, within 1 s: {worst_long[kind] / 1e6:.1f} ms"
    )
sys.stdout.flush()
