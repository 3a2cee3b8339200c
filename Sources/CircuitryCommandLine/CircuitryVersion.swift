/// The package's version: what `circuitry --version` prints, and the latest heading of `CHANGELOG.md` (a test checks
/// that the two agree). Change it here, and add the heading there, when a release is made.
package enum CircuitryVersion {
    /// The version, as `MAJOR.MINOR.PATCH` (Semantic Versioning).
    package static let current = "0.1.0"
}
