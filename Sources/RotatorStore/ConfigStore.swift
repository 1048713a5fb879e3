import ClientAccess
import RotatorCore

/// The source of truth for configs and keys. Lightweight mode: SQLite; enterprise mode: MySQL/MariaDB.
/// Nothing on the proxy's hot path calls it: the proxy reads the in-memory cache built from it.
public protocol ConfigStore: Sendable {
    /// Creates or upgrades the schema, refuses a master key that does not match the store's
    /// (`StoreError.corrupt` naming `ENCRYPTION_KEY`), and re-encrypts keys stored in an older format;
    /// safe to call from several processes at once.
    func migrate() async throws
    /// Cheap round trip proving the store answers (for `/readyz`).
    func ping() async throws

    func listConfigs() async throws -> [ProxyConfig]
    func config(id: Int64) async throws -> ProxyConfig?
    /// Every config's `version`, by id: lets a node find which configs it missed a change to, without loading them.
    func configVersions() async throws -> [Int64: Int64]
    /// Throws `StoreError.conflict` when the slug is taken.
    func createConfig(_ draft: ProxyConfigDraft) async throws -> ProxyConfig
    /// `nil` when no config has this id; `StoreError.conflict` when the new slug is taken.
    func updateConfig(id: Int64, with draft: ProxyConfigDraft) async throws -> ProxyConfig?
    func setConfigActive(id: Int64, isActive: Bool) async throws -> ProxyConfig?
    /// Deletes the config and its keys; false when it did not exist.
    func deleteConfig(id: Int64) async throws -> Bool

    /// Every key of a config, newest last, without secrets.
    func keys(configID: Int64) async throws -> [APIKeyRecord]
    func key(id: Int64) async throws -> APIKeyRecord?
    /// The config with its active, valid keys decrypted: what a node caches to serve a slug. A key that cannot
    /// be decrypted is left out and listed in `undecryptableKeyIDs`, never an error for the whole config.
    func servingSnapshot(configID: Int64) async throws -> ServingSnapshot?
    /// Throws `StoreError.conflict` when the config already holds this key, `StoreError.notFound` for a missing config.
    func addKey(configID: Int64, secret: String, isActive: Bool) async throws -> APIKeyRecord
    /// Adds many keys in one transaction: duplicates (in the batch or already stored) are skipped, blank ones fail.
    func addKeys(configID: Int64, secrets: [String]) async throws -> BatchImportResult
    /// Deletes every key of a config; returns how many went.
    func deleteKeys(configID: Int64) async throws -> Int
    /// Enabling a key also clears its `invalid` mark.
    func setKeyActive(id: Int64, isActive: Bool) async throws -> APIKeyRecord?
    /// Returns the deleted record (its config id tells the caller which cache entry to refresh).
    func deleteKey(id: Int64) async throws -> APIKeyRecord?
    /// Marks a key the upstream keeps rejecting; returns the updated record, nil if it is gone.
    func markKeyInvalid(id: Int64, reason: String) async throws -> APIKeyRecord?
    /// Adds usage counters gathered by the coordinator (keys deleted meanwhile are ignored).
    func recordUsage(_ deltas: [KeyUsageDelta]) async throws
    /// Bumped by every write to any config or key: lets a node detect an invalidation it missed.
    func globalVersion() async throws -> Int64

    /// A key's secret, decrypted (for a "check now" probe); nil when the key does not exist.
    func keySecret(id: Int64) async throws -> String?
    /// Appends one admin action to the audit log; bumps no version (it is history, not configuration).
    @discardableResult
    func recordAudit(_ draft: AuditEntryDraft) async throws -> AuditEntry
    /// The newest entries first, at most `limit`, only those older than `before` (an entry id) when given.
    func auditEntries(before: Int64?, limit: Int) async throws -> [AuditEntry]

    // MARK: Client keys (their secrets are never stored: only the keyed hash and a hint)

    /// Live (not revoked) keys by id, `perPage` (1...500) of them from page `page` (1-based), whose name or note
    /// contains `search` (case-insensitively) when given.
    func clientKeys(page: Int, perPage: Int, search: String?) async throws -> ClientKeyPage
    /// The key with this id, a revoked tombstone included (`revokedAt` set).
    func clientKey(id: Int64) async throws -> ClientKey?
    /// Every key, revoked tombstones included: what a node's `ClientKeyRegistry` holds.
    func allClientKeys() async throws -> [ClientKey]
    /// Moves with every client-key write: lets a node tell it missed one.
    func clientKeysVersion() async throws -> Int64
    /// A new key with a new secret (`ClientKeySecret.generate()`, stored as `hasher`'s hash); `StoreError.conflict`
    /// when a live key has the name.
    func createClientKey(_ draft: ClientKeyDraft, hasher: ClientKeyHasher) async throws -> IssuedClientKey
    /// nil when no live key has this id; `StoreError.conflict` when another live key has the name.
    func updateClientKey(id: Int64, with draft: ClientKeyDraft) async throws -> ClientKey?
    /// Marks a live key revoked (the row stays, so its secret is refused as revoked); returns it as it was, nil when
    /// no live key has this id.
    func revokeClientKey(id: Int64) async throws -> ClientKey?
    /// A new secret; the old one is accepted `graceSeconds` longer (0: not at all). nil when no live key has this id.
    func rotateClientKey(id: Int64, graceSeconds: Int64, hasher: ClientKeyHasher) async throws -> IssuedClientKey?
}

/// What a node needs to serve one config: the config and its usable keys with their secrets.
public struct ServingSnapshot: Sendable, Equatable {
    public var config: ProxyConfig
    public var keys: [UsableKey]
    /// Active, valid keys whose ciphertext did not open: left out of `keys`, to be reported.
    public var undecryptableKeyIDs: [Int64]

    public init(config: ProxyConfig, keys: [UsableKey], undecryptableKeyIDs: [Int64] = []) {
        self.config = config
        self.keys = keys
        self.undecryptableKeyIDs = undecryptableKeyIDs
    }
}

public struct BatchImportResult: Sendable, Equatable, Codable {
    public var successCount: Int
    public var failedCount: Int
    public var skippedCount: Int
    /// The failed entries, masked, with why they failed.
    public var failedKeys: [String]

    public init(successCount: Int, failedCount: Int, skippedCount: Int, failedKeys: [String]) {
        self.successCount = successCount
        self.failedCount = failedCount
        self.skippedCount = skippedCount
        self.failedKeys = failedKeys
    }

    enum CodingKeys: String, CodingKey {
        case successCount = "success_count"
        case failedCount = "failed_count"
        case skippedCount = "skipped_count"
        case failedKeys = "failed_keys"
    }
}

public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A uniqueness rule was broken (slug taken, key already in the pool).
    case conflict(String)
    case notFound(String)
    /// The database cannot be reached or answered with an error; the message is safe to show.
    case unavailable(String)
    /// Stored data could not be read back (bad ciphertext, wrong ENCRYPTION_KEY, corrupt row).
    case corrupt(String)

    public var description: String {
        switch self {
        case .conflict(let message), .notFound(let message), .unavailable(let message), .corrupt(let message):
            return message
        }
    }
}
