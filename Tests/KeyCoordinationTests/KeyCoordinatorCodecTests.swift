import KeyCoordination
import RedisClient
import RotatorCore
import Testing

@testable import RedisCoordination

/// The key-coordinator script's calls and answers, encoded and decoded without a Redis: the order of `ARGV` is the
/// contract with `Resources/key_coordinator.lua`.
@Suite struct KeyCoordinatorCodecTests {
    private static func bulk(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }
    private static func tagged(_ parts: String...) -> RESPValue { .array(parts.map(bulk)) }
    private let policy = CoordinationPolicy(rejectionsBeforeInvalid: 3, quarantineSeconds: [2, 10], maximumCooldown: 600, minimumCooldown: 1)

    // MARK: Commands

    @Test func acquireSendsTheVersionTheSortedExclusionsAndTheModel() {
        #expect(KeyCoordinatorCommand.acquire(version: 4, excluding: [9, 2, 5], model: "gpt-4o").arguments(clock: "")
            == ["acquire", "", "4", "2,5,9", "gpt-4o"])
        #expect(KeyCoordinatorCommand.acquire(version: 0, excluding: [], model: nil).arguments(clock: "12.500000")
            == ["acquire", "12.500000", "0", "", ""])
    }

    @Test func reportsCarryTheOutcomeAndThePolicysBounds() {
        let tail = ["3", "2.0,10.0", "1.0", "600.0"]
        func arguments(_ outcome: KeyOutcome) -> [String] {
            KeyCoordinatorCommand.report(version: 2, key: 7, outcome: outcome, policy: policy).arguments(clock: "")
        }
        #expect(arguments(.success) == ["report", "", "2", "7", "ok", "0", ""] + tail + [""])
        #expect(arguments(.rateLimited(cooldown: 30, model: "m")) == ["report", "", "2", "7", "429", "30.0", ""] + tail + ["m"])
        #expect(arguments(.rejected(reason: "401")) == ["report", "", "2", "7", "rej", "0", "401"] + tail + [""])
        #expect(arguments(.quotaExhausted(cooldown: 60, reason: "insufficient_quota"))
            == ["report", "", "2", "7", "quota", "60.0", "insufficient_quota"] + tail + [""])
        #expect(arguments(.upstreamFailure(reason: "502")) == ["report", "", "2", "7", "fail", "0", "502"] + tail + [""])
    }

    @Test func poolCommands() {
        #expect(KeyCoordinatorCommand.sync(PoolDefinition(id: 1, keyIDs: [3, 1], pacingInterval: 0.5, version: 6)).arguments(clock: "")
            == ["sync", "", "6", "0.5", "3,1"])
        #expect(KeyCoordinatorCommand.coolPool(version: 6, seconds: 20, reason: "ip limit", policy: policy).arguments(clock: "")
            == ["coolpool", "", "6", "20.0", "ip limit", "1.0", "600.0"])
        #expect(KeyCoordinatorCommand.remove.arguments(clock: "") == ["remove", ""])
        #expect(KeyCoordinatorCommand.states.arguments(clock: "") == ["states", ""])
        #expect(KeyCoordinatorCommand.poolCooling.arguments(clock: "") == ["poolcool", ""])
        #expect(KeyCoordinatorCommand.drain.arguments(clock: "") == ["drain", ""])
        #expect(KeyCoordinatorCommand.unpick(key: 7).arguments(clock: "3.000000") == ["unpick", "3.000000", "7"])
    }

    // MARK: Replies

    private let acquire = KeyCoordinatorCommand.acquire(version: 1, excluding: [], model: nil)
    private var report: KeyCoordinatorCommand { .report(version: 1, key: 7, outcome: .rejected(reason: "401"), policy: policy) }

    @Test func acquireReplies() throws {
        #expect(try KeyCoordinatorReply(Self.tagged("key", "12", "2"), answering: acquire) == .key(12, rejections: 2))
        #expect(try KeyCoordinatorReply(.array([Self.bulk("key"), Self.bulk("12"), .integer(0)]), answering: acquire) == .key(12, rejections: 0))
        #expect(try KeyCoordinatorReply(Self.tagged("wait", "0.250000"), answering: acquire) == .wait(seconds: 0.25))
        #expect(try KeyCoordinatorReply(Self.tagged("empty"), answering: acquire) == .empty)
        #expect(try KeyCoordinatorReply(Self.tagged("reseed"), answering: acquire) == .reseed)
    }

    @Test func reportReplies() throws {
        #expect(try KeyCoordinatorReply(Self.tagged("none"), answering: report) == .none)
        #expect(try KeyCoordinatorReply(Self.tagged("cooled", "100.500000"), answering: report) == .cooled(until: 100.5))
        #expect(try KeyCoordinatorReply(Self.tagged("quarantined", "12.000000"), answering: report) == .quarantined(until: 12))
        #expect(try KeyCoordinatorReply(Self.tagged("invalidated"), answering: report) == .invalidated)
        #expect(try KeyCoordinatorReply(Self.tagged("reseed"), answering: report) == .reseed)
    }

    @Test func poolReplies() throws {
        let cooling = KeyCoordinatorReply.cooling(PoolCooling(until: 50, reason: "ip limit"))
        #expect(try KeyCoordinatorReply(Self.tagged("cooling", "50.000000", "ip limit"), answering: .poolCooling) == cooling)
        #expect(try KeyCoordinatorReply(Self.tagged("none"), answering: .poolCooling) == .none)
        let coolPool = KeyCoordinatorCommand.coolPool(version: 1, seconds: 5, reason: "r", policy: policy)
        #expect(try KeyCoordinatorReply(Self.tagged("cooling", "50.000000", "ip limit"), answering: coolPool) == cooling)
        #expect(try KeyCoordinatorReply(Self.bulk("ok"), answering: .sync(PoolDefinition(id: 1, keyIDs: [], pacingInterval: 0))) == .done)
        #expect(try KeyCoordinatorReply(Self.bulk("stale"), answering: .sync(PoolDefinition(id: 1, keyIDs: [], pacingInterval: 0))) == .stale)
        #expect(try KeyCoordinatorReply(.simpleString("ok"), answering: .remove) == .done)
        #expect(try KeyCoordinatorReply(Self.bulk("ok"), answering: .unpick(key: 7)) == .done)
        #expect(throws: RedisError.self) { try KeyCoordinatorReply(Self.bulk("maybe"), answering: .unpick(key: 7)) }
    }

    @Test func statesAreFivePerKey() throws {
        let reply = Self.tagged("1", "", "0", "", "", "2", "90.000000", "2", "300.000000", #"{"gpt-4o":120.5}"#)
        #expect(try KeyCoordinatorReply(reply, answering: .states) == .states([
            1: KeyRuntimeState(coolingUntil: nil, consecutiveRejections: 0, quotaExhaustedUntil: nil, modelCoolingUntil: [:]),
            2: KeyRuntimeState(coolingUntil: 90, consecutiveRejections: 2, quotaExhaustedUntil: 300, modelCoolingUntil: ["gpt-4o": 120.5]),
        ]))
    }

    @Test func drainedUsageIsMergedPerKey() throws {
        let reply = Self.tagged("req:1", "5", "err:1", "2", "lerr:1", "502", "req:3", "1", "last:3", "1700000000.000000", "odd", "1")
        guard case .usage(let usage) = try KeyCoordinatorReply(reply, answering: .drain) else {
            Issue.record("not usage")
            return
        }
        #expect(usage[1] == KeyUsageDelta(keyID: 1, requests: 5, errors: 2, lastError: "502"))
        #expect(usage[3]?.requests == 1)
        #expect(usage[3]?.lastUsedAt?.timeIntervalSince1970 == 1_700_000_000)
        #expect(usage.count == 2)
    }

    /// A reply the command cannot have is Redis misbehaving: it throws, and the coordinator falls back as for an outage.
    @Test func repliesACommandCannotHaveThrow() {
        #expect(throws: RedisError.self) { try KeyCoordinatorReply(Self.tagged("cooled", "1.0"), answering: acquire) }
        #expect(throws: RedisError.self) { try KeyCoordinatorReply(Self.tagged("key"), answering: acquire) }
        #expect(throws: RedisError.self) { try KeyCoordinatorReply(Self.tagged("key", "not-a-number"), answering: acquire) }
        #expect(throws: RedisError.self) { try KeyCoordinatorReply(Self.tagged("key", "3"), answering: report) }
        #expect(throws: RedisError.self) { try KeyCoordinatorReply(Self.tagged("cooling", "x"), answering: .poolCooling) }
        #expect(throws: RedisError.self) { try KeyCoordinatorReply(.null, answering: .remove) }
        #expect(throws: RedisError.self) { try KeyCoordinatorReply(.error("ERR"), answering: report) }
    }
}
