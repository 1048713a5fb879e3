import ClientAccess
import Foundation
import RedisClient

/// One call of the client-quota script (`Resources/client_quota.lua`), encoded in the order the script reads `ARGV`.
enum ClientQuotaCommand: Sendable, Equatable {
    /// `givingBack`: this node's settles and releases of the same client key queued since its last call, applied first.
    case admit(QuotaRequest, givingBack: [QuotaGiveBack] = [])
    /// One or more settles and releases of one client key (one hash tag), in one call.
    case settle([QuotaGiveBack])
    case renew(QuotaTicket)
    case states(ClientKeyLimits)

    var operation: String {
        switch self {
        case .admit: "admit"
        case .settle: "settle"
        case .renew: "renew"
        case .states: "states"
        }
    }

    var clientKey: Int64? {
        switch self {
        case .admit(let request, _): request.clientKey
        case .settle(let groups): groups.first?.ticket.request.clientKey
        case .renew(let ticket): ticket.request.clientKey
        case .states: nil
        }
    }

    /// `ARGV`: the operation, the clock (`""`: Redis `TIME`), then for admit, renew and states the seven limits (0:
    /// none), lease, reserved tokens, admission time, 0, lease seconds; then the give-back groups (admit, settle).
    func arguments(clock: String) -> [String] {
        var arguments = [operation, clock]
        switch self {
        case .admit(let request, let groups):
            arguments.reserveCapacity(14 + QuotaGiveBack.width * groups.count)
            Self.append(request.limits, request, admittedAt: nil, to: &arguments)
            for group in groups { group.append(to: &arguments) }
        case .settle(let groups):
            arguments.reserveCapacity(2 + QuotaGiveBack.width * groups.count)
            for group in groups { group.append(to: &arguments) }
        case .renew(let ticket):
            Self.append(ticket.request.limits, ticket.request, admittedAt: ticket.admittedAt, to: &arguments)
        case .states(let limits):
            Self.append(limits, nil, admittedAt: nil, to: &arguments)
        }
        return arguments
    }

    private static func append(_ limits: ClientKeyLimits, _ request: QuotaRequest?, admittedAt: Double?, to arguments: inout [String]) {
        for limit in QuotaLimit.allCases { arguments.append(String(limits[limit] ?? 0)) }
        arguments.append(request?.lease ?? "")
        arguments.append(String(request?.reservedTokens ?? 0))
        arguments.append(admittedAt.map { String(format: "%.6f", $0) } ?? "")
        arguments.append("0")
        arguments.append(String(QuotaLease.seconds))
    }
}

/// A settle (`usedTokens`) or release (nil) of one admitted ticket, as the script's 6 arguments: op, lease, reserved
/// tokens, admission time, used tokens, and which limits the ticket had (7 characters `1`/`0` in `QuotaLimit` order).
struct QuotaGiveBack: Sendable, Equatable {
    var ticket: QuotaTicket
    /// nil: release.
    var usedTokens: Int64?

    static let width = 6

    func append(to arguments: inout [String]) {
        let request = ticket.request
        arguments.append(usedTokens == nil ? "release" : "settle")
        arguments.append(request.lease)
        arguments.append(String(request.reservedTokens))
        arguments.append(String(format: "%.6f", ticket.admittedAt))
        arguments.append(String(usedTokens ?? 0))
        var flags = ""  // 7 characters: stored inline, no allocation
        for limit in QuotaLimit.allCases { flags.append(request.limits[limit] == nil ? "0" : "1") }
        arguments.append(flags)
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
