import RedisClient
import RotatorCore
import RotatorStore

/// Enterprise mode's usage ledger between flushes: each node adds its rows' deltas to one Redis hash every
/// `USAGE_FLUSH_SECONDS` (`push`), and one node at a time, holding a lease, moves the hash's totals into the store
/// (`moveToStore`). A node that dies loses at most what it counted since its last push.
///
/// The move renames the hash (atomically, so pushes after it start a new one), adds the renamed hash to the store and
/// deletes it; a mover that died in between leaves it for the next mover. Keys share one hash tag (one Redis Cluster
/// slot): the rename needs both in one slot.
public struct RedisUsageCounters: Sendable {
    let client: RedisClient
    let nodeID: String

    static let pendingKey = "{rotator:usage}:pending"
    static let movingKey = "{rotator:usage}:moving"
    static let leaseKey = "{rotator:usage}:lease"

    /// Adds every field in one call.
    static let addScript = """
        for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
        return 1
        """

    /// A leftover moving hash first (its mover died), else the pending hash renamed; its fields and values.
    static let takeScript = """
        if redis.call('EXISTS', KEYS[2]) == 0 then
          if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
          redis.call('RENAME', KEYS[1], KEYS[2])
        end
        return redis.call('HGETALL', KEYS[2])
        """

    /// Deletes the lease only when this node still holds it.
    static let releaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """

    public init(client: RedisClient, nodeID: String) {
        self.client = client
        self.nodeID = nodeID
    }

    func push(_ rows: [UsageRowKey: UsageCounts]) async throws {
        let fields = UsageHashFields.encode(rows)
        guard !fields.isEmpty else { return }
        var arguments: [RedisArgument] = ["EVAL", RedisArgument(Self.addScript), "1", RedisArgument(Self.pendingKey)]
        for (field, value) in fields {
            arguments.append(RedisArgument(field))
            arguments.append(RedisArgument(value))
        }
        let reply = try await client.send(arguments)
        if case .error(let message) = reply { throw RedisUsageError(message: message) }
    }

    /// Moves the fleet's totals into the store when no other node is doing it; false when another node holds the lease.
    func moveToStore(_ store: any UsageLedgerStore, leaseMilliseconds: Int64) async throws -> Bool {
        let acquired = try await client.send(["SET", RedisArgument(Self.leaseKey), RedisArgument(nodeID), "NX", "PX", RedisArgument(leaseMilliseconds)])
        guard !acquired.isNull else { return false }
        do {
            try await moveHeld(to: store)
        } catch {
            await releaseLease()
            throw error
        }
        await releaseLease()
        return true
    }

    private func moveHeld(to store: any UsageLedgerStore) async throws {
        let taken = try await client.send(["EVAL", RedisArgument(Self.takeScript), "2", RedisArgument(Self.pendingKey), RedisArgument(Self.movingKey)])
        if case .error(let message) = taken { throw RedisUsageError(message: message) }
        let elements = taken.array ?? []
        var pairs: [(String, Int64)] = []
        var index = 0
        while index + 1 < elements.count {
            if let field = elements[index].string, let value = elements[index + 1].int { pairs.append((field, value)) }
            index += 2
        }
        guard !pairs.isEmpty else { return }
        try await store.addUsage(UsageHashFields.decode(pairs))
        _ = try await client.send(["DEL", RedisArgument(Self.movingKey)])
    }

    private func releaseLease() async {
        _ = try? await client.send(["EVAL", RedisArgument(Self.releaseScript), "1", RedisArgument(Self.leaseKey), RedisArgument(nodeID)])
    }
}

struct RedisUsageError: Error, CustomStringConvertible {
    var message: String
    var description: String { "Redis: \(message)" }
}

/// A ledger row's counters as hash fields: `day:client:config:key:counter:model` (0 for a missing id, the model last
/// and empty for none, since it may hold any character) with the count as the value.
enum UsageHashFields {
    static let counterNames = ["r"] + UsageErrorClass.allCases.map { "e_\($0.rawValue)" } + ["a", "i", "o", "c"]

    static func encode(_ rows: [UsageRowKey: UsageCounts]) -> [(String, Int64)] {
        var fields: [(String, Int64)] = []
        for (key, counts) in rows {
            let prefix = "\(key.day):\(key.clientKeyID ?? 0):\(key.configID):\(key.keyID ?? 0):"
            let values = [counts.requests] + UsageErrorClass.allCases.map { counts.errors($0) }
                + [counts.attempts, counts.inputTokens, counts.outputTokens, counts.cachedTokens]
            for (name, value) in zip(counterNames, values) where value != 0 {
                fields.append((prefix + name + ":" + (key.model ?? ""), value))
            }
        }
        return fields
    }

    static func decode(_ fields: [(String, Int64)]) -> [UsageRowKey: UsageCounts] {
        var rows: [UsageRowKey: UsageCounts] = [:]
        for (field, value) in fields {
            let parts = field.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
            guard parts.count == 6, let day = Int32(parts[0]), let client = Int64(parts[1]), let config = Int64(parts[2]), let key = Int64(parts[3]),
                let counter = counterNames.firstIndex(of: String(parts[4]))
            else { continue }
            let row = UsageRowKey(day: day, clientKeyID: client == 0 ? nil : client, configID: config, keyID: key == 0 ? nil : key,
                                  model: parts[5].isEmpty ? nil : String(parts[5]))
            var counts = UsageCounts()
            switch counter {
            case 0: counts.requests = value
            case let index where index <= UsageErrorClass.allCases.count: counts.addError(UsageErrorClass.allCases[index - 1], count: value)
            default:
                switch counterNames[counter] {
                case "a": counts.attempts = value
                case "i": counts.inputTokens = value
                case "o": counts.outputTokens = value
                default: counts.cachedTokens = value
                }
            }
            rows[row, default: UsageCounts()].add(counts)
        }
        return rows
    }
}
