#if !Redis

import Foundation

/// Built without the package trait `Redis`, this benchmark has nothing to measure: it says how to build it.
@main
enum CircuitryRedisBenchmarkWithoutTheTrait {
    static func main() {
        FileHandle.standardError.write(
            Data("circuitry-bench-redis: built without the package trait Redis; run `make bench-redis`\n".utf8))
        exit(69)
    }
}

#endif
