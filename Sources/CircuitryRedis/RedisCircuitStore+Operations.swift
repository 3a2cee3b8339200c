#if Redis
import Circuitry
import Logging
import NIOCore
import NIOPosix
import NIOSSL

extension RedisCircuitStore {
    /// An error thrown by the body of ``update(_:_:)``: passed through to the caller as it is.
    private struct BodyError: Error {
        var error: any Error
    }

    /// Runs one store operation within ``Configuration/operationTimeout``: checks the prefix's layout the first
    /// time, and turns whatever fails into a ``CircuitStoreError`` that names the server.
    ///
    /// Cancellation of the calling task is not a reason to stop: an outcome being recorded must be recorded (the
    /// deadline bounds the wait instead), and nothing here sleeps on the cooperative pool.
    func operation<T>(_ body: (NIODeadline) async throws -> T) async throws -> T {
        guard !state.withLock({ $0.closed }) else {
            throw CircuitStoreError(code: .closed, message: "the store was closed", location: location)
        }
        let deadline = NIODeadline.now() + .nanoseconds(configuration.operationTimeout.nanoseconds)
        do {
            if !state.withLock({ $0.prepared }) { try await prepareKeys(by: deadline) }
            let value = try await body(deadline)
            state.withLock { $0.hasConnected = true }
            return value
        } catch let error as BodyError {
            throw error.error
        } catch {
            let hasConnected = state.withLock { $0.hasConnected }
            var storeError = RedisErrorMapping.storeError(
                error, hasConnected: hasConnected, timeout: configuration.operationTimeout)
            if storeError.location == nil { storeError.location = location }
            if storeError.code == .connectionLost || storeError.code == .cannotOpen {
                logger.debug(
                    "Redis store cannot reach the server",
                    metadata: ["circuitry.store": "\(location)", "circuitry.error": "\(storeError)"])
            }
            throw storeError
        }
    }

    /// Sends `commands` pipelined, with `TIME` first unless a clock was injected or `withTime` is false, and returns
    /// their replies and the time (the injected clock's, or the server's, or the injected clock's when `TIME` was
    /// not sent). Error replies are returned as they are.
    func send(_ commands: [[String]], by deadline: NIODeadline, withTime: Bool = true) async throws
        -> (replies: [RESPValue], now: Timestamp)
    {
        let askTime = withTime && clock == nil
        if commands.isEmpty && !askTime { return ([], clock?.now() ?? Timestamp(millisecondsSince1970: 0)) }
        var replies = try await pool.send(askTime ? [["TIME"]] + commands : commands, deadline: deadline)
        guard askTime else { return (replies, clock?.now() ?? Timestamp(millisecondsSince1970: 0)) }
        let time = replies.removeFirst()
        try RedisErrorMapping.check(time, command: "TIME")
        guard let parts = time.elements, parts.count == 2, let seconds = parts[0].integer,
            let microseconds = parts[1].integer
        else { throw RedisErrorMapping.unexpected(time, command: "TIME") }
        return (replies, Timestamp(millisecondsSince1970: seconds * 1000 + microseconds / 1000))
    }

    /// The circuit's record, its version (empty when there is none) and the time, in one round trip.
    func readWithVersion(_ name: String, by deadline: NIODeadline) async throws
        -> (record: CircuitRecord?, version: String, now: Timestamp)
    {
        let (replies, now) = try await send([["HGETALL", keys.circuit(name)]], by: deadline)
        try RedisErrorMapping.check(replies[0], command: "HGETALL")
        guard let (record, version) = try RedisRecordCoding.record(replies[0]) else { return (nil, "", now) }
        return (record, version, now)
    }

