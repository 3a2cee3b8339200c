"""One pybreaker worker process of `circuitry-bench-redis`: the same protocol as the benchmark's own workers.

It prints `ready`, waits for `go` on standard input, calls through one pybreaker 1.4 CircuitBreaker whose state lives
in Redis (CircuitRedisStorage, shared by every worker through --namespace), writes each call's latency in nanoseconds
to --samples (native unsigned 64-bit integers) and prints its result as one line of JSON.

Kinds:
  healthy   no-op successful calls, for --seconds
  failing   calls that raise, with fail_max so high the circuit never opens, for --seconds
  rejected  calls while the circuit is open (opened first by this process), for --seconds
  open      one failing call with fail_max=1: opens the circuit for the half-open check
  halfopen  one call of 50 ms through a circuit opened by `open` whose reset timeout has passed; reports whether the
            call ran (pybreaker lets every process's first call after the timeout run as its own trial)
"""

import argparse
import array
import json
import sys
import time

import pybreaker
import redis


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--kind", required=True)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--samples", default="")
    parser.add_argument("--reset-timeout", type=float, default=60.0)
    arguments = parser.parse_args()

    # pybreaker's storage reads bytes: no decode_responses.
    client = redis.Redis.from_url(arguments.redis)
    kind = arguments.kind
    fail_max = {"failing": 10**9, "open": 1, "halfopen": 1, "rejected": 1}.get(kind, 5)
    storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client, namespace=arguments.namespace)
    breaker = pybreaker.CircuitBreaker(
        fail_max=fail_max, reset_timeout=arguments.reset_timeout if kind in ("open", "halfopen") else 3600,
        state_storage=storage)

    def ok():
        return None

    def boom():
        raise RuntimeError("upstream down")

    if kind == "rejected":
        while breaker.current_state != pybreaker.STATE_OPEN:
            try:
                breaker.call(boom)
            except Exception:
                pass

    # Warm-up: the connection and the first reads.
    if kind == "healthy":
        for _ in range(200):
            breaker.call(ok)

    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go from the parent")

    result = {"operations": 0, "seconds": 0.0, "failures": 0, "peakKiB": 0, "currentKiB": 0,
              "openNanoseconds": 0, "busyWaitNanoseconds": 0, "busyWaits": 0}
    if kind in ("open", "halfopen"):
        ran = []

        def trial():
            ran.append(1)
            time.sleep(0.05)

        try:
            breaker.call(trial if kind == "halfopen" else boom)
        except Exception:
            pass
        result["operations"] = len(ran)
        print(json.dumps(result), flush=True)
        return

    call = {"healthy": ok, "failing": boom, "rejected": ok}[kind]
    samples = array.array("Q")
    start = time.perf_counter_ns()
    deadline = start + int(arguments.seconds * 1e9)
    now = start
    failures = 0
    while now < deadline:
        try:
            breaker.call(call)
        except pybreaker.CircuitBreakerError:
            failures += 1
        except RuntimeError:
            failures += 1
        after = time.perf_counter_ns()
        samples.append(after - now)
        now = after
    if arguments.samples:
        with open(arguments.samples, "wb") as file:
            samples.tofile(file)
    result["operations"] = len(samples)
    result["seconds"] = (now - start) / 1e9
    result["failures"] = failures
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
