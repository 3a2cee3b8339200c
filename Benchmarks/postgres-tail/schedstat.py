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
SHORT = 0.1  # seconds of the short window
LONG = 1.0  # seconds of the long window


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
history = {}  # (pid, tid) -> list of (sample time, waiting delta), newest last
worst = {}
worst_long = {}
runnable = []
gaps = []
previous = None
active_samples = 0
while not stop:
    sampled = time.monotonic()
    found = groups()
    working = any(kind.endswith("workers") for kind in found.values())
    if working:
        if previous is not None:
            gaps.append(sampled - previous)
        previous = sampled
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
            # The wait accumulated since the previous sample belongs to the interval ending now; a window of
            # `SHORT` seconds takes the samples whose intervals lie within it (the sampler itself may be late).
            window = history.setdefault(key, [])
            window.append((sampled, wait))
            while window and window[0][0] <= sampled - LONG:
                del window[0]
            worst[kind] = max(worst.get(kind, 0), sum(w for t, w in window if t > sampled - SHORT))
            worst_long[kind] = max(worst_long.get(kind, 0), sum(w for _, w in window))
    time.sleep(INTERVAL)

seconds = sum(gaps)
gaps.sort()
print(f"schedstat: {active_samples} samples while workers ran (~{seconds:.1f} s); time between samples: median "
      f"{gaps[len(gaps) // 2] * 1e3:.0f} ms, max {gaps[-1] * 1e3:.0f} ms" if gaps else "schedstat: no samples")
if runnable:
    runnable.sort()
    print(f"schedstat: runnable tasks on the machine: median {runnable[len(runnable) // 2]}, max {runnable[-1]}")
for kind, (cpu, wait) in totals.items():
    print(
        f"schedstat: {kind}: on a core {cpu / 1e9:.2f} s, runnable but waiting {wait / 1e9:.2f} s "
        f"({(wait / cpu if cpu else 0):.2f} s waiting per s on a core); longest wait of one thread "
        f"within 100 ms: {worst[kind] / 1e6:.1f} ms, within 1 s: {worst_long[kind] / 1e6:.1f} ms (windows of whole "
        f"sampling intervals)"
    )
sys.stdout.flush()
