import Foundation

/// What the store knows of one upstream key. The secret itself is never part of this record:
/// admin responses only ever see `maskedValue`.
public struct APIKeyRecord: Sendable, Equatable, Identifiable {
    public var id: Int64
    public var proxyConfigID: Int64
    public var maskedValue: String
    public var isActive: Bool
    /// Set when the upstream rejected the key repeatedly (401/403); cleared when an admin re-enables it.
    public var isInvalid: Bool
    public var requestCount: Int64
    public var errorCount: Int64
    /// Tokens the upstream reported for this key's answers, where the proxy reads them (converted answers).
    public var inputTokens: Int64
    public var outputTokens: Int64
    public var lastUsedAt: Date?
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: Int64, proxyConfigID: Int64, maskedValue: String, isActive: Bool, isInvalid: Bool, requestCount: Int64,
        errorCount: Int64, inputTokens: Int64 = 0, outputTokens: Int64 = 0, lastUsedAt: Date?, lastError: String?,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.proxyConfigID = proxyConfigID
        self.maskedValue = maskedValue
        self.isActive = isActive
        self.isInvalid = isInvalid
        self.requestCount = requestCount
        self.errorCount = errorCount
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.lastUsedAt = lastUsedAt
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// A key the proxy may hand out (subject to the coordinator's cooldowns).
    public var isUsable: Bool { isActive && !isInvalid }
}

/// A usable key with its decrypted secret, as held in the node's in-memory cache only.
public struct UsableKey: Sendable, Equatable {
    public var id: Int64
    public var secret: String

    public init(id: Int64, secret: String) {
        self.id = id
        self.secret = secret
    }
}

/// Status shown to admins: stored flags first, then the coordinator's live view.
public enum KeyStatus: String, Sendable, Codable {
    case active
    case disabled
    case cooling
    /// Resting because the upstream said its quota or credit is gone.
    case exhausted
    case invalid
    /// Its stored ciphertext does not open on this node: out of rotation until replaced.
    case undecryptable
}

/// Usage gathered on the hot path and flushed to the store in batches.
public struct KeyUsageDelta: Sendable, Equatable {
    public var keyID: Int64
    public var requests: Int64
    public var errors: Int64
    public var inputTokens: Int64
    public var outputTokens: Int64
    public var lastUsedAt: Date?
    public var lastError: String?

    public init(
        keyID: Int64, requests: Int64 = 0, errors: Int64 = 0, inputTokens: Int64 = 0, outputTokens: Int64 = 0,
        lastUsedAt: Date? = nil, lastError: String? = nil
    ) {
        self.keyID = keyID
        self.requests = requests
        self.errors = errors
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.lastUsedAt = lastUsedAt
        self.lastError = lastError
    }

    public mutating func merge(_ other: KeyUsageDelta) {
        requests += other.requests
        errors += other.errors
        inputTokens += other.inputTokens
        outputTokens += other.outputTokens
        if let used = other.lastUsedAt, used > (lastUsedAt ?? .distantPast) { lastUsedAt = used }
        if let error = other.lastError { lastError = error }
    }
}
