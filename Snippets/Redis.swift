// The Redis store (trait Redis): breakers on the Redis server most teams already run.

// snippet.hide
#if Redis
// snippet.show
import Circuitry
import CircuitryRedis
// snippet.hide
import Logging

let logger = Logger(label: "redis")
let configuration = BreakerFactory.Configuration()
func runWorker(_ breakers: BreakerFactory) async throws {}
// snippet.show

try await RedisCircuitStore.withStore(
    configuration: try RedisCircuitStore.Configuration(url: "rediss://jobs:secret@cache.internal:6380/0?prefix=jobs"),
    logger: logger
) { store in
    let breakers = try BreakerFactory(store: store, configuration: configuration, logger: logger)
    try await runWorker(breakers)
}
// snippet.hide
#endif
