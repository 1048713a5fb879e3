import ClientAccess
import RotatorCore
import RotatorStore

/// Every change an admin makes to configs and keys, as one step each: the store write, then this node's
/// catalog entry (and the coordinator's pool), then the message that makes every other node do the same.
/// Callers cannot forget the second half, because there is no other way to write.
///
/// Errors are the store's (`StoreError`); once the store has committed, nothing after it throws: a failed
/// refresh or publish is repaired by the periodic version check.
public struct ConfigEditor: Sendable {
    public let catalog: ConfigCatalog
    private var store: any ConfigStore { catalog.store }

    public init(catalog: ConfigCatalog) {
        self.catalog = catalog
    }

    public func createConfig(_ draft: ProxyConfigDraft) async throws -> ProxyConfig {
        let config = try await store.createConfig(draft)
        await catalog.commitChange(configID: config.id)
        return config
    }

    public func updateConfig(id: Int64, with draft: ProxyConfigDraft) async throws -> ProxyConfig? {
        guard let config = try await store.updateConfig(id: id, with: draft) else { return nil }
        await catalog.commitChange(configID: id)
        return config
    }

    public func setConfigActive(id: Int64, isActive: Bool) async throws -> ProxyConfig? {
        guard let config = try await store.setConfigActive(id: id, isActive: isActive) else { return nil }
        await catalog.commitChange(configID: id)
        return config
    }

    /// Reaches every node at once, like an edit: the others drop it on the message, without a store read.
    public func deleteConfig(id: Int64) async throws -> Bool {
        guard try await store.deleteConfig(id: id) else { return false }
        await catalog.commitRemoval(configID: id)
        return true
    }

    public func addKey(configID: Int64, secret: String, isActive: Bool) async throws -> APIKeyRecord {
        let record = try await store.addKey(configID: configID, secret: secret, isActive: isActive)
        await catalog.commitChange(configID: configID)
        return record
    }

    public func addKeys(configID: Int64, secrets: [String]) async throws -> BatchImportResult {
        let result = try await store.addKeys(configID: configID, secrets: secrets)
        if result.successCount > 0 { await catalog.commitChange(configID: configID) }
        return result
    }

    public func deleteKeys(configID: Int64) async throws -> Int {
        let count = try await store.deleteKeys(configID: configID)
        if count > 0 { await catalog.commitChange(configID: configID) }
        return count
    }

    /// Enabling also clears `invalid`, in the store and in the coordinator, which may hold the key as invalid
    /// without the store knowing (a mark that has not reached it yet).
    public func setKeyActive(id: Int64, isActive: Bool) async throws -> APIKeyRecord? {
        guard let record = try await store.setKeyActive(id: id, isActive: isActive) else { return nil }
        let wasPending = catalog.forgetPendingInvalidation(keyID: id)
        await catalog.commitChange(configID: record.proxyConfigID)
        if isActive && wasPending { await catalog.resetInCoordinator(keyID: id, configID: record.proxyConfigID) }
        return record
    }

    public func deleteKey(id: Int64) async throws -> APIKeyRecord? {
        guard let record = try await store.deleteKey(id: id) else { return nil }
        _ = catalog.forgetPendingInvalidation(keyID: id)
        await catalog.commitChange(configID: record.proxyConfigID)
        return record
    }

    // MARK: Client keys (each write reaches every node's registry: here at once, elsewhere through the change message)

    /// The new key with its secret, shown this once. `StoreError.conflict` for a name a live key has.
    public func createClientKey(_ draft: ClientKeyDraft) async throws -> IssuedClientKey {
        let issued = try await store.createClientKey(draft, hasher: try clientKeyHasher())
        await catalog.commitClientKeyChange(id: issued.key.id)
        return issued
    }

    public func updateClientKey(id: Int64, with draft: ClientKeyDraft) async throws -> ClientKey? {
        guard let key = try await store.updateClientKey(id: id, with: draft) else { return nil }
        await catalog.commitClientKeyChange(id: id)
        return key
    }

    /// The key as it was before; its secret is refused as revoked on every node from now on.
    public func revokeClientKey(id: Int64) async throws -> ClientKey? {
        guard let key = try await store.revokeClientKey(id: id) else { return nil }
        await catalog.commitClientKeyChange(id: id)
        return key
    }

    public func rotateClientKey(id: Int64, graceSeconds: Int64) async throws -> IssuedClientKey? {
        guard let issued = try await store.rotateClientKey(id: id, graceSeconds: graceSeconds, hasher: try clientKeyHasher()) else { return nil }
        await catalog.commitClientKeyChange(id: id)
        return issued
    }

    private func clientKeyHasher() throws -> ClientKeyHasher {
        guard let registry = catalog.clientKeys else {
            throw StoreError.unavailable("this node was started without a client-key registry")
        }
        return registry.hasher
    }
}
