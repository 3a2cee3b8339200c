// swift-tools-version: 6.1
// A package that depends on Circuitry, as the README and the articles tell: their lines of a manifest are quoted from
// here, and `make docs` evaluates this file (`swift package dump-package`, which resolves nothing).
import PackageDescription

// With the SQLite store (and the in-memory store for tests) only: no SwiftNIO.
let sqliteOnly: [Package.Dependency] = [
    .package(url: "https://github.com/circuitry-swift/circuitry.git", from: "0.1.0")
]

// With the PostgreSQL store: the trait builds CircuitryPostgres and postgres:// URLs in CircuitryStores.
let withPostgres: [Package.Dependency] = [
    .package(url: "https://github.com/circuitry-swift/circuitry.git", from: "0.1.0", traits: ["Postgres"])
]

// With the Redis store.
let withRedis: [Package.Dependency] = [
    .package(url: "https://github.com/circuitry-swift/circuitry.git", from: "0.1.0", traits: ["Redis"])
]

// With the DynamoDB store.
let withDynamoDB: [Package.Dependency] = [
    .package(url: "https://github.com/circuitry-swift/circuitry.git", from: "0.1.0", traits: ["DynamoDB"])
]

// And in a target, with those traits.
let serverProducts: [Target.Dependency] = [
    .product(name: "CircuitryRedis", package: "circuitry"),
    .product(name: "CircuitryDynamoDB", package: "circuitry"),
]

let package = Package(
    name: "Jobs",
    platforms: [.macOS(.v15)],
    dependencies: withPostgres,
    targets: [
        .executableTarget(
            name: "Jobs",
            dependencies: [
                .product(name: "Circuitry", package: "circuitry"),
                .product(name: "CircuitryPostgres", package: "circuitry"),
            ]
        )
    ]
)
