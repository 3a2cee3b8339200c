import Circuitry
import Testing

@Suite struct TimestampTests {
    @Test func descriptionIsISO8601InUTCWithZ() {
        let instant = Timestamp(millisecondsSince1970: 1_800_000_000_250)
        #expect(instant.description == "2027-01-15T08:00:00.250Z")
    }
}
