import Foundation
import KeyCoordination
import Logging
import RedisClient

/// Login attempts counted in Redis, so a guesser meets the same limit on every node: one script call checks
/// and counts atomically, with Redis' clock. While Redis cannot be reached, this node counts on its own.
public final class RedisLoginAttemptLimiter: LoginAttemptLimiter {
    static let script = RedisScript(ScriptResource.source(named: "login_attempts"))

    private let client: RedisClient
    private let policy: LoginThrottlePolicy
    private let fallback: InMemoryLoginAttemptLimiter
    private let logger: Logger
    /// Test hook: a clock to pass to the script instead of Redis `TIME` (nil in production).
    private let clockOverride: (@Sendable () -> Double)?

    public init(client: RedisClient, policy: LoginThrottlePolicy = .standard, logger: Logger, clockOverride: (@Sendable () -> Double)? = nil) {
        self.client = client
        self.policy = policy
        self.logger = logger
        self.clockOverride = clockOverride
        self.fallback = InMemoryLoginAttemptLimiter(policy: policy)
    }

    /// Every subject under one hash tag: a multi-key script needs its keys on one Cluster slot.
    static func key(_ subject: LoginSubject) -> String {
        "rotator:{login}:" + subject.key
    }

    public func admit(address: String, username: String) async -> LoginAdmission {
        let (client, user) = policy.subjects(address: address, username: username)
        let args = [
            "admit", clock(), String(policy.memorySeconds), String(policy.maximumLockSeconds), String(policy.freeAttemptsPerClient),
            String(policy.freeAttemptsPerUser),
        ]
        do {
            let reply = try await run(keys: [Self.key(client), Self.key(user)], args: args)
            guard let parts = reply.array, let kind = parts.first?.string else { throw RedisError.protocolError("login reply") }
            let seconds = { parts.dropFirst().first?.string.flatMap(Double.init) }
            // The script reports both waits; the decision is the one the in-memory limiter makes.
            switch kind {
            case "client": return policy.admission(clientWait: seconds() ?? 1, userWait: nil)
            case "user": return policy.admission(clientWait: nil, userWait: seconds() ?? 1)
            default: return .allowed
            }
        } catch {
            logger.warning("redis unreachable: counting login attempts on this node only", metadata: ["error": "\(error)"])
            return await fallback.admit(address: address, username: username)
        }
    }

    public func succeeded(address: String, username: String) async {
        let (client, user) = policy.subjects(address: address, username: username)
        await fallback.succeeded(address: address, username: username)
        _ = try? await run(keys: [Self.key(client), Self.key(user)], args: ["reset", clock()])
    }

    private func clock() -> String {
        clockOverride.map { String(format: "%.6f", $0()) } ?? ""
    }

    private func run(keys: [String], args: [String]) async throws -> RESPValue {
        let client = self.client
        return try await RedisKeyCoordinator.withDeadline(client.configuration.commandTimeout * 2, logger: logger) {
            try await client.evalScript(Self.script, keys: keys.map { RedisArgument($0) }, args: args.map { RedisArgument($0) })
        }
    }
}
