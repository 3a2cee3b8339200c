#if ServiceLifecycle

import Circuitry
import ServiceLifecycle

/// A factory is a swift-service-lifecycle `Service`: add it to the application's `ServiceGroup` after its store and
/// before the services that call breakers, so that batched successes are written while the process runs and once
/// more when it shuts down.
///
/// ```swift
/// import CircuitryServiceLifecycle
/// import ServiceLifecycle
///
/// let breakers = try BreakerFactory(store: store, configuration: configuration, logger: logger)
/// // A group shuts its services down in reverse order: the workers first, then the factory's final flush.
/// let group = ServiceGroup(services: [breakers, jobRunner], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
/// A group shuts its services down in reverse order: the worker first (its last outcomes are counted), then the
/// factory (its final flush writes them), then a store that runs in the group (PostgreSQL's pool), which the flush
/// still needs. A SQLite store is not a service: list the factory first, before the services that call breakers.
extension BreakerFactory: Service {
    /// Runs `BreakerFactory.flushUntilCancelled()` until a graceful shutdown begins or the task is cancelled; the
    /// final flush then writes every batched success before it returns.
    ///
    /// - Throws: The error of the final flush, if the store failed it.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await self.flushUntilCancelled() }
    }
}

#endif
