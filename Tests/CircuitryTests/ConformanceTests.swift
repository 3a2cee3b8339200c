import Circuitry
import CircuitryStoreConformance
import Foundation
import Testing

@Suite struct ConformanceTests {
    @Test(arguments: StoreConformance.checks)
    func inMemory(_ check: StoreConformance.Check) async throws {
        try await check.run { clock in InMemoryCircuitStore(clock: clock) }
    }

    @Test(arguments: StoreConformance.checks)
    func sqlite(_ check: StoreConformance.Check) async throws {
        let folder = try TemporaryFolder()
        try await check.run { clock in try SQLiteCircuitStore(path: folder.path("breakers.sqlite"), clock: clock) }
    }
}
