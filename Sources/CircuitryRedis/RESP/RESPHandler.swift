#if Redis
import NIOCore
import NIOSSL
import Synchronization

/// Why the client could not get an answer. The store turns these into `CircuitStoreError`s.
package enum RedisClientError: Error, Sendable, Hashable {
    /// No TCP (or TLS) connection: the cause in a few words (`127.0.0.1:6379: Connection refused`).
    case cannotConnect(String)
    /// The server refused the session's first commands (`AUTH`, `SELECT`): its error line.
    case refused(String)
    /// No complete answer by the deadline. `connecting`: while the connection was being opened.
    case timedOut(connecting: Bool)
    /// The connection closed (or was reset) with requests unanswered.
    case connectionClosed
    /// The server sent something this client cannot read; the connection was closed.
    case protocolError(String)
    /// The pool was closed.
    case closed
}

/// The commands of one request, written at once (pipelined), and where its replies go.
struct RESPRequest: Sendable {
    var bytes: ByteBuffer
    var replyCount: Int
    var promise: EventLoopPromise<[RESPValue]>
    var deadline: NIODeadline
}

/// Pairs replies with requests: Redis answers the commands of one connection in the order they were sent, so the
/// first unanswered request owns the next reply. Requests of many tasks share one connection this way.
///
/// A request that is not fully answered by its deadline closes the connection: a later reply could no longer be
/// paired with its request, and a server that stopped answering (SIGSTOP, a partition) would otherwise hold every
/// request behind it. Everything still pending fails with the reason.
/// Why a connection failed, first cause wins: learnt by its handler, read by the connection too, whose writes after
/// the close find no handler left to ask (a TLS handshake that fails before the first request is written).
final class RESPFailure: Sendable {
    private let cause = Mutex<RedisClientError?>(nil)

    /// The first cause recorded, if any.
    var value: RedisClientError? { cause.withLock { $0 } }

    /// Records `error` unless a cause was recorded before.
    func record(_ error: RedisClientError) {
        cause.withLock { if $0 == nil { $0 = error } }
    }
}

final class RESPHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RESPRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var replies: [RESPValue]
        let count: Int
        let promise: EventLoopPromise<[RESPValue]>
        let timer: Scheduled<Void>
    }

    private var pending = CircularBuffer<Pending>()
    /// Set once the connection is failing: later writes fail at once with it.
    private var failure: RedisClientError?
    /// The same cause, for the connection.
    private let shared: RESPFailure

    init(failure shared: RESPFailure) {
        self.shared = shared
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        let timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: request.deadline) {
            self.fail(.timedOut(connecting: false), context: context)
        }
        var replies: [RESPValue] = []
        replies.reserveCapacity(request.replyCount)
        pending.append(Pending(replies: replies, count: request.replyCount, promise: request.promise, timer: timer))
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard !pending.isEmpty else {
            fail(.protocolError("a reply that no request asked for"), context: context)
            return
        }
        let head = pending.startIndex
        pending[head].replies.append(value)
        guard pending[head].replies.count == pending[head].count else { return }
        let done = pending.removeFirst()
        done.timer.cancel()
        done.promise.succeed(done.replies)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let error as RESPProtocolError: fail(.protocolError(error.description), context: context)
        case let error as RedisClientError: fail(error, context: context)
        case let error as NIOSSLError: fail(.cannotConnect("TLS: \(error)"), context: context)
        case let error as NIOSSLExtraError: fail(.cannotConnect("TLS: \(error)"), context: context)
        default: fail(.connectionClosed, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if failure == nil { failure = .connectionClosed }
        shared.record(failure ?? .connectionClosed)
        failAll(failure ?? .connectionClosed)
        context.fireChannelInactive()
    }

    private func fail(_ error: RedisClientError, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        shared.record(error)
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisClientError) {
        while let request = pending.popFirst() {
            request.timer.cancel()
            request.promise.fail(error)
        }
    }
}
#endif
