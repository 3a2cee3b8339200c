// Opening whichever store a string names: a SQLite path, or a server URL of an enabled trait.

import Circuitry
import CircuitryStores
import Foundation
import Logging

// snippet.hide
let logger = Logger(label: "store-location")
func runWorker(_ breakers: BreakerFactory) async throws {}
// snippet.show
let location = try StoreLocation(ProcessInfo.processInfo.environment["CIRCUITRY_DB"] ?? "breakers.sqlite")
try await location.withStore(logger: logger) { store in
    let breakers = try BreakerFactory(store: store, logger: logger)
    try await runWorker(breakers)
}
