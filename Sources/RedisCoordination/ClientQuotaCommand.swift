import ClientAccess
import Foundation
import RedisClient

/// One call of the client-quota script (`Resources/client_quota.lua`), encoded in the order the script reads `ARGV`.
enum ClientQuotaCommand: Sendable, Equatable {
    case admit(QuotaRequest)
    case settle(QuotaTicket, usedTokens: Int64)
    case release(QuotaTicket)
    case renew(QuotaTicket)
    case states(ClientKeyLimits)

    var operation: String {
        switch self {
        case .admit: "admit"
        case .settle: "settle"
        case .release: "release"
        case .renew: "renew"
        case .states: "states"
        }
    }

    var clientKey: Int64? {
        switch self {
        case .admit(let request): request.clientKey
        case .settle(let ticket, _), .release(let ticket), .renew(let ticket): ticket.request.clientKey
        case .states: nil
        }
    }

    /// `ARGV`: the operation, the clock (`""`: Redis `TIME`), the seven limits (0: none), lease, reserved tokens,
    /// admission time, used tokens, lease seconds.
    func arguments(clock: String) -> [String] {
        let (limits, request, admittedAt, used): (ClientKeyLimits, QuotaRequest?, Double?, Int64?) = switch self {
        case .admit(let request): (request.limits, request, nil, nil)
        case .settle(let ticket, let used): (ticket.request.limits, ticket.request, ticket.admittedAt, used)
        case .release(let ticket), .renew(let ticket): (ticket.request.limits, ticket.request, ticket.admittedAt, nil)
        case .states(let limits): (limits, nil, nil, nil)
        }
        var arguments = [operation, clock]
        arguments.reserveCapacity(14)
        for limit in QuotaLimit.allCases { arguments.append(String(limits[limit] ?? 0)) }
        arguments.append(request?.lease ?? "")
        arguments.append(String(request?.reservedTokens ?? 0))
        arguments.append(admittedAt.map { String(format: "%.6f", $0) } ?? "")
        arguments.append(String(used ?? 0))
        arguments.append(String(QuotaLease.seconds))
        return arguments
    }
}

/// What the client-quota script answered to `admit` or `states`; anything else it cannot answer throws
/// `RedisError.protocolError` (the caller treats it as Redis failing).
struct ClientQuotaReply: Sendable, Equatable {
    /// The script's clock at the call.
    var now: Double
    /// The first full limit and its retry-after (refused admits only).
    var refused: (limit: QuotaLimit, retryAfter: Double?)?
    /// Per limit (`QuotaLimit.allCases` order): what it has used (this admission included) and its reset seconds.
    var used: [Int64]
    var resets: [Double]

    init(_ value: RESPValue) throws {
        guard let parts = value.array, parts.count == 4 + 2 * QuotaLimit.allCases.count,
            let tag = parts[0].string, ["ok", "no", "st"].contains(tag), let now = parts[1].string.flatMap(Double.init)
        else { throw RedisError.protocolError("client quota reply") }
        self.now = now
        if tag == "no" {
            guard let index = parts[2].string.flatMap(Int.init), QuotaLimit.allCases.indices.contains(index - 1) else {
                throw RedisError.protocolError("client quota refusal")
            }
            refused = (QuotaLimit.allCases[index - 1], parts[3].string.flatMap(Double.init))
        }
        var used: [Int64] = []
        var resets: [Double] = []
        for index in stride(from: 4, to: parts.count, by: 2) {
            used.append(parts[index].string.flatMap(Int64.init) ?? 0)
            resets.append(parts[index + 1].string.flatMap(Double.init) ?? 0)
        }
        self.used = used
        self.resets = resets
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.now == rhs.now && lhs.refused?.limit == rhs.refused?.limit && lhs.refused?.retryAfter == rhs.refused?.retryAfter
            && lhs.used == rhs.used && lhs.resets == rhs.resets
    }

    /// Each configured limit's state.
    func states(_ limits: ClientKeyLimits) -> [LimitState] {
        QuotaLimit.allCases.enumerated().compactMap { index, limit in
            guard let value = limits[limit] else { return nil }
            return LimitState(limit: limit, value: value, remaining: max(value - used[index], 0), resetSeconds: resets[index])
        }
    }

    func decision(for request: QuotaRequest) -> QuotaDecision {
        let states = states(request.limits)
        guard let refused else { return .admitted(QuotaTicket(request: request, admittedAt: now), states: states) }
        return .refused(limit: refused.limit, value: request.limits[refused.limit] ?? 0, retryAfter: refused.retryAfter, states: states)
    }
}
