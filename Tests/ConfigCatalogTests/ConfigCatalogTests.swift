import ConfigCatalog
import Foundation
import KeyCoordination
import Logging
import RotatorCore
import RotatorSQL
import RotatorStore
import SQLiteDriver
import Testing

/// The catalog over a real SQLite store and the in-memory coordinator.
@Suite struct ConfigCatalogTests {
    struct Fixture {
        let database: SQLiteDatabase
        let store: InstrumentedStore
        let coordinator: InMemoryKeyCoordinator
        let catalog: ConfigCatalog
        let editor: ConfigEditor

        static func make() async throws -> Fixture {
            let database = try await SQLiteDatabase.open(path: SQLiteDatabase.inMemory)
            let store = InstrumentedStore(SQLConfigStore(database: database, cipher: try KeyCipher(base64: KeyCipher.generateKeyBase64())))
            try await store.migrate()
            let coordinator = InMemoryKeyCoordinator()
            let catalog = ConfigCatalog(store: store, coordinator: coordinator, logger: Logger(label: "catalog-test"))
            return Fixture(database: database, store: store, coordinator: coordinator, catalog: catalog, editor: ConfigEditor(catalog: catalog))
        }

        func config(_ slug: String, keys: Int) async throws -> ProxyConfig {
            let config = try await editor.createConfig(ProxyConfigDraft(
                name: slug, slug: slug, configType: .llm, apiKeyLocation: .header, apiKeyName: "Authorization", isActive: true,
                method: nil, targetURL: nil, targetBaseURL: "https://api.example.com/v1", apiFormat: .openAICompatible,
                outputFormat: nil, keyRPM: 0
            ))
            _ = try await editor.addKeys(configID: config.id, secrets: (0..<keys).map { "sk-\(slug)-\($0)-0123456789abcdef" })
            return config
        }
    }

    /// A write made behind the catalog's back (another node whose message was lost, an edit in the database)
    /// reloads that one config at the next check, not the whole catalog.
    @Test func theVersionCheckReloadsOnlyWhatChanged() async throws {
        let fixture = try await Fixture.make()
        let configs = [try await fixture.config("a", keys: 2), try await fixture.config("b", keys: 2), try await fixture.config("c", keys: 2)]
        try await fixture.catalog.reloadAll()
        try await fixture.catalog.reloadIfStale()  // settles the version the writes above left behind
        fixture.store.resetCounts()

        try await fixture.catalog.reloadIfStale()
        #expect(fixture.store.count("configVersions") == 0, "nothing changed: one version read, nothing else")

        _ = try await fixture.store.base.setConfigActive(id: configs[1].id, isActive: false)
        _ = try await fixture.store.base.deleteConfig(id: configs[2].id)
        try await fixture.catalog.reloadIfStale()
        #expect(fixture.store.count("listConfigs") == 0)
        #expect(fixture.store.count("servingSnapshot") == 1)
        #expect(fixture.catalog.pool(slug: "b")?.config.isActive == false)
        #expect(fixture.catalog.pool(slug: "c") == nil)
        #expect(fixture.catalog.pool(slug: "a")?.secrets.count == 2)
        #expect(await fixture.coordinator.acquireKey(pool: configs[2].id, excluding: []) == .empty, "the deleted pool is gone")
    }

    /// Another node's delete needs no store read here: it applies while the store cannot be reached.
    @Test func aRemovalMessageDropsTheConfigWithoutAStoreRead() async throws {
        let fixture = try await Fixture.make()
        let config = try await fixture.config("gone", keys: 1)
        try await fixture.catalog.reloadAll()
        try await fixture.database.close()
        try await fixture.catalog.apply(.removed(configID: config.id))
        #expect(fixture.catalog.pool(slug: "gone") == nil)
        #expect(await fixture.coordinator.acquireKey(pool: config.id, excluding: []) == .empty)
    }

    @Test func changeMessagesRoundTrip() {
        for message in [ConfigChangeMessage.changed(configID: 7, version: 12), .changed(configID: 7, version: nil), .removed(configID: 7)] {
            #expect(ConfigChangeMessage(payload: message.payload) == message)
        }
        #expect(ConfigChangeMessage(payload: "7:removed") == .removed(configID: 7))
        for junk in ["", "x", "0:1", "-3:1", "7:1:2", "7:later"] { #expect(ConfigChangeMessage(payload: junk) == nil) }
    }

    /// A key whose ciphertext does not open is left out and reported; the config's other keys serve.
    @Test func anUndecryptableKeyIsSkippedAndReported() async throws {
        let fixture = try await Fixture.make()
        let config = try await fixture.config("mixed", keys: 3)
        let ids = try await fixture.store.keys(configID: config.id).map(\.id)
        try await fixture.database.withConnection { connection in
            _ = try connection.execute("UPDATE api_keys SET key_ciphertext = (SELECT key_ciphertext FROM api_keys WHERE id = ?) WHERE id = ?",
                                       [.int(ids[0]), .int(ids[1])])
        }
        try await fixture.catalog.reloadAll()
        let pool = try #require(fixture.catalog.pool(slug: "mixed"))
        #expect(pool.undecryptableKeyIDs == [ids[1]])
        #expect(Set(pool.secrets.keys) == [ids[0], ids[2]])
    }

    /// The coordinator took a key out as invalid but the store did not take the mark: the catalog keeps the
    /// mark (admins see the key invalid), retries it at every check, and an admin's re-enable wins.
    @Test func aFailedInvalidMarkIsKeptRetriedAndOverruledByAnAdmin() async throws {
        let fixture = try await Fixture.make()
        let config = try await fixture.config("flaky", keys: 2)
        try await fixture.catalog.reloadAll()
        let key = try #require(try await fixture.store.keys(configID: config.id).first)

        fixture.store.failInvalidMarks.store(true, ordering: .relaxed)
        await fixture.catalog.invalidateKey(id: key.id, configID: config.id, reason: "upstream answered 401 repeatedly")
        #expect(fixture.catalog.pendingInvalidation(keyID: key.id) == "upstream answered 401 repeatedly")
        try await fixture.catalog.reloadIfStale()
        #expect(fixture.catalog.pendingInvalidation(keyID: key.id) != nil, "still failing: still pending")

        fixture.store.failInvalidMarks.store(false, ordering: .relaxed)
        try await fixture.catalog.reloadIfStale()
        #expect(fixture.catalog.pendingInvalidation(keyID: key.id) == nil)
        #expect(try await fixture.store.key(id: key.id)?.isInvalid == true)
        #expect(fixture.catalog.pool(slug: "flaky")?.secrets[key.id] == nil, "out of the serving set once the store knows")

        // Pending again, then re-enabled by an admin: back in rotation, mark forgotten.
        let other = try #require(try await fixture.store.keys(configID: config.id).last)
        for _ in 0..<3 { await fixture.coordinator.report(.rejected(reason: "401"), key: other.id, pool: config.id) }
        fixture.store.failInvalidMarks.store(true, ordering: .relaxed)
        await fixture.catalog.invalidateKey(id: other.id, configID: config.id, reason: "401")
        #expect(await fixture.coordinator.acquireKey(pool: config.id, excluding: []) == .empty)
        _ = try await fixture.editor.setKeyActive(id: other.id, isActive: true)
        #expect(fixture.catalog.pendingInvalidation(keyID: other.id) == nil)
        #expect(await fixture.coordinator.acquireKey(pool: config.id, excluding: []) == .key(other.id))
    }
}
