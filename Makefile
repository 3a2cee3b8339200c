# Circuitry — the commands a developer and CI use. `make help` lists them.
SWIFT ?= swift
# CI builds with warnings as errors; so does every target here.
STRICT := -Xswiftc -warnings-as-errors
# The stores that need SwiftNIO are package traits, off by default. The tests build and run with all of them.
TRAITS := --enable-all-traits

.PHONY: help build test check-default-traits check-man man check-dependent docs check-examples fuzz demo demo-postgres \
	demo-redis dashboard dashboard-screenshot bench bench-postgres bench-redis bench-dynamodb lint format clean

help:
	@echo "make demo   - the job-queue demo on an embedded SQLite database (release build)"
	@echo "make demo-postgres - the same demo with the breakers on a throw-away PostgreSQL 15 server"
	@echo "make demo-redis - the same demo with the breakers on a throw-away redis-server"
	@echo "make dashboard - the demo's workers, run after run, and circuitry serve on http://$(DASHBOARD_LISTEN)"
	@echo "make dashboard-screenshot - Docs/dashboard.png, the page in headless Chromium"
	@echo "make test   - build with warnings as errors and every trait, run every test, then build with the"
	@echo "              default traits (SQLite only), check the man page, what a dependent resolves, and make docs"
	@echo "make docs   - the DocC documentation of every library, warnings as errors, after checking that every Swift"
	@echo "              example in the README, the articles and the doc comments is a compiled snippet"
	@echo "make fuzz   - random operation sequences against the breaker for FUZZ_SECONDS per store (default 120)"
	@echo "make build  - debug build of everything, every trait"
	@echo "make bench  - the benchmark against the raw SQLite floor (release build)"
	@echo "make bench-postgres - the PostgreSQL store against its floors, beside SQLite, on a throw-away server"
	@echo "make bench-redis - the Redis store beside pybreaker's Redis storage and a GET + SET floor, on a"
	@echo "              throw-away redis-server (pybreaker in a throw-away virtual environment)"
	@echo "make bench-dynamodb - the DynamoDB store's requests and time per call, beside SQLite, on a throw-away moto"
	@echo "make man    - the man page of circuitry, from its help (ArgumentParser's generate-manual plugin):"
	@echo "              $(MAN_PAGE)"
	@echo "make lint   - swift format lint --strict"

build:
	$(SWIFT) build --build-tests $(TRAITS) $(STRICT)

# The test targets run one after another: each starts its own servers and worker processes, and on 2 cores their
# timing bounds are about the code under test, not about sharing the machine with another target's servers.
TEST_TARGETS := CircuitryTests CircuitryCLITests CircuitryPostgresTests CircuitryRedisTests CircuitryDynamoDBTests \
	CircuitryProcessTests CircuitryDashboardTests

test: build
	@failed=""; for target in $(TEST_TARGETS); do \
		echo "── $$target"; \
		$(SWIFT) test --skip-build $(TRAITS) --filter "^$$target\." || failed="$$failed $$target"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: failed:$$failed" >&2; exit 1; fi
	$(MAKE) check-default-traits
	$(MAKE) check-man
	$(MAKE) check-dependent
	$(MAKE) docs

# What a package that depends on Circuitry without traits gets: every product, the demo and the benchmarks build (in a
# build folder of its own, so that the traits of the main one stay as they are; the tests are built with every trait
# above, and not again here, to keep CI's run short), and `circuitry` refuses each server's URL naming its trait.
check-default-traits:
	$(SWIFT) build --scratch-path .build-default $(STRICT)
	@for case in "postgres://user@localhost/db Postgres" "redis://localhost Redis" \
		"dynamodb://circuits?region=eu-west-1 DynamoDB"; do \
		set -- $$case; \
		out=$$(.build-default/debug/circuitry list --db "$$1" 2>&1); status=$$?; \
		if [ $$status -ne 64 ] || ! echo "$$out" | grep -q "package trait $$2"; then \
			echo "check-default-traits: $$1: expected status 64 and the trait's name, got $$status: $$out" >&2; \
			exit 1; \
		fi; \
		echo "check-default-traits: the default circuitry refuses $$1 and names the trait $$2"; \
	done
	@out=$$(.build-default/debug/circuitry serve --db .build-default/none.sqlite 2>&1); status=$$?; \
	if [ $$status -ne 64 ] || ! echo "$$out" | grep -q "package trait Dashboard"; then \
		echo "check-default-traits: serve: expected status 64 and the trait's name, got $$status: $$out" >&2; \
		exit 1; \
	fi; \
	echo "check-default-traits: the default circuitry refuses serve and names the trait Dashboard"
	@if [ -e .build-default/debug/Hummingbird.build ] || [ -e .build-default/debug/Prometheus.build ]; then \
		echo "check-default-traits: the default build built Hummingbird or swift-prometheus" >&2; exit 1; \
	fi; echo "check-default-traits: the default build builds neither Hummingbird nor swift-prometheus"

