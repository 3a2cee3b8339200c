// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Circuitry",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Circuitry", targets: ["Circuitry"]),
        // The PostgreSQL store: its own product, so that users of the SQLite store never build SwiftNIO.
        .library(name: "CircuitryPostgres", targets: ["CircuitryPostgres"]),
        .executable(name: "circuitry", targets: ["CircuitryCLI"]),
        // The multi-tenant job-queue demo that `make demo` runs.
        .executable(name: "circuitry-demo", targets: ["CircuitryDemo"]),
        // `make demo-postgres`: the same demo with the breakers on a PostgreSQL server.
        .executable(name: "circuitry-demo-postgres", targets: ["CircuitryPostgresDemo"]),
        // A test helper: one worker process of the cross-process test suite.
        .executable(name: "circuitry-worker", targets: ["CircuitryWorker"]),
        // `make bench`: Circuitry against the raw SQLite floor (run it in release mode).
        .executable(name: "circuitry-bench", targets: ["CircuitryBenchmark"]),
        // `make bench-postgres`: Circuitry on PostgreSQL against its own floors, beside SQLite. Its own executable,
        // so that `make bench` does not compile SwiftNIO.
        .executable(name: "circuitry-bench-postgres", targets: ["CircuitryPostgresBenchmark"]),
        // The Redis store: its own product behind the `Redis` trait, so that only users who enable the trait resolve
        // and build SwiftNIO for it. Without the trait the module is empty.
        .library(name: "CircuitryRedis", targets: ["CircuitryRedis"]),
        // `make bench-redis`: Circuitry on Redis beside pybreaker's Redis storage on the same server (needs the trait).
        .executable(name: "circuitry-bench-redis", targets: ["CircuitryRedisBenchmark"]),
        // `make demo-redis`: the demo with the breakers on a Redis server (needs the trait).
        .executable(name: "circuitry-demo-redis", targets: ["CircuitryRedisDemo"]),
    ],
    traits: [
        // The Redis store and its small RESP client over SwiftNIO (and swift-nio-ssl for `rediss://`). Off by default:
        // `swift build --traits Redis`, or `traits: ["Redis"]` on the dependency on this package.
        .trait(name: "Redis", description: "The Redis store (CircuitryRedis) and its SwiftNIO client"),
    ],
    dependencies: [
        // Logging API the caller wires up; the library never bootstraps it.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        // Counters and gauges the caller wires up; the library never bootstraps it.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        // The PostgreSQL client behind CircuitryPostgres only; the core target never imports it.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.21.0"),
        // `Service`, so that the PostgreSQL store's pool can run in a service group.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        // Command-line parsing for the executables only; the library does not depend on it.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        // The Redis store's RESP client, only with the `Redis` trait (see the target's conditions).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.65.0"),
        // TLS for `rediss://` URLs, only with the `Redis` trait.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
    ],
    targets: [
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
        // What both benchmarks share: timing, the breaker cases, worker processes with a barrier, the table, the JSON.
        .target(
            name: "CircuitryBenchmarkSupport",
            dependencies: [
                "Circuitry",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The benchmark imports the SQLite module itself to measure the floors on the same file.
        .executableTarget(
            name: "CircuitryBenchmark",
            dependencies: [
                "Circuitry",
                "CircuitryBenchmarkSupport",
                "CircuitrySQLite",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The PostgreSQL benchmark talks to the server through postgres-nio directly for its floors.
        .executableTarget(
            name: "CircuitryPostgresBenchmark",
            dependencies: [
                "Circuitry",
                "CircuitryBenchmarkSupport",
                "CircuitryPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The contract every store must honour, run by each store's tests (not a product).
        .target(
            name: "CircuitryStoreConformance",
            dependencies: [
                "Circuitry",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CircuitryPostgres",
            dependencies: [
                "Circuitry",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Redis store. Every source file is inside `#if Redis`, and SwiftNIO is a dependency only with the trait,
        // so that without it this is an empty module that builds nothing else.
        .target(
            name: "CircuitryRedis",
            dependencies: [
                "Circuitry",
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Redis"])),
                .product(name: "NIOPosix", package: "swift-nio", condition: .when(traits: ["Redis"])),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["Redis"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `make bench-redis`: Circuitry's Redis store against pybreaker's, and the raw GET + SET floor, through the
        // store's own RESP client (its `package` API).
        .executableTarget(
            name: "CircuitryRedisBenchmark",
            dependencies: [
                "Circuitry",
                "CircuitryBenchmarkSupport",
                .target(name: "CircuitryRedis", condition: .when(traits: ["Redis"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "CircuitryRedisDemo",
            dependencies: [
                "Circuitry", "CircuitryDemoKit", .target(name: "CircuitryRedis", condition: .when(traits: ["Redis"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The `circuitry` command. Not a folder named `circuitry`: that is `Circuitry` on case-insensitive disks.
        .executableTarget(
            name: "CircuitryCLI",
            dependencies: [
                "Circuitry",
                // `--db postgres://…`: the command is a tool, not a library, so it may build SwiftNIO.
                "CircuitryPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/CircuitryCLI"
        ),
        // `--db` takes a SQLite path or a `postgres://` URL, so that the cross-process tests run on both stores. A
        // test helper, not something users build: it may build SwiftNIO.
        .executableTarget(
            name: "CircuitryWorker",
            dependencies: [
                "Circuitry",
                "CircuitryPostgres",
                "CircuitrySQLite",
                "CircuitryWorkerReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What `circuitry-worker` prints, shared with the tests that read it.
        .target(name: "CircuitryWorkerReport", dependencies: ["Circuitry"]),
        // The demo, whatever the store; its two executables only choose where the breakers are.
        .target(
            name: "CircuitryDemoKit",
            dependencies: [
                "Circuitry",
                "CircuitrySQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "CircuitryDemo",
            dependencies: ["Circuitry", "CircuitryDemoKit", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "CircuitryPostgresDemo",
            dependencies: [
                "Circuitry", "CircuitryDemoKit", "CircuitryPostgres", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CircuitryTests",
            dependencies: [
                "Circuitry",
                "CircuitryStoreConformance",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        // Also runs the built `circuitry` binary with `--db postgres://…`; depends on the target so that it is built
        // first.
        .testTarget(
            name: "CircuitryPostgresTests",
            dependencies: [
                "Circuitry",
                "CircuitryPostgres",
                "CircuitryStoreConformance",
                "CircuitryCLI",
                "CircuitryCLITestSupport",
                "CircuitryPostgresTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Runs the built `circuitry` binary as a subprocess; depends on the target so that it is built first.
        .testTarget(
            name: "CircuitryCLITests",
            dependencies: [
                "CircuitryCLI",
                "CircuitryCLITestSupport",
                "Circuitry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The harness that runs `circuitry` as a subprocess, shared by the two test targets above (not a product).
        .target(
            name: "CircuitryCLITestSupport",
            path: "Tests/CircuitryCLITestSupport"
        ),
        // The throw-away PostgreSQL 15 server, shared by the two test targets that use one (not a product).
        .target(
            name: "CircuitryPostgresTestSupport",
            path: "Tests/CircuitryPostgresTestSupport"
        ),
        // The throw-away redis-server of the Redis store's tests and the cross-process tests (not a product).
        .target(
            name: "CircuitryRedisTestSupport",
            path: "Tests/CircuitryRedisTestSupport"
        ),
        .testTarget(
            name: "CircuitryRedisTests",
            dependencies: [
                "Circuitry",
                .target(name: "CircuitryRedis", condition: .when(traits: ["Redis"])),
                "CircuitryStoreConformance",
                "CircuitryRedisTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Real worker processes on a real database file, and on a real PostgreSQL server over TCP. `swift test`
        // builds every product first, so the tests find `circuitry-worker` beside their own bundle.
        .testTarget(
            name: "CircuitryProcessTests",
            dependencies: [
                "Circuitry",
                "CircuitryPostgres",
                "CircuitryPostgresTestSupport",
                "CircuitryWorkerReport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
