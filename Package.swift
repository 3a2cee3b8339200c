// swift-tools-version: 6.1
import PackageDescription

// What ships is under Sources/; what proves it is under Tests/; the demo is under Examples/ and the benchmarks under
// Benchmarks/. Every store that needs SwiftNIO sits behind a package trait, none enabled by default, so that a package
// using only the SQLite store resolves swift-log, swift-metrics and swift-argument-parser and nothing else.
// `make test` builds and tests with every trait enabled.

let package = Package(
    name: "Circuitry",
    platforms: [.macOS(.v15)],
    products: [
        // The breakers, the SQLite store and the in-memory store.
        .library(name: "Circuitry", targets: ["Circuitry"]),
        // The factory as a swift-service-lifecycle `Service` that flushes batched successes (trait `ServiceLifecycle`).
        .library(name: "CircuitryServiceLifecycle", targets: ["CircuitryServiceLifecycle"]),
        // The PostgreSQL store (trait `Postgres`).
        .library(name: "CircuitryPostgres", targets: ["CircuitryPostgres"]),
        // The Redis store (trait `Redis`).
        .library(name: "CircuitryRedis", targets: ["CircuitryRedis"]),
        // The DynamoDB store (trait `DynamoDB`).
        .library(name: "CircuitryDynamoDB", targets: ["CircuitryDynamoDB"]),
        // Opens whichever store a path or URL names (`--db`, `CIRCUITRY_DB`), as far as the enabled traits allow.
        .library(name: "CircuitryStores", targets: ["CircuitryStores"]),
        // The dashboard and HTTP API of `circuitry serve` (trait `Dashboard`).
        .library(name: "CircuitryDashboard", targets: ["CircuitryDashboard"]),
        // The `circuitry` command: SQLite files, and the servers of the enabled traits.
        .executable(name: "circuitry", targets: ["CircuitryCLI"]),
    ],
    traits: [
        // swift-service-lifecycle resolves swift-async-algorithms and swift-collections too, and took a minute of a
        // debug build on 2 cores: a trait, so that users who run the factory's flushing themselves do not pay for it.
        .trait(
            name: "ServiceLifecycle",
            description: "BreakerFactory as a swift-service-lifecycle Service (CircuitryServiceLifecycle)."
        ),
        .trait(
            name: "Postgres",
            description:
                "The PostgreSQL store (CircuitryPostgres) and postgres:// URLs in CircuitryStores and circuitry."
        ),
        .trait(
            name: "Redis",
            description: "The Redis store (CircuitryRedis, its own RESP client over SwiftNIO) and redis:// URLs in "
                + "CircuitryStores and circuitry."
        ),
        .trait(
            name: "DynamoDB",
            description:
                "The DynamoDB store (CircuitryDynamoDB) and dynamodb:// URLs in CircuitryStores and circuitry."
        ),
        .trait(
            name: "Dashboard",
            description: "`circuitry serve`: a web page, a JSON and server-sent-events API and Prometheus metrics "
                + "over HTTP (CircuitryDashboard, on Hummingbird)."
        ),
        .default(enabledTraits: []),
    ],
    dependencies: [
        // Logging API the caller wires up; the library never bootstraps it. 1.11 for `LogEvent`, which the command's
        // own log handler (its lines on standard error) takes.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.11.0"),
        // Counters and gauges the caller wires up; the library never bootstraps it.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        // Command-line parsing for the executables only; the library does not depend on it.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        // The PostgreSQL client (trait `Postgres` only).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.21.0"),
        // `Service`, so that the PostgreSQL store's pool and the factory's flushing can run in a service group (traits
        // `Postgres` and `ServiceLifecycle`), and so that the dashboard's event streams end before its server shuts
        // down (trait `Dashboard`).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        // TLS for `rediss://` URLs (trait `Redis` only).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
        // The DynamoDB store's HTTP client, SigV4's SHA-256 and HMAC, and the NIO types async-http-client's API is
        // made of (trait `DynamoDB` only).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        // The Redis store's RESP client, and the DynamoDB store's HTTP types (traits `Redis` and `DynamoDB` only); the
        // dashboard's buffers (trait `Dashboard`).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.65.0"),
        // `swift package generate-documentation` for `make docs` (the DocC catalogs and the snippets they quote). A
        // command plugin no target uses: a package that depends on Circuitry does not resolve it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
        // The HTTP server of `circuitry serve` (trait `Dashboard` only). Without its default traits: the server needs
        // neither swift-configuration nor the whole of Foundation.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        // The Prometheus text format of `circuitry serve`'s /metrics (trait `Dashboard` only).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Merging an event stream with its keep-alive timer (trait `Dashboard` only; Hummingbird depends on it too).
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.0.0"),
        // The names of HTTP headers that Hummingbird's requests and responses are made of (trait `Dashboard` only).
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
    ],
    targets: [
        // MARK: What ships

        // Our own namespaced module over the system's libsqlite3 (never re-exported).
        .systemLibrary(
            name: "CircuitrySQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "Circuitry",
            dependencies: [
                "CircuitrySQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // `BreakerFactory: Service`. Its sources are all `#if ServiceLifecycle`: without the trait the module is empty
        // and resolves nothing.
        .target(
            name: "CircuitryServiceLifecycle",
            dependencies: [
                "Circuitry",
                .product(
                    name: "ServiceLifecycle", package: "swift-service-lifecycle",
                    condition: .when(traits: ["ServiceLifecycle"])
                ),
            ]
        ),
        // Its sources are all `#if Postgres`: without the trait the module is empty and resolves nothing.
        .target(
            name: "CircuitryPostgres",
            dependencies: [
                "Circuitry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Postgres"])),
                .product(
                    name: "ServiceLifecycle", package: "swift-service-lifecycle", condition: .when(traits: ["Postgres"])
                ),
            ]
        ),
        // Its sources are all `#if Redis`: without the trait the module is empty and resolves nothing.
        .target(
            name: "CircuitryRedis",
            dependencies: [
                "Circuitry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Redis"])),
                .product(name: "NIOPosix", package: "swift-nio", condition: .when(traits: ["Redis"])),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["Redis"])),
            ]
        ),
        // The DynamoDB store and its small AWS client (SigV4, the JSON protocol, retries, credentials). Its sources are
        // all `#if DynamoDB`: without the trait the module is empty and resolves nothing.
        .target(
            name: "CircuitryDynamoDB",
            dependencies: [
                "Circuitry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client", condition: .when(traits: ["DynamoDB"])),
                .product(name: "Crypto", package: "swift-crypto", condition: .when(traits: ["DynamoDB"])),
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["DynamoDB"])),
                .product(name: "NIOHTTP1", package: "swift-nio", condition: .when(traits: ["DynamoDB"])),
            ]
        ),
        .target(
            name: "CircuitryStores",
            dependencies: [
                "Circuitry",
                .target(name: "CircuitryPostgres", condition: .when(traits: ["Postgres"])),
                .target(name: "CircuitryRedis", condition: .when(traits: ["Redis"])),
                .target(name: "CircuitryDynamoDB", condition: .when(traits: ["DynamoDB"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the command's subcommands share with the programs that run breakers from options (the cross-process
        // tests' worker, the demo, the benchmarks): `--db`, the breaker settings' options, durations.
        .target(
            name: "CircuitryCommandLine",
            dependencies: [
                "Circuitry",
                "CircuitryStores",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HTTP server of `circuitry serve`: the page, the JSON and event API, the metrics. What a circuit looks
        // like in JSON and how an operator's change is made stay the command's; this target serves them. Its sources
        // are all `#if Dashboard`: without the trait the module is empty and resolves nothing.
        .target(
            name: "CircuitryDashboard",
            dependencies: [
                "Circuitry",
                "CircuitryCommandLine",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Dashboard"])),
                .product(name: "Prometheus", package: "swift-prometheus", condition: .when(traits: ["Dashboard"])),
                // The event streams: a transition or a keep-alive, whichever comes first; shutting down with the server.
                .product(
                    name: "AsyncAlgorithms", package: "swift-async-algorithms", condition: .when(traits: ["Dashboard"])),
                .product(
                    name: "ServiceLifecycle", package: "swift-service-lifecycle",
                    condition: .when(traits: ["Dashboard"])),
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Dashboard"])),
                .product(name: "HTTPTypes", package: "swift-http-types", condition: .when(traits: ["Dashboard"])),
            ]
        ),
        // The `circuitry` command. Not a folder named `circuitry`: that is `Circuitry` on case-insensitive disks.
        .executableTarget(
            name: "CircuitryCLI",
            dependencies: [
                "Circuitry",
                "CircuitryStores",
                "CircuitryCommandLine",
                .target(name: "CircuitryDashboard", condition: .when(traits: ["Dashboard"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: The demo (`make demo`, `make demo-postgres`)

        .executableTarget(
            name: "circuitry-demo",
            dependencies: [
                "Circuitry",
                "CircuitrySQLite",
                "CircuitryStores",
                .target(name: "CircuitryDynamoDB", condition: .when(traits: ["DynamoDB"])),
                "CircuitryCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/Demo"
        ),

        // MARK: The benchmarks (`make bench`, `make bench-postgres`)

        // What every benchmark shares: timing, the breaker cases, worker processes with a barrier, the table, the JSON.
        .target(
            name: "CircuitryBenchmarkSupport",
            dependencies: ["Circuitry", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/Support"
        ),
        // Imports the SQLite module itself to measure the floors on the same file.
        .executableTarget(
            name: "circuitry-bench",
            dependencies: [
                "Circuitry",
                "CircuitryBenchmarkSupport",
                "CircuitrySQLite",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/SQLite"
        ),
        // Talks to the server through postgres-nio directly for its floors. Its sources are all `#if Postgres`.
        .executableTarget(
            name: "circuitry-bench-postgres",
            dependencies: [
                "Circuitry",
                "CircuitryBenchmarkSupport",
                .target(name: "CircuitryPostgres", condition: .when(traits: ["Postgres"])),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Postgres"])),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/Postgres"
        ),
        // Circuitry on Redis beside pybreaker's Redis storage on the same server, and the raw GET + SET floor through
        // the store's own RESP client. Its sources are all `#if Redis`.
        .executableTarget(
            name: "circuitry-bench-redis",
            dependencies: [
                "Circuitry",
                "CircuitryBenchmarkSupport",
                .target(name: "CircuitryRedis", condition: .when(traits: ["Redis"])),
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Redis"])),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/Redis",
            exclude: ["pybreaker"]
        ),
        // Requests per call and timings against a throw-away moto server. Its sources are all `#if DynamoDB`.
        .executableTarget(
            name: "circuitry-bench-dynamodb",
            dependencies: [
                "Circuitry",
                "CircuitryBenchmarkSupport",
                .target(name: "CircuitryDynamoDB", condition: .when(traits: ["DynamoDB"])),
                .target(name: "CircuitryDynamoDBTestSupport", condition: .when(traits: ["DynamoDB"])),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/DynamoDB"
        ),

        // MARK: What proves it

        // The contract every store must honour, run by each store's tests.
        .target(
            name: "CircuitryStoreConformance",
            dependencies: ["Circuitry", .product(name: "Logging", package: "swift-log")],
            path: "Tests/CircuitryStoreConformance"
        ),
        // One worker process of the cross-process tests; `--db` takes whatever CircuitryStores opens.
        .executableTarget(
            name: "circuitry-worker",
            dependencies: [
                "Circuitry",
                "CircuitrySQLite",
                "CircuitryStores",
                "CircuitryCommandLine",
                "CircuitryWorkerReport",
                // The Redis store's retry counts, for the report.
                .target(name: "CircuitryRedis", condition: .when(traits: ["Redis"])),
                .target(name: "CircuitryServiceLifecycle", condition: .when(traits: ["ServiceLifecycle"])),
                .product(
                    name: "ServiceLifecycle", package: "swift-service-lifecycle",
                    condition: .when(traits: ["ServiceLifecycle"])
                ),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CircuitryWorker"
        ),
        // What `circuitry-worker` prints, shared with the tests that read it.
        .target(name: "CircuitryWorkerReport", dependencies: ["Circuitry"], path: "Tests/CircuitryWorkerReport"),
        // The harness that runs `circuitry` as a subprocess, shared by the CLI and PostgreSQL tests.
        .target(name: "CircuitryCLITestSupport", path: "Tests/CircuitryCLITestSupport"),
        // The throw-away PostgreSQL 15 server, shared by the tests that use one.
        .target(
            name: "CircuitryPostgresTestSupport", dependencies: ["CircuitryTestSupport"],
            path: "Tests/CircuitryPostgresTestSupport"),
        // What every server's test support shares: waiting without holding a thread of the cooperative pool.
        .target(name: "CircuitryTestSupport", path: "Tests/CircuitryTestSupport"),
        // The throw-away redis-server, shared by the tests that use one.
        .target(
            name: "CircuitryRedisTestSupport", dependencies: ["CircuitryTestSupport"],
            path: "Tests/CircuitryRedisTestSupport"),
        // The throw-away moto server (a DynamoDB emulator from PyPI), shared by the tests and the benchmark that use one.
        .target(
            name: "CircuitryDynamoDBTestSupport", dependencies: ["CircuitryTestSupport"],
            path: "Tests/CircuitryDynamoDBTestSupport"),
        .testTarget(
            name: "CircuitryTests",
            dependencies: [
                "Circuitry",
                "CircuitryStores",
                "CircuitryStoreConformance",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        // Runs the built `circuitry` binary as a subprocess; depends on the target so that it is built first.
        .testTarget(
            name: "CircuitryCLITests",
            dependencies: [
                "CircuitryCLI",
                "CircuitryCLITestSupport",
                "CircuitryCommandLine",
                "Circuitry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Also runs the built `circuitry` binary with `--db postgres://…`. Its sources are all `#if Postgres`.
        .testTarget(
            name: "CircuitryPostgresTests",
            dependencies: [
                "Circuitry",
                .target(name: "CircuitryPostgres", condition: .when(traits: ["Postgres"])),
                "CircuitryStoreConformance",
                "CircuitryCLI",
                "CircuitryCLITestSupport",
                "CircuitryPostgresTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Also runs the built `circuitry` binary with `--db redis://…`. Its sources are all `#if Redis`.
        .testTarget(
            name: "CircuitryRedisTests",
            dependencies: [
                "Circuitry",
                .target(name: "CircuitryRedis", condition: .when(traits: ["Redis"])),
                "CircuitryStoreConformance",
                "CircuitryCLI",
                "CircuitryCLITestSupport",
                "CircuitryRedisTestSupport",
                // Deadlines for the client's own tests.
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Redis"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The DynamoDB store against moto, and its signer against AWS's published SigV4 test vectors. Its sources are
        // all `#if DynamoDB`.
        .testTarget(
            name: "CircuitryDynamoDBTests",
            dependencies: [
                "Circuitry",
                .target(name: "CircuitryDynamoDB", condition: .when(traits: ["DynamoDB"])),
                "CircuitryDynamoDBTestSupport",
                "CircuitryStoreConformance",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `circuitry serve` from outside: HTTP against the built binary on a loopback port, and the page in headless
        // Chromium. Its sources are all `#if Dashboard`.
        .testTarget(
            name: "CircuitryDashboardTests",
            dependencies: ["CircuitryCLI", "CircuitryCLITestSupport"]
        ),
        // Real worker processes on a real database file, and on a real PostgreSQL server over TCP; and the demo end to
        // end. Depends on the executables so that they are built first.
        .testTarget(
            name: "CircuitryProcessTests",
            dependencies: [
                "Circuitry",
                "CircuitryStores",
                "CircuitryPostgresTestSupport",
                "CircuitryRedisTestSupport",
                "CircuitryDynamoDBTestSupport",
                "CircuitryWorkerReport",
                "circuitry-worker",
                "circuitry-demo",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