# A package that depends on Circuitry's `Circuitry` product without traits resolves swift-log, swift-metrics and
# swift-argument-parser, and nothing else: not SwiftNIO, not the documentation plugin (a command plugin no target
# uses). Checked on a throw-away package in a temporary folder (resolving only: nothing is built).
check-dependent:
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && mkdir -p "$$dir/Sources/Dependent" && \
	printf '%s\n' '// swift-tools-version: 6.1' 'import PackageDescription' 'let package = Package(' \
		'    name: "Dependent", platforms: [.macOS(.v15)],' \
		'    dependencies: [.package(name: "Circuitry", path: "$(CURDIR)")],' \
		'    targets: [.target(name: "Dependent", dependencies: [.product(name: "Circuitry", package: "Circuitry")])])' \
		> "$$dir/Package.swift" && \
	echo 'import Circuitry' > "$$dir/Sources/Dependent/Dependent.swift" && \
	(cd "$$dir" && $(SWIFT) package resolve >/dev/null 2>&1) && \
	pins=$$(python3 -c 'import json,sys; print(" ".join(sorted(p["identity"] for p in json.load(open(sys.argv[1]))["pins"])))' \
		"$$dir/Package.resolved") && \
	if [ "$$pins" != "swift-argument-parser swift-log swift-metrics" ]; then \
		echo "check-dependent: a package using only Circuitry resolves: $$pins" >&2; exit 1; \
	fi && echo "check-dependent: a package using only Circuitry resolves $$pins"

# Every Swift example a reader sees (README.md, CONTRIBUTING.md, the DocC articles, the doc comments) is quoted from a
# snippet in Snippets/, which `swift build` compiles (so `make build` fails on a broken one), or from the example
# manifest Examples/Dependent/Package.swift, which `swift package dump-package` evaluates.
check-examples:
	python3 scripts/check-examples.py
	cd Examples/Dependent && $(SWIFT) package dump-package >/dev/null

# The DocC catalogs (Sources/<module>/<module>.docc) with every trait, so that the server stores' modules have their
# symbols, and with warnings as errors: a broken symbol link, an article that does not resolve or an undocumented
# parameter fails. With the same flags as `make build`, so that only the documented modules are compiled again. The
# archives are in .build/plugins/Swift-DocC/outputs/.
DOCS_TARGETS := Circuitry CircuitryPostgres CircuitryRedis CircuitryDynamoDB CircuitryStores CircuitryServiceLifecycle

docs: check-examples
	$(SWIFT) package $(TRAITS) $(STRICT) generate-documentation $(addprefix --target ,$(DOCS_TARGETS)) --warnings-as-errors

# Random operation sequences (Tests/CircuitryTests/FuzzTests.swift) for FUZZ_SECONDS per store, numbered from
# FUZZ_SEED (default: the time, so that each run explores new ones); `make test` runs seeds 1… for 1.5 s. A failure
# prints its seed and the shortest failing sequence: `make fuzz FUZZ_SEED=<seed> FUZZ_SECONDS=0` runs it again.
FUZZ_SECONDS ?= 120
FUZZ_SEED ?= $(shell date +%s)

fuzz: build
	CIRCUITRY_FUZZ_SECONDS=$(FUZZ_SECONDS) CIRCUITRY_FUZZ_SEED=$(FUZZ_SEED) \
		$(SWIFT) test --skip-build $(TRAITS) --filter FuzzTests

# The man page of `circuitry`, generated from its own help by ArgumentParser's generate-manual plugin, on the debug build
# that `make build` makes (the page does not depend on the configuration). Read it with `man -l $(MAN_PAGE)`, or install
# it in a man1 folder. The plugin writes a page for each executable that uses ArgumentParser; this is the command's.
MAN_PAGE := .build/plugins/GenerateManual/outputs/CircuitryCLI/circuitry.1

man:
	$(SWIFT) package $(TRAITS) generate-manual --configuration debug
	@echo "man page: $(MAN_PAGE)"

# What `make test` checks of `make man`: a page, with every subcommand of the command.
check-man: man
	@for subcommand in run list show trip close reset forget history prune init serve; do \
		grep -q "^\.It Em $$subcommand$$" $(MAN_PAGE) || { echo "check-man: no $$subcommand in $(MAN_PAGE)" >&2; exit 1; }; \
	done; echo "check-man: $(MAN_PAGE) has every subcommand"

