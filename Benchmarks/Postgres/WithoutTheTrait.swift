#if !Postgres

import Foundation

/// Built without the package trait `Postgres`, this benchmark has nothing to measure: it says how to build it.
@main
enum CircuitryPostgresBenchmarkWithoutTheTrait {
    static func main() {
        FileHandle.standardError.write(
            Data("circuitry-bench-postgres: built without the package trait Postgres; run `make bench-postgres`\n".utf8)
        )
        exit(69)
    }
}

#endif
