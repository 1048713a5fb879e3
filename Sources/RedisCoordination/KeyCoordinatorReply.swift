import Foundation
import KeyCoordination
import RedisClient
import RotatorCore

/// What the key-coordinator script answered, decoded once for the command that asked. A reply the command cannot
/// have (an unknown tag, a key without an id) throws `RedisError.protocolError`: the caller treats it as Redis failing.
enum KeyCoordinatorReply: Sendable, Equatable {
    /// The pool is missing or older than the caller's version: seed it and ask again.
    case reseed
    /// `acquire`: this key, and its rejections in a row (a success must then be reported to reset them).
    case key(Int64, rejections: Int64)
    /// `acquire`: no key is free for this long (seconds).
    case wait(seconds: Double)
    /// `acquire`: the pool has no key.
    case empty
    /// `report`: nothing changed for the key; `poolcool`: the pool does not rest.
    case none
    /// `report`: the key rests until then (Unix seconds on the script's clock).
    case cooled(until: Double)
    /// `report`: the key was rejected and is out until then.
    case quarantined(until: Double)
    /// `report`: the key was rejected too often in a row and is out for good.
    case invalidated
    /// `coolpool`, `poolcool`: the whole pool rests.
    case cooling(PoolCooling)
    /// `sync`, `remove`: done.
    case done
    /// `sync`: Redis already holds a newer version of the pool; nothing was changed.
    case stale
    /// `states`: each key's live state.
    case states([Int64: KeyRuntimeState])
    /// `drain`: the usage counted since the last drain.
    case usage([Int64: KeyUsageDelta])

    init(_ value: RESPValue, answering command: KeyCoordinatorCommand) throws {
        switch command {
        case .states: self = .states(Self.states(from: value.array ?? []))
        case .drain: self = .usage(Self.usage(from: value.array ?? []))
        case .sync, .remove, .unpick:
            switch value.string {
            case "ok": self = .done
            case "stale": self = .stale
            default: throw RedisError.protocolError("\(command.operation) reply")
            }
        case .acquire, .report, .coolPool, .poolCooling:
            try self.init(tagged: value.array ?? [], answering: command)
        }
    }

    /// `{tag, ...}` replies: the tag must be one the command can answer.
    private init(tagged parts: [RESPValue], answering command: KeyCoordinatorCommand) throws {
        let tag = parts.first?.string
        let first = parts.dropFirst().first
        let time = first?.string.flatMap(Double.init)
        switch (command, tag) {
        case (.acquire, "reseed"), (.report, "reseed"), (.coolPool, "reseed"): self = .reseed
        case (.acquire, "key"):
            guard let id = first?.string.flatMap(Int64.init) else { throw RedisError.protocolError("acquire id") }
            self = .key(id, rejections: parts.dropFirst(2).first?.int ?? 0)
        case (.acquire, "wait"): self = .wait(seconds: time ?? 1)
        case (.acquire, "empty"): self = .empty
        case (.report, "none"), (.poolCooling, "none"): self = .none
        case (.report, "cooled"): self = .cooled(until: time ?? 0)
        case (.report, "quarantined"): self = .quarantined(until: time ?? 0)
        case (.report, "invalidated"): self = .invalidated
        case (.coolPool, "cooling"), (.poolCooling, "cooling"):
            guard let until = time, parts.count >= 3 else { throw RedisError.protocolError("\(command.operation) reply") }
            self = .cooling(PoolCooling(until: until, reason: parts[2].string ?? ""))
        default:
            throw RedisError.protocolError("\(command.operation) reply")
        }
    }

    /// Flat list of five per key: id, cooling-until ('' when usable), rejections, quota-until ('' when not), model
    /// rests as a JSON object ('' when none).
    private static func states(from values: [RESPValue]) -> [Int64: KeyRuntimeState] {
        var states: [Int64: KeyRuntimeState] = [:]
        var index = 0
        while index + 4 < values.count {
            if let id = values[index].string.flatMap(Int64.init) {
                let rests = values[index + 4].string.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Double] }
                states[id] = KeyRuntimeState(
                    coolingUntil: values[index + 1].string.flatMap(Double.init),
                    consecutiveRejections: values[index + 2].string.flatMap(Int.init) ?? 0,
                    quotaExhaustedUntil: values[index + 3].string.flatMap(Double.init),
                    modelCoolingUntil: rests ?? [:]
                )
            }
            index += 5
        }
        return states
    }

    /// `HGETALL` of the usage hash: `req:<id>`, `err:<id>`, `last:<id>`, `lerr:<id>` and their values.
    private static func usage(from values: [RESPValue]) -> [Int64: KeyUsageDelta] {
        var merged: [Int64: KeyUsageDelta] = [:]
        var index = 0
        while index + 1 < values.count {
            defer { index += 2 }
            guard let field = values[index].string, let value = values[index + 1].string else { continue }
            let parts = field.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let id = Int64(parts[1]) else { continue }
            var delta = KeyUsageDelta(keyID: id)
            switch parts[0] {
            case "req": delta.requests = Int64(value) ?? 0
            case "err": delta.errors = Int64(value) ?? 0
            case "last": delta.lastUsedAt = Double(value).map { Date(timeIntervalSince1970: $0) }
            case "lerr": delta.lastError = value
            default: continue
            }
            merged[id, default: KeyUsageDelta(keyID: id)].merge(delta)
        }
        return merged
    }
}
