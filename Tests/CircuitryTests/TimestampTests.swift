import Circuitry
import Testing

@Suite struct TimestampTests {
    @Test func descriptionIsISO8601InUTCWithZ() {
        let instant = Timestamp(millisecondsSince1970: 1_800_000_000_250)
        #expect(instant.description == "2027-01-15T08:00:00.250Z")
    }

    /// The stored milliseconds, exactly: the `circuit_status` view shows the same digits.
    @Test(arguments: [
        (1_795_979_206_738, "2026-11-29T19:06:46.738Z"), (1_795_979_206_999, "2026-11-29T19:06:46.999Z"),
        (1_795_979_206_001, "2026-11-29T19:06:46.001Z"), (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ])
    func descriptionKeepsTheMilliseconds(milliseconds: Int64, text: String) {
        #expect(Timestamp(millisecondsSince1970: milliseconds).description == text)
    }
}
