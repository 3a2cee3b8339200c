// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Circuitry",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Circuitry", targets: ["Circuitry"]),
        // The PostgreSQL store: its own product, so that users of the SQLite store never build SwiftNIO.
        .library(name: "CircuitryPostgres", targets: ["CircuitryPostgres"]),
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
        // A small process that the PostgreSQL tests start several of, to prove cross-process guarantees over TCP.
        .executableTarget(
            name: "CircuitryPostgresWorker",
            dependencies: [
                "Circuitry",
                "CircuitryPostgres",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CircuitryTests",
            dependencies: [
                "Circuitry",
                "CircuitryStoreConformance",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CircuitryPostgresTests",
            dependencies: [
                "Circuitry",
                "CircuitryPostgres",
                "CircuitryStoreConformance",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
