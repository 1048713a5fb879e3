/// Finding the master through Sentinel, as decisions without I/O: which Sentinel to ask next, what its answer
/// means, whether a connected server really is the master, and what a `+switch-master` message says.
///
/// Follows Redis' guidelines for Sentinel clients: ask the Sentinels in turn until one names the master, move
/// the one that answered to the front of the list, and check `ROLE` on the server it named (a Sentinel may
/// still name a master that was demoted). `RedisMasterLocator` does the I/O.
public struct SentinelMasterDiscovery: Sendable {
    public let masterName: String
    /// In the order to ask them: the last one that named the master first.
    public private(set) var sentinels: [RedisEndpoint]
    /// The master as last learned (from a Sentinel's answer or a `+switch-master`); nil when it must be asked for.
    public private(set) var master: RedisEndpoint?
    /// The round of questions under way: the index of the Sentinel asked, and why each earlier one did not name it.
    private var round: Round?

    private struct Round: Sendable {
        var next = 0
        var failures: [String] = []
    }

    public enum Step: Sendable, Equatable {
        /// Ask this Sentinel `SENTINEL get-master-addr-by-name <name>`; report with `answered` or `failed`.
        case ask(RedisEndpoint)
        /// Connect to this master (and check its `ROLE`).
        case connect(RedisEndpoint)
        /// Every Sentinel was asked and none named a master: wait (back off) and start again. The reasons, one per Sentinel.
        case noMaster([String])
    }

    public init(configuration: RedisSentinelConfiguration) {
        precondition(!configuration.sentinels.isEmpty, "a Sentinel configuration needs at least one Sentinel")
        masterName = configuration.masterName
        sentinels = configuration.sentinels
    }

    /// Where to go for the master now: to it when known, otherwise to the first Sentinel of a new round.
    public mutating func start() -> Step {
        if let master { return .connect(master) }
        round = Round()
        return .ask(sentinels[0])
    }

    /// A Sentinel's reply to `SENTINEL get-master-addr-by-name`: `[ip, port]` names the master; a null reply means
    /// this Sentinel does not monitor that name; an error reply (`-NOAUTH`, `-IDONTKNOW`) counts as a failure.
    public mutating func answered(by sentinel: RedisEndpoint, reply: RESPValue) -> Step {
        if let found = Self.endpoint(fromAddressReply: reply) {
            master = found
            round = nil
            if let index = sentinels.firstIndex(of: sentinel), index > 0 {
                sentinels.remove(at: index)
                sentinels.insert(sentinel, at: 0)
            }
            return .connect(found)
        }
        let reason: String
        switch reply {
        case .error(let message): reason = "\(sentinel): \(message)"
        case .bulkString(nil), .array(nil): reason = "\(sentinel): does not know a master named '\(masterName)'"
        default: reason = "\(sentinel): unexpected reply \(reply)"
        }
        return failed(sentinel, reason: reason)
    }

    /// The Sentinel could not be reached or did not answer in time: ask the next one.
    public mutating func failed(_ sentinel: RedisEndpoint, reason: String) -> Step {
        var current = round ?? Round()
        current.failures.append(reason.hasPrefix("\(sentinel)") ? reason : "\(sentinel): \(reason)")
        current.next += 1
        guard current.next < sentinels.count else {
            round = nil
            return .noMaster(current.failures)
        }
        round = current
        return .ask(sentinels[current.next])
    }

    /// After connecting to `endpoint`: the `ROLE` reply. True for a master; for a replica (or anything else) the
    /// address is forgotten, so the next `start()` asks the Sentinels again.
    public mutating func roleChecked(at endpoint: RedisEndpoint, reply: RESPValue) -> Bool {
        if Self.isMaster(roleReply: reply) { return true }
        forget(endpoint)
        return false
    }

    /// The master at `endpoint` failed (connection refused or lost, `READONLY`): ask again next time, unless a
    /// newer master is already known.
    public mutating func forget(_ endpoint: RedisEndpoint) {
        if master == endpoint { master = nil }
    }

    /// A `+switch-master` message (`<name> <old-ip> <old-port> <new-ip> <new-port>`): the new master when the
    /// message is about this master name, nil otherwise.
    public mutating func switchMessage(_ payload: [UInt8]) -> RedisEndpoint? {
        let parts = String(decoding: payload, as: UTF8.self).split(separator: " ")
        guard parts.count == 5, parts[0] == masterName, let port = Int(parts[4]), (1...65535).contains(port) else { return nil }
        let found = RedisEndpoint(host: String(parts[3]), port: port)
        master = found
        return found
    }

    /// A Sentinel's answer learned outside a round (after re-subscribing): the master it names, if any.
    public mutating func learned(_ endpoint: RedisEndpoint) {
        master = endpoint
    }

    /// `SENTINEL get-master-addr-by-name` names a master as `[ip, port]`.
    public static func endpoint(fromAddressReply reply: RESPValue) -> RedisEndpoint? {
        guard let elements = reply.array, elements.count == 2, let host = elements[0].string, !host.isEmpty,
              let port = elements[1].string.flatMap(Int.init), (1...65535).contains(port) else { return nil }
        return RedisEndpoint(host: host, port: port)
    }

    /// `ROLE` answers `["master", offset, replicas]` on a master, `["slave", ...]` on a replica.
    public static func isMaster(roleReply reply: RESPValue) -> Bool {
        reply.array?.first?.string == "master"
    }
}
