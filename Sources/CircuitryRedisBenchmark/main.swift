#if Redis
    print("todo")
#else
    print("circuitry-bench-redis was built without the Redis trait: swift build --traits Redis")
#endif
