# Circuitry — the commands a developer and CI use. `make help` lists them.
SWIFT ?= swift
# CI builds with warnings as errors; so does every target here.
STRICT := -Xswiftc -warnings-as-errors

.PHONY: help build test fuzz demo demo-postgres bench bench-postgres lint format clean

help:
	@echo "make demo   - the job-queue demo on an embedded SQLite database (release build)"
	@echo "make demo-postgres - the same demo with the breakers on a throw-away PostgreSQL 15 server"
	@echo "make test   - build with warnings as errors and run every test"
	@echo "make fuzz   - random operation sequences against the breaker for FUZZ_SECONDS per store (default 120)"
	@echo "make build  - debug build of every product"
	@echo "make bench  - the benchmark against the raw SQLite floor (release build)"
	@echo "make bench-postgres - the PostgreSQL store against its floors, beside SQLite, on a throw-away server"
	@echo "make lint   - swift format lint --strict"

build:
	$(SWIFT) build $(STRICT)

test:
	$(SWIFT) build --build-tests $(STRICT)
	$(SWIFT) test --skip-build

# Random operation sequences (Tests/CircuitryTests/FuzzTests.swift) for FUZZ_SECONDS per store, numbered from
# FUZZ_SEED (default: the time, so that each run explores new ones); `make test` runs seeds 1… for 1.5 s. A failure
# prints its seed and the shortest failing sequence: `make fuzz FUZZ_SEED=<seed> FUZZ_SECONDS=0` runs it again.
FUZZ_SECONDS ?= 120
FUZZ_SEED ?= $(shell date +%s)

fuzz:
	$(SWIFT) build --build-tests $(STRICT)
	CIRCUITRY_FUZZ_SECONDS=$(FUZZ_SECONDS) CIRCUITRY_FUZZ_SEED=$(FUZZ_SEED) $(SWIFT) test --skip-build --filter FuzzTests

demo:
	$(SWIFT) run -c release circuitry-demo

# A debug build: a release build of SwiftNIO takes over ten minutes on 2 cores, and the demo does not need the speed.
# To use a server of your own: CIRCUITRY_POSTGRES_URL=postgres://… swift run circuitry-demo-postgres
demo-postgres:
	$(SWIFT) build $(STRICT) --product circuitry-demo-postgres
	scripts/with-postgres.sh "$$($(SWIFT) build --show-bin-path)/circuitry-demo-postgres"

# Extra flags for the benchmark, e.g. `make bench BENCH_ARGS="--wal-seconds 10"` (see `circuitry-bench --help`).
BENCH_ARGS ?=

bench:
	$(SWIFT) run -c release $(STRICT) circuitry-bench $(BENCH_ARGS)

# Extra flags: `make bench-postgres BENCH_POSTGRES_ARGS="--scaling-runs 1"` (see `circuitry-bench-postgres --help`).
# Its own executable (it compiles SwiftNIO, which `make bench` does not), run beside a throw-away PostgreSQL 15.
# Built first, so that the server runs only for the benchmark itself.
BENCH_POSTGRES_ARGS ?=

bench-postgres:
	$(SWIFT) build -c release $(STRICT) --product circuitry-bench-postgres
	scripts/with-postgres.sh "$$($(SWIFT) build -c release --show-bin-path)/circuitry-bench-postgres" $(BENCH_POSTGRES_ARGS)

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

clean:
	rm -rf .build .build-*
