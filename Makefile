# Circuitry — the commands a developer and CI use. `make help` lists them.
SWIFT ?= swift
# CI builds with warnings as errors; so does every target here.
STRICT := -Xswiftc -warnings-as-errors
# The stores that need SwiftNIO are package traits, off by default. The tests build and run with all of them.
TRAITS := --enable-all-traits

.PHONY: help build test check-default-traits man check-man demo demo-postgres bench bench-postgres bench-dynamodb lint \
	format clean

help:
	@echo "make demo   - the job-queue demo on an embedded SQLite database (release build)"
	@echo "make demo-postgres - the same demo with the breakers on a throw-away PostgreSQL 15 server"
	@echo "make test   - build with warnings as errors and every trait, run every test, then build with the"
	@echo "              default traits (SQLite only)"
	@echo "make build  - debug build of everything, every trait"
	@echo "make bench  - the benchmark against the raw SQLite floor (release build)"
	@echo "make bench-postgres - the PostgreSQL store against its floors, beside SQLite, on a throw-away server"
	@echo "make bench-dynamodb - the DynamoDB store's requests and time per call, beside SQLite, on a throw-away moto"
	@echo "make man    - the man page of circuitry, from its help (ArgumentParser's generate-manual plugin):"
	@echo "              $(MAN_PAGE)"
	@echo "make lint   - swift format lint --strict"

build:
	$(SWIFT) build --build-tests $(TRAITS) $(STRICT)

test: build
	$(SWIFT) test --skip-build $(TRAITS)
	$(MAKE) check-default-traits
	$(MAKE) check-man

# What a package that depends on Circuitry without traits gets: everything builds (in a build folder of its own, so
# that the traits of the main one stay as they are), and `circuitry` refuses a postgres:// URL saying how to get it.
check-default-traits:
	$(SWIFT) build --build-tests --scratch-path .build-default $(STRICT)
	@out=$$(.build-default/debug/circuitry list --db postgres://user@localhost/db 2>&1); status=$$?; \
	if [ $$status -ne 64 ] || ! echo "$$out" | grep -q "package trait Postgres"; then \
		echo "check-default-traits: expected status 64 and the trait's name, got $$status: $$out" >&2; exit 1; \
	fi; echo "check-default-traits: the default circuitry refuses postgres:// and names the trait"
	@out=$$(.build-default/debug/circuitry list --db 'dynamodb://circuits?region=eu-west-1' 2>&1); status=$$?; \
	if [ $$status -ne 64 ] || ! echo "$$out" | grep -q "package trait DynamoDB"; then \
		echo "check-default-traits: expected status 64 and the trait's name, got $$status: $$out" >&2; exit 1; \
	fi; echo "check-default-traits: the default circuitry refuses dynamodb:// and names the trait"

# The man page of `circuitry`, generated from its own help by ArgumentParser's generate-manual plugin, on the debug build
# that `make build` makes (the page does not depend on the configuration). Read it with `man -l $(MAN_PAGE)`, or install
# it in a man1 folder. The plugin writes a page for each executable that uses ArgumentParser; this is the command's.
MAN_PAGE := .build/plugins/GenerateManual/outputs/CircuitryCLI/circuitry.1

man:
	$(SWIFT) package $(TRAITS) generate-manual --configuration debug
	@echo "man page: $(MAN_PAGE)"

# What `make test` checks of `make man`: a page, with every subcommand of the command.
check-man: man
	@for subcommand in run list show trip close reset forget history prune init; do \
		grep -q "^\.It Em $$subcommand$$" $(MAN_PAGE) || { echo "check-man: no $$subcommand in $(MAN_PAGE)" >&2; exit 1; }; \
	done; echo "check-man: $(MAN_PAGE) has every subcommand"

demo:
	$(SWIFT) run -c release circuitry-demo

# A debug build (the one `make test` makes): a release build of SwiftNIO takes over ten minutes on 2 cores, and the
# demo does not need the speed. To use a server of your own: circuitry-demo --db postgres://…
demo-postgres: build
	scripts/with-postgres.sh sh -c 'exec "$$0" --db "$$CIRCUITRY_POSTGRES_URL"' \
		"$$($(SWIFT) build $(TRAITS) --show-bin-path)/circuitry-demo"

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

# Extra flags: `make bench-dynamodb BENCH_DYNAMODB_ARGS="--rounds 3"` (see `circuitry-bench-dynamodb --help`). It starts
# a throw-away moto server itself (pip install 'moto[server]'), or uses `--endpoint URL`. A debug build (the one
# `make test` makes): the figures are dominated by the server's latency, and what carries over to AWS is the
# requests per call.
BENCH_DYNAMODB_ARGS ?=

bench-dynamodb: build
	"$$($(SWIFT) build $(TRAITS) --show-bin-path)/circuitry-bench-dynamodb" $(BENCH_DYNAMODB_ARGS)

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests Examples Benchmarks

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests Examples Benchmarks

clean:
	rm -rf .build .build-*
