// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Circuitry",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Circuitry", targets: ["Circuitry"])
    ],
    dependencies: [
        // Logging API the caller wires up; the library never bootstraps it.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        // Counters and gauges the caller wires up; the library never bootstraps it.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
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
        .testTarget(
            name: "CircuitryTests",
            dependencies: [
                "Circuitry",
                "CircuitryStoreConformance",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