    /// Reads, runs `body` and writes if nobody wrote in between; otherwise reads and runs again after a random wait,
    /// at most ``Configuration/maximumUpdateAttempts`` times and by `deadline`. From its ``claimAfter``th attempt
    /// the update claims the circuit's turn, and retries at once when it holds it (see ``RedisScripts/commit``).
    func optimisticUpdate<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>,
        by deadline: NIODeadline
    ) async throws -> Value {
        var attempt = 1
        var waits = 0
        var waited = Duration.zero
        var claim: String?
        while true {
            let (stored, version, now) = try await readWithVersion(name, by: deadline)
            var record = stored
            let result: StoreUpdate<Value>
            do {
                result = try body(&record, now)
            } catch {
                throw BodyError(error: error)
            }
            let written =
                result.write
                ? record.map { record in
                    var record = record
                    record.updatedAt = now
                    return record
                } : nil
            // Nothing to write: the decision stands as of the read, like a read-only transaction.
            guard written != nil || !result.transitions.isEmpty else { return result.value }
            // The update's age, for the turn: when it first read, then a random token against ties.
            let age = claim ?? "\(now.millisecondsSince1970) \(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
            claim = age
            let claiming = attempt >= Self.claimAfter
            let outcome = try await commit(
                name, expecting: version, record: written, result.transitions, claim: claiming ? age : "",
                by: deadline)
            if outcome == .written {
                if attempt > 1 { noteConflicts(attempts: attempt, waited: waited) }
                return result.value
            }
            let pause: TimeAmount = outcome == .lostTheRace && claiming ? .zero : Self.backoff(attempt: waits)
            guard attempt < configuration.maximumUpdateAttempts, NIODeadline.now() + pause < deadline else {
                noteConflicts(attempts: attempt, waited: waited)
                throw CircuitStoreError(
                    code: .busy,
                    message: "the circuit \(name.debugDescription) was changed by other processes during each of "
                        + "\(attempt) attempts to update it", location: location)
            }
            if pause > .zero {
                // An event-loop timer rather than Task.sleep: a cancelled caller still gets its outcome recorded.
                try await MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: pause) {}.futureResult.get()
                waited += .nanoseconds(pause.nanoseconds)
                waits += 1
            }
            attempt += 1
        }
    }

    /// The attempt from which an update claims the circuit's turn.
    static let claimAfter = 5

    /// A random wait before the next attempt: up to 0.2 ms × 2^waits, at most 10 ms ("full jitter").
    static func backoff(attempt: Int) -> TimeAmount {
        let ceiling = min(10_000_000, 200_000 << min(attempt, 10))
        return .nanoseconds(Int64.random(in: 0...Int64(ceiling)))
    }

    private func noteConflicts(attempts: Int, waited: Duration) {
        state.withLock { state in
            state.conflicts += UInt64(attempts - 1)
            state.conflictWait += waited
            state.mostAttempts = max(state.mostAttempts, attempts)
        }
    }

    /// What the commit script did.
    private enum CommitOutcome {
        /// The record and the transitions are written.
        case written
        /// Nothing written: the record changed since it was read (if the update claimed it, it now has the turn).
        case lostTheRace
        /// Nothing written: an older update has the circuit's turn.
        case olderUpdateFirst
    }

    /// How long a circuit's turn lasts: how long a process that dies holding one delays the circuit's writers.
    static let turnMilliseconds = 100

    /// Runs the commit script (see ``RedisScripts/commit``).
    private func commit(
        _ name: String, expecting version: String, record: CircuitRecord?, _ transitions: [CircuitTransition],
        claim: String, by deadline: NIODeadline
    ) async throws -> CommitOutcome {
        let fields = record.map(RedisRecordCoding.fields) ?? []
        var arguments = [
            version, String(configuration.historyLimit), record == nil ? "0" : "1", name,
            String(record?.updatedAt.millisecondsSince1970 ?? 0), claim, String(Self.turnMilliseconds),
            String(fields.count),
        ]
        arguments += fields
        arguments += transitions.map(RedisRecordCoding.payload)
        let reply = try await runScript(
            .commit,
            keys: [
                keys.circuit(name), keys.history(name), keys.circuits, keys.log, keys.sequence, keys.versions,
                keys.turn(name),
            ], arguments: arguments, by: deadline)
        switch reply.integer {
        case 1: return .written
        case -1: return .lostTheRace
        case 0: return .olderUpdateFirst
        default: throw RedisErrorMapping.unexpected(reply, command: "EVALSHA")
        }
    }

    enum Script { case commit, prune }

    /// Runs a script by its SHA-1, or by its source if the server does not know it (`NOSCRIPT`); returns its reply.
    func runScript(_ script: Script, keys: [String], arguments: [String], by deadline: NIODeadline) async throws
        -> RESPValue
    {
        let (source, sha) =
            switch script {
            case .commit: (RedisScripts.commit, state.withLock { $0.commitSHA })
            case .prune: (RedisScripts.prune, state.withLock { $0.pruneSHA })
            }
        let tail = [String(keys.count)] + keys + arguments
        if let sha {
            let reply = try await pool.send([["EVALSHA", sha] + tail], deadline: deadline)[0]
            guard reply.errorMessage?.hasPrefix("NOSCRIPT") == true else {
                try RedisErrorMapping.check(reply, command: "EVALSHA")
                return reply
            }
        }
        let reply = try await pool.send([["EVAL", source] + tail], deadline: deadline)[0]
        try RedisErrorMapping.check(reply, command: "EVAL")
        return reply
    }

    /// Marks the prefix as Circuitry's if it is new, refuses a newer layout or someone else's keys, and loads the
    /// scripts: one round trip, once per store.
    private func prepareKeys(by deadline: NIODeadline) async throws {
        let mark =
            configuration.createsKeys
            ? ["HSETNX", keys.meta, "version", String(RedisKeys.version)] : ["HEXISTS", keys.meta, "version"]
        let replies = try await pool.send(
            [
                mark, ["HGET", keys.meta, "version"],
                ["TYPE", keys.circuits], ["SCRIPT", "LOAD", RedisScripts.commit],
                ["SCRIPT", "LOAD", RedisScripts.prune],
            ], deadline: deadline)
        for (reply, command) in zip(replies.prefix(2), [mark[0], "HGET"]) {
            try RedisErrorMapping.check(reply, command: command)
        }
        if !configuration.createsKeys, replies[1].isNull, replies[2].string == "none" {
            throw CircuitStoreError(
                code: .missing, message: "there are no Circuitry keys under the prefix \(keys.tag)")
        }
        guard let version = replies[1].integer else {
            throw CircuitStoreError(
                code: .foreignDatabase,
                message: "\(keys.meta) does not hold a Circuitry layout version; the prefix's keys are left alone")
        }
        guard version <= RedisKeys.version else {
            throw CircuitStoreError(
                code: .newerSchema,
                message: "the keys were written by a newer Circuitry (layout version \(version); this one knows "
                    + "\(RedisKeys.version)); they are left alone")
        }
        guard let type = replies[2].string, type == "zset" || type == "none" else {
            throw CircuitStoreError(
                code: .foreignDatabase,
                message: "\(keys.circuits) is not a sorted set; the prefix's keys are left alone")
        }
        // An ACL may forbid SCRIPT: the store then sends the source each time (EVAL).
        state.withLock { state in
            state.commitSHA = replies[3].string
            state.pruneSHA = replies[4].string
            state.prepared = true
        }
    }

    /// The connection settings for `configuration`: the server, TLS and the session's first commands. `package`, so that
    /// the benchmark's raw floors connect exactly as the store does.
    package static func endpoint(_ configuration: Configuration) throws(ConfigurationError) -> RedisEndpoint {
        var handshake: [[String]] = []
        if let password = configuration.password {
            handshake.append(["AUTH"] + (configuration.username.map { [$0] } ?? []) + [password])
        } else if let username = configuration.username {
            // A user named without a password: accepted only if the user has `nopass`.
            handshake.append(["AUTH", username, ""])
        }
        if configuration.database != 0 { handshake.append(["SELECT", String(configuration.database)]) }
        handshake.append(["CLIENT", "SETNAME", configuration.clientName])
        var tls: NIOSSLContext?
        if configuration.tls {
            var settings = TLSConfiguration.makeClientConfiguration()
            if let path = configuration.rootCertificatePath { settings.trustRoots = .file(path) }
            settings.certificateVerification =
                switch configuration.certificateVerification {
                case .full: .fullVerification
                case .noHostname: .noHostnameVerification
                case .none: .none
                }
            do {
                tls = try NIOSSLContext(configuration: settings)
            } catch {
                throw ConfigurationError(setting: "tls", message: "cannot set up TLS: \(error)")
            }
        }
        let isAddress = (try? SocketAddress(ipAddress: configuration.host, port: 0)) != nil
        return RedisEndpoint(
            host: configuration.host, port: configuration.port, tls: tls,
            serverName: isAddress ? nil : configuration.host, connectTimeout: configuration.connectTimeout,
            handshake: handshake, optionalHandshakeCommands: 1)
    }
}
#endif