demo:
	$(SWIFT) run -c release circuitry-demo

# A debug build (the one `make test` makes): a release build of SwiftNIO takes over ten minutes on 2 cores, and the
# demo does not need the speed. To use a server of your own: circuitry-demo --db postgres://…
demo-postgres: build
	scripts/with-postgres.sh sh -c 'exec "$$0" --db "$$CIRCUITRY_POSTGRES_URL"' \
		"$$($(SWIFT) build $(TRAITS) --show-bin-path)/circuitry-demo"

# The same, on a throw-away redis-server. To use a server of your own: circuitry-demo --db redis://…
demo-redis: build
	scripts/with-redis.sh sh -c 'exec "$$0" --db "$$CIRCUITRY_REDIS_URL"' \
		"$$($(SWIFT) build $(TRAITS) --show-bin-path)/circuitry-demo"

# `circuitry serve` over the demo's workers (a debug build, the one `make test` makes), until ^C. Another address:
# make dashboard DASHBOARD_LISTEN=127.0.0.1:9000
DASHBOARD_LISTEN ?= 127.0.0.1:8080

dashboard: build
	scripts/dashboard-demo.sh "$$($(SWIFT) build $(TRAITS) --show-bin-path)" $(DASHBOARD_LISTEN)

# The picture in Docs/cli.md and the README: the page over circuits in every state, in headless Chromium (driven over
# the DevTools protocol, so that the picture is taken once the page has read the circuits and the event stream).
dashboard-screenshot: build
	CIRCUITRY_SCREENSHOT=$(CURDIR)/Docs/dashboard.png $(SWIFT) test --skip-build $(TRAITS) \
		--filter "CircuitryDashboardTests.PageTests/screenshot"

# Extra flags for the benchmark, e.g. `make bench BENCH_ARGS="--wal-seconds 10"` (see `circuitry-bench --help`).
BENCH_ARGS ?=

bench:
	$(SWIFT) run -c release $(STRICT) circuitry-bench $(BENCH_ARGS)

# Extra flags: `make bench-postgres BENCH_POSTGRES_ARGS="--scaling-runs 1"` (see `circuitry-bench-postgres --help`).
# Built first, so that the server runs only for the benchmark itself.
BENCH_POSTGRES_ARGS ?=

bench-postgres:
	$(SWIFT) build -c release $(TRAITS) $(STRICT) --product circuitry-bench-postgres
	scripts/with-postgres.sh "$$($(SWIFT) build -c release $(TRAITS) --show-bin-path)/circuitry-bench-postgres" \
		$(BENCH_POSTGRES_ARGS)

# Extra flags: `make bench-redis BENCH_REDIS_ARGS="--runs 1 --seconds 1"` (see `circuitry-bench-redis --help`).
# pybreaker 1.4 and redis-py go into a throw-away virtual environment in the build folder; the server runs only for
# the benchmark itself.
BENCH_REDIS_ARGS ?=
PYBREAKER_VENV := .build/pybreaker-venv

bench-redis:
	$(SWIFT) build -c release $(TRAITS) $(STRICT) --product circuitry-bench-redis
	[ -x $(PYBREAKER_VENV)/bin/python ] || python3 -m venv $(PYBREAKER_VENV)
	$(PYBREAKER_VENV)/bin/pip install -q "pybreaker==1.4.*" "redis>=5"
	scripts/with-redis.sh "$$($(SWIFT) build -c release $(TRAITS) --show-bin-path)/circuitry-bench-redis" \
		--python $(PYBREAKER_VENV)/bin/python --pybreaker-worker Benchmarks/Redis/pybreaker/worker.py \
		$(BENCH_REDIS_ARGS)

# Extra flags: `make bench-dynamodb BENCH_DYNAMODB_ARGS="--rounds 3"` (see `circuitry-bench-dynamodb --help`). It starts
# a throw-away moto server itself (pip install 'moto[server]'), or uses `--endpoint URL`. A debug build (the one
# `make test` makes): the figures are dominated by the server's latency, and what carries over to AWS is the
# requests per call.
BENCH_DYNAMODB_ARGS ?=

bench-dynamodb: build
	"$$($(SWIFT) build $(TRAITS) --show-bin-path)/circuitry-bench-dynamodb" $(BENCH_DYNAMODB_ARGS)

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests Examples Benchmarks Snippets

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests Examples Benchmarks Snippets

clean:
	rm -rf .build .build-*
