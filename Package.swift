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
        // The DynamoDB store, behind the `DynamoDB` trait: without it, nothing of it (nor async-http-client) is built.
        .library(name: "CircuitryDynamoDB", targets: ["CircuitryDynamoDB"]),
        // `make bench-dynamodb`: the DynamoDB store against a local emulator, in requests per call beside timings.
        .executable(name: "circuitry-bench-dynamodb", targets: ["CircuitryDynamoDBBenchmark"]),
    ],
    traits: [
        // The DynamoDB store and what it needs (async-http-client, swift-crypto): `--traits DynamoDB`, or
        // `traits: ["DynamoDB"]` on the dependency.
        .trait(name: "DynamoDB")
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
        // The DynamoDB store's HTTP client and SigV4's HMAC-SHA256, used only with the `DynamoDB` trait.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        // ByteBuffer, deadlines and HTTP types that async-http-client's API is made of (DynamoDB trait only).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.65.0"),
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
        // The DynamoDB store and its small AWS client (SigV4, the JSON protocol, retries, credentials). Every file is
        // inside `#if DynamoDB`, and its dependencies are conditional on the trait.
        .target(
            name: "CircuitryDynamoDB",
            dependencies: [
                "Circuitry",
                .product(name: "AsyncHTTPClient", package: "async-http-client", condition: .when(traits: ["DynamoDB"])),
                .product(name: "Crypto", package: "swift-crypto", condition: .when(traits: ["DynamoDB"])),
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["DynamoDB"])),
                .product(name: "NIOHTTP1", package: "swift-nio", condition: .when(traits: ["DynamoDB"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The DynamoDB benchmark: requests per call and timings against a local emulator (moto_server).
        .executableTarget(
            name: "CircuitryDynamoDBBenchmark",
            dependencies: [
                "Circuitry",
                "CircuitryBenchmarkSupport",
                .target(name: "CircuitryDynamoDB", condition: .when(traits: ["DynamoDB"])),
                .target(name: "CircuitryDynamoDBTestSupport", condition: .when(traits: ["DynamoDB"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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
                .target(name: "CircuitryDynamoDB", condition: .when(traits: ["DynamoDB"])),
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
        // The DynamoDB store against a real DynamoDB-compatible server (moto_server), and its signer against AWS's
        // published SigV4 test vectors.
        .testTarget(
            name: "CircuitryDynamoDBTests",
            dependencies: [
                "Circuitry",
                "CircuitryStoreConformance",
                .target(name: "CircuitryDynamoDB", condition: .when(traits: ["DynamoDB"])),
                .target(name: "CircuitryDynamoDBTestSupport", condition: .when(traits: ["DynamoDB"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The throw-away moto_server (a DynamoDB emulator from PyPI) on a free loopback port (not a product).
        .target(
            name: "CircuitryDynamoDBTestSupport",
            path: "Tests/CircuitryDynamoDBTestSupport"
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
                .target(name: "CircuitryDynamoDB", condition: .when(traits: ["DynamoDB"])),
                .target(name: "CircuitryDynamoDBTestSupport", condition: .when(traits: ["DynamoDB"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
