#if Redis
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and how a connection is opened: the server, TLS, and the commands that start every session.
package struct RedisEndpoint: Sendable {
    package var host: String
    package var port: Int
    /// `nil`: plain TCP.
    package var tls: NIOSSLContext?
    /// The name the server's certificate is checked against (and sent as SNI); `nil` for an IP address.
    package var serverName: String?
    package var connectTimeout: Duration
    /// Sent pipelined right after connecting (`AUTH`, `SELECT`, `CLIENT SETNAME`); an error reply to any but the
    /// last `optional` ones refuses the connection.
    package var handshake: [[String]]
    /// How many of the handshake's last commands may fail without refusing the connection (`CLIENT SETNAME`, which
    /// an ACL may forbid).
    package var optionalHandshakeCommands: Int

    package init(
        host: String, port: Int, tls: NIOSSLContext? = nil, serverName: String? = nil, connectTimeout: Duration,
        handshake: [[String]] = [], optionalHandshakeCommands: Int = 0
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.serverName = serverName
        self.connectTimeout = connectTimeout
        self.handshake = handshake
        self.optionalHandshakeCommands = optionalHandshakeCommands
    }
}

/// One connection to the server, shared by every task that sends on it: requests are pipelined and their replies
/// paired in order by ``RESPHandler``.
package final class RedisConnection: Sendable {
    private let channel: any Channel
    private let failure: RESPFailure

    private init(channel: any Channel, failure: RESPFailure) {
        self.channel = channel
        self.failure = failure
    }

    /// Whether the connection can still be used.
    package var isActive: Bool { channel.isActive }

    /// Writes `commands` at once and returns their replies, in order; fails with ``RedisClientError`` if the
    /// connection fails or the replies are not all in by `deadline` (which closes the connection).
    package func send(_ commands: [[String]], deadline: NIODeadline) async throws -> [RESPValue] {
        var bytes = channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands { RESPEncoder.write(command, into: &bytes) }
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        let request = RESPRequest(bytes: bytes, replyCount: commands.count, promise: promise, deadline: deadline)
        // A connection that closed after it was picked has no handler left to answer (or time out) the request: the
        // failed write fails it. (Once the handler has it, the handler answers it, fails it, or times it out; a
        // second failure is ignored.)
        let written = channel.eventLoop.makePromise(of: Void.self)
        let failure = failure
        written.futureResult.whenFailure { _ in promise.fail(failure.value ?? RedisClientError.connectionClosed) }
        channel.writeAndFlush(request, promise: written)
        return try await promise.futureResult.get()
    }

    /// Closes the connection; requests still waiting fail with ``RedisClientError/connectionClosed``.
    package func close() async {
        try? await channel.close()
    }

    /// Starts closing the connection without waiting for it to close.
    package func startClosing() {
        channel.close(mode: .all, promise: nil)
    }

    /// Opens a connection to `endpoint` and runs its handshake, both by `deadline` (and within the endpoint's
    /// connect timeout).
    package static func connect(to endpoint: RedisEndpoint, deadline: NIODeadline) async throws -> RedisConnection {
        let connectDeadline = min(deadline, .now() + .nanoseconds(endpoint.connectTimeout.nanoseconds))
        let timeout = connectDeadline - .now()
        guard timeout > .zero else { throw RedisClientError.timedOut(connecting: true) }
        let failure = RESPFailure()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = endpoint.tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: endpoint.serverName))
                    }
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(RESPDecoder()), RESPHandler(failure: failure))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch let error as ChannelError where error == .connectTimeout(timeout) {
            throw RedisClientError.timedOut(connecting: true)
        } catch {
            throw RedisClientError.cannotConnect(Self.describe(error))
        }
        let connection = RedisConnection(channel: channel, failure: failure)
        guard !endpoint.handshake.isEmpty else { return connection }
        do {
            let replies = try await connection.send(endpoint.handshake, deadline: connectDeadline)
            let required = replies.dropLast(endpoint.optionalHandshakeCommands)
            if let refusal = required.lazy.compactMap(\.errorMessage).first {
                throw RedisClientError.refused(refusal)
            }
        } catch {
            await connection.close()
            if case .timedOut? = error as? RedisClientError { throw RedisClientError.timedOut(connecting: true) }
            // A TLS handshake that failed closes the channel: say why, not only that it closed.
            throw error
        }
        return connection
    }

    /// Why a connection could not be made, in a few words: `127.0.0.1:6379: Connection refused` rather than
    /// NIO's description of every attempt.
    static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            if let dns = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve \(error.host): \(dns)" }
            if !error.connectionErrors.isEmpty {
                return error.connectionErrors.map { "\(address($0.target)): \(describe($0.error))" }
                    .joined(separator: "; ")
            }
            return "cannot connect to \(error.host):\(error.port)"
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }

    private static func address(_ target: SocketAddress) -> String {
        guard let ip = target.ipAddress, let port = target.port else { return "\(target)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }
}
#endif
