import ClientAccess
import RotatorCore
import RotatorStore
import Synchronization

/// The real SQL store with a window into what the catalog asks of it: counts of the reads that load configs,
/// and a switch that makes `markKeyInvalid` fail as an unreachable database would.
final class InstrumentedStore: ConfigStore {
    let base: SQLConfigStore
    private let counts = Mutex<[String: Int]>([:])
    let failInvalidMarks = Atomic<Bool>(false)

    init(_ base: SQLConfigStore) {
        self.base = base
    }

    func count(_ name: String) -> Int { counts.withLock { $0[name, default: 0] } }
    func resetCounts() { counts.withLock { $0 = [:] } }
    private func record(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }

    func migrate() async throws { try await base.migrate() }
    func ping() async throws { try await base.ping() }
    func listConfigs() async throws -> [ProxyConfig] {
        record("listConfigs")
        return try await base.listConfigs()
    }
    func config(id: Int64) async throws -> ProxyConfig? { try await base.config(id: id) }
    func configVersions() async throws -> [Int64: Int64] {
        record("configVersions")
        return try await base.configVersions()
    }
    func createConfig(_ draft: ProxyConfigDraft) async throws -> ProxyConfig { try await base.createConfig(draft) }
    func updateConfig(id: Int64, with draft: ProxyConfigDraft) async throws -> ProxyConfig? { try await base.updateConfig(id: id, with: draft) }
    func setConfigActive(id: Int64, isActive: Bool) async throws -> ProxyConfig? { try await base.setConfigActive(id: id, isActive: isActive) }
    func deleteConfig(id: Int64) async throws -> Bool { try await base.deleteConfig(id: id) }
    func keys(configID: Int64) async throws -> [APIKeyRecord] { try await base.keys(configID: configID) }
    func key(id: Int64) async throws -> APIKeyRecord? { try await base.key(id: id) }
    func servingSnapshot(configID: Int64) async throws -> ServingSnapshot? {
        record("servingSnapshot")
        return try await base.servingSnapshot(configID: configID)
    }
    func addKey(configID: Int64, secret: String, isActive: Bool) async throws -> APIKeyRecord {
        try await base.addKey(configID: configID, secret: secret, isActive: isActive)
    }
    func addKeys(configID: Int64, secrets: [String]) async throws -> BatchImportResult { try await base.addKeys(configID: configID, secrets: secrets) }
    func deleteKeys(configID: Int64) async throws -> Int { try await base.deleteKeys(configID: configID) }
    func setKeyActive(id: Int64, isActive: Bool) async throws -> APIKeyRecord? { try await base.setKeyActive(id: id, isActive: isActive) }
    func deleteKey(id: Int64) async throws -> APIKeyRecord? { try await base.deleteKey(id: id) }
    func markKeyInvalid(id: Int64, reason: String) async throws -> APIKeyRecord? {
        if failInvalidMarks.load(ordering: .relaxed) { throw StoreError.unavailable("database error: injected") }
        return try await base.markKeyInvalid(id: id, reason: reason)
    }
    func recordUsage(_ deltas: [KeyUsageDelta]) async throws { try await base.recordUsage(deltas) }
    func globalVersion() async throws -> Int64 { try await base.globalVersion() }
    func keySecret(id: Int64) async throws -> String? { try await base.keySecret(id: id) }
    func recordAudit(_ draft: AuditEntryDraft) async throws -> AuditEntry { try await base.recordAudit(draft) }
    func auditEntries(before: Int64?, limit: Int) async throws -> [AuditEntry] { try await base.auditEntries(before: before, limit: limit) }
    func clientKeys(page: Int, perPage: Int, search: String?) async throws -> ClientKeyPage {
        try await base.clientKeys(page: page, perPage: perPage, search: search)
    }
    func clientKey(id: Int64) async throws -> ClientKey? {
        record("clientKey")
        return try await base.clientKey(id: id)
    }
    func allClientKeys() async throws -> [ClientKey] {
        record("allClientKeys")
        return try await base.allClientKeys()
    }
    func clientKeysVersion() async throws -> Int64 { try await base.clientKeysVersion() }
    func createClientKey(_ draft: ClientKeyDraft, hasher: ClientKeyHasher) async throws -> IssuedClientKey {
        try await base.createClientKey(draft, hasher: hasher)
    }
    func updateClientKey(id: Int64, with draft: ClientKeyDraft) async throws -> ClientKey? { try await base.updateClientKey(id: id, with: draft) }
    func revokeClientKey(id: Int64) async throws -> ClientKey? { try await base.revokeClientKey(id: id) }
    func rotateClientKey(id: Int64, graceSeconds: Int64, hasher: ClientKeyHasher) async throws -> IssuedClientKey? {
        try await base.rotateClientKey(id: id, graceSeconds: graceSeconds, hasher: hasher)
    }
}
