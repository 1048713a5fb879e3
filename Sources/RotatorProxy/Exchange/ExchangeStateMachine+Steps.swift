import ClientAccess
import KeyCoordination
import NIOCore
import NIOHTTP1
import UpstreamProviders

/// What `ExchangeStateMachine` is told and what it answers: the head's verdict, refusals, the steps it returns (the
/// upstream connection's fate, the key outcomes to report, one action) and the answers the executor writes.
extension ExchangeStateMachine {
    /// How the body's proxy key is checked, as the head left it.
    enum BodyCheck: Equatable {
        /// The head carried a valid proxy key.
        case none
        /// The proxy key is expected in the body's `api_key`: only a small body is read.
        case keyInBody
        /// Refused in any case: with this refusal if the body holds a valid proxy key (it tells about the slug), a 401
        /// otherwise.
        case refusalUnlessKey(ProxyRequestGate.Refusal)
    }

    /// What the body's `api_key` proved.
    enum BodyKey: Equatable {
        /// A proxy key or a usable client key: the body without it.
        case valid(ByteBuffer)
        /// A client key refused here (401 saying why, 403 for a config it may not use).
        case refused(ProxyRequestGate.Refusal)
        case missing
    }

    /// Why the request is refused (the executor renders it in the client's format).
    enum Refusal: Equatable {
        case given(ProxyRequestGate.Refusal)
        case unauthorized
        case tooLarge(limit: Int)
        case tooLargeForBodyKey(limit: Int)
        /// The client key's `limit` (of `value`) is reached; it frees in `retryAfter` s (nil: not soon).
        case quota(limit: QuotaLimit, value: Int64, retryAfter: Double?)
    }

    /// What the executor tells the quota when an admitted request ends.
    indirect enum QuotaCall: Equatable {
        /// Something went upstream: its tokens replace the reservation, the lease ends.
        case settle(QuotaTicket)
        /// Nothing went upstream: everything the admission took is given back.
        case release(QuotaTicket)
    }

    /// What happens to the upstream connection before the action.
    enum UpstreamDisposal: Equatable {
        case keep
        /// The answer was read to its end: back to the pool.
        case release
        case close
    }

    /// Once the whole answer is written.
    enum Then: Equatable {
        case finish
        /// A refused body's small rest still arrives: it is read and dropped, then the exchange ends.
        case awaitRequestEnd
    }

    /// An answer written whole.
    enum Answer: Equatable {
        case refusal(Refusal)
        /// The proxy's own error.
        case failure(ProxyFailure)
        /// The upstream's answer read in full (an error passed on, or a converted answer): scrubbed, then cut to
        /// `limit` (or converted into the client's format).
        case upstream(status: Int, headers: HTTPHeaders, body: ByteBuffer, limit: Int)
        /// A 2xx read whole at its declared length.
        case whole(status: Int, headers: HTTPHeaders, body: ByteBuffer)
        case unreadable(encoding: String)
        case requestTimeout(message: String)
    }

    enum Action: Equatable {
        case none
        /// The body is complete and authenticated: build the upstream request (convert it), then `requestPrepared`.
        case prepareRequest(body: ByteBuffer)
        case acquireKey(excluding: Set<Int64>)
        /// Ask the client key's quota (`admitImmediately`, else `admit` and `quotaPending`), then `quotaDecided`.
        /// (Boxed, as every quota payload of a step: an operator key's steps stay as small as they were.)
        indirect case admit(QuotaRequest)
        /// Renew the admitted request's concurrency lease, and arm the next renewal.
        indirect case renewQuota(QuotaTicket)
        /// Send the prepared request with this key (on a new connection when `fresh`); the read timer fires at `timer`.
        case send(keyID: Int64, fresh: Bool, timer: NIODeadline)
        /// Wait this long for a paced key, then `waited`.
        case wait(TimeAmount)
        /// Re-read the config from the store (at most `limit`), then `caughtUp`.
        case catchUp(limit: TimeAmount)
        case armTimer(NIODeadline)
        /// Wait until the key outcomes reported so far completed, then `reportsCompleted` (a rest this request found is
        /// seen by the next one).
        case awaitReports
        /// Write the answer whole, then `then`.
        case write(Answer, then: Then)
        /// A stream's head: write it when the first body bytes go (`takeHeldHead`); the key served.
        case startStream(status: Int, headers: HTTPHeaders)
        /// Relay this part of a stream (decoded, scrubbed, converted by the executor).
        case relay(ByteBuffer)
        /// The stream is complete: write its rest and end.
        case endStream
        /// Close the client's connection (a stream that cannot go on, after bytes reached the client).
        case closeClient
        case finish(completed: Bool)
    }

    struct Step: Equatable {
        var upstream: UpstreamDisposal = .keep
        /// The current key's outcome (reported first, and counted in metrics with the answer that decided it).
        var judged: Judged?
        /// Outcomes about other keys owed to the coordinator (settled by this answer, or owed at the end).
        var reports: [RequestBlame.KeyReport] = []
        /// An admission that came after the exchange ended, to release.
        var quota: QuotaCall?
        /// A key the pool picked for this request, unused because the client key's quota refused it: the pick is undone
        /// (`KeyCoordinator.unpick`), so a refusal by the quota takes nothing from the pool.
        var unpick: Int64?
        var action: Action

        init(upstream: UpstreamDisposal = .keep, _ action: Action) {
            self.upstream = upstream
            self.action = action
        }
    }

    struct Judged: Equatable {
        var key: Int64
        var outcome: KeyOutcome
        /// The answer read, when an answer (not a transport failure) decided it.
        var answer: UpstreamAnswer?
    }

    /// How a converted request's answers are read: a 2xx stream event by event, anything else whole.
    enum ConversionReading: Equatable {
        case whole
        case streams
    }

    struct Record: Equatable {
        /// The status the client got (0: none yet).
        var status = 0
        var upstreamStatus: Int?
        var answeredAt: NIODeadline?
        /// The upstream's time to answer, summed over the attempts, in nanoseconds.
        var upstreamWait: Int64 = 0
        /// A converted answer's tokens were counted (once, whichever way the exchange ends).
        var usageCounted = false
    }
}

extension ExchangeStateMachine.Refusal {
    var isTooLarge: Bool {
        switch self {
        case .given(let refusal): return refusal.status == .payloadTooLarge
        case .tooLarge, .tooLargeForBodyKey: return true
        case .unauthorized, .quota: return false
        }
    }
}
