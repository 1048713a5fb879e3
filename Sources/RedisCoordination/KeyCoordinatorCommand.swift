import KeyCoordination

/// One call of the key-coordinator script (`Resources/key_coordinator.lua`): the operation and its own arguments,
/// encoded in the order the script reads `ARGV`.
enum KeyCoordinatorCommand: Sendable, Equatable {
    /// Hand out the pool's next key for `model` (nil: only whole-key rests apply), skipping `excluding`.
    case acquire(version: Int64, excluding: Set<Int64>, model: String?)
    /// The upstream's verdict on a key, judged with `policy`'s bounds.
    case report(version: Int64, key: Int64, outcome: KeyOutcome, policy: CoordinationPolicy)
    /// Seed or update the pool from the node's definition (never resets the state of keys already there).
    case sync(PoolDefinition)
    /// Undo an acquire whose key went unused: its next use back by the pacing interval, its request count one lower.
    case unpick(key: Int64)
    /// Drop every key and counter of the pool.
    case remove
    /// Every key's live state, for the admin page.
    case states
    /// Rest the whole pool (an account- or IP-wide limit); a shorter rest never shortens a longer one.
    case coolPool(version: Int64, seconds: Double, reason: String, policy: CoordinationPolicy)
    /// The pool's rest, if any.
    case poolCooling
    /// Take the usage counters gathered since the last drain.
    case drain

    /// The script's name for the operation (`ARGV[1]`).
    var operation: String {
        switch self {
        case .acquire: "acquire"
        case .report: "report"
        case .unpick: "unpick"
        case .sync: "sync"
        case .remove: "remove"
        case .states: "states"
        case .coolPool: "coolpool"
        case .poolCooling: "poolcool"
        case .drain: "drain"
        }
    }

    /// `ARGV`: the operation, the clock (`""`: Redis `TIME`; a test clock otherwise), then the operation's own.
    func arguments(clock: String) -> [String] {
        [operation, clock] + ownArguments
    }

    private var ownArguments: [String] {
        switch self {
        case .acquire(let version, let excluded, let model):
            let excludedList = excluded.sorted().map(String.init).joined(separator: ",")
            return [String(version), excludedList, model ?? ""]
        case .report(let version, let key, let outcome, let policy):
            let (tag, cooldown, reason, model) = Self.encode(outcome)
            let quarantine = policy.quarantineSeconds.map { String($0) }.joined(separator: ",")
            return [
                String(version), String(key), tag, cooldown, reason, String(policy.rejectionsBeforeInvalid), quarantine,
                String(policy.minimumCooldown), String(policy.maximumCooldown), model ?? "",
            ]
        case .sync(let definition):
            let ids = definition.keyIDs.map(String.init).joined(separator: ",")
            return [String(definition.version), String(definition.pacingInterval), ids]
        case .coolPool(let version, let seconds, let reason, let policy):
            return [String(version), String(seconds), reason, String(policy.minimumCooldown), String(policy.maximumCooldown)]
        case .unpick(let key):
            return [String(key)]
        case .remove, .states, .poolCooling, .drain:
            return []
        }
    }

    /// The script's outcome tag, cooldown seconds, reason and model for a report.
    private static func encode(_ outcome: KeyOutcome) -> (tag: String, cooldown: String, reason: String, model: String?) {
        switch outcome {
        case .success: ("ok", "0", "", nil)
        case .rateLimited(let cooldown, let model): ("429", String(cooldown), "", model)
        case .rejected(let reason): ("rej", "0", reason, nil)
        case .quotaExhausted(let cooldown, let reason, let model): ("quota", String(cooldown), reason, model)
        case .upstreamFailure(let reason): ("fail", "0", reason, nil)
        }
    }
}
