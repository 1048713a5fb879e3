import ClientAccess
import Foundation
import RotatorSQL
import RotatorStore
import Testing

/// Client keys in the store, on every backend (SQLite and, where a server is available, MariaDB).
@Suite("Client keys in the store")
struct ClientKeyStoreTests {
    static let hasher = ClientKeyHasher(encryptionKey: "client-key-store-tests")

    static func draft(_ name: String = "team-a") -> ClientKeyDraft {
        ClientKeyDraft(
            name: name, note: "the A team", expiresAt: Date(timeIntervalSince1970: 1_800_000_000), allowedConfigs: ["openai"],
            allowedModels: [.prefix("gpt-4o"), .exact("claude-sonnet-4")],
            limits: ClientKeyLimits(rpm: 60, maxConcurrent: 5, dailyTokens: 100_000)
        )
    }

    @Test(arguments: StoreBackend.all)
    func createStoresOnlyTheHashAndReadsBack(_ backend: StoreBackend) async throws {
        let clock = TestClock()
        try await backend.withStore(now: { clock.now }) { store, database in
            let issued = try await store.createClientKey(Self.draft(), hasher: Self.hasher)
            #expect(issued.secret.hasPrefix("rk-") && issued.secret.count >= 35)
            let key = issued.key
            #expect(key.secretHash == Self.hasher.hash(issued.secret))
            #expect(key.secretHint == ClientKeySecret.hint(issued.secret))
            #expect(key.name == "team-a" && key.note == "the A team" && key.enabled)
            #expect(key.allowedConfigs == ["openai"])
            #expect(key.allowedModels == [.prefix("gpt-4o"), .exact("claude-sonnet-4")])
            #expect(key.limits == ClientKeyLimits(rpm: 60, maxConcurrent: 5, dailyTokens: 100_000))
            #expect(key.expiresAt == Date(timeIntervalSince1970: 1_800_000_000))
            #expect(key.createdAt == clock.now && key.revokedAt == nil && key.previousSecretHash == nil)
            #expect(try await store.clientKey(id: key.id) == key)

            // The secret is nowhere in the database: not in any column of the row.
            let row = try await database.withConnection { connection in
                try connection.query("SELECT * FROM client_keys").map { row in
                    try row.columns.names.map { name in (try? row.string(name)) ?? "" }.joined(separator: "|")
                }
            }
            #expect(row.count == 1)
            #expect(!row[0].contains(issued.secret))
            #expect(!row[0].contains(String(issued.secret.dropFirst(3).prefix(20))))
        }
    }

    @Test(arguments: StoreBackend.all)
    func namesAreUniqueAmongLiveKeysOnly(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let first = try await store.createClientKey(Self.draft(), hasher: Self.hasher).key
            await #expect(throws: StoreError.conflict("a client key named 'team-a' already exists")) {
                _ = try await store.createClientKey(Self.draft(), hasher: Self.hasher)
            }
            let other = try await store.createClientKey(Self.draft("team-b"), hasher: Self.hasher).key
            await #expect(throws: StoreError.self) { _ = try await store.updateClientKey(id: other.id, with: Self.draft("team-a")) }
            #expect(try await store.clientKey(id: other.id)?.name == "team-b", "nothing half-written")

            #expect(try await store.revokeClientKey(id: first.id)?.id == first.id)
            let again = try await store.createClientKey(Self.draft(), hasher: Self.hasher).key
            #expect(again.id != first.id, "a revoked key's name is free again")
        }
    }

    @Test(arguments: StoreBackend.all)
    func updateRevokeAndRotate(_ backend: StoreBackend) async throws {
        let clock = TestClock()
        try await backend.withStore(now: { clock.now }) { store, _ in
            let issued = try await store.createClientKey(Self.draft(), hasher: Self.hasher)
            let id = issued.key.id
            let versionAfterCreate = try await store.clientKeysVersion()
            let globalAfterCreate = try await store.globalVersion()
            #expect(versionAfterCreate == 1)

            clock.advance(seconds: 10)
            var draft = ClientKeyDraft(issued.key)
            draft.enabled = false
            draft.note = nil
            draft.allowedModels = nil
            draft.limits = ClientKeyLimits(tpm: 1000)
            let updated = try #require(try await store.updateClientKey(id: id, with: draft))
            #expect(!updated.enabled && updated.note == nil && updated.allowedModels == nil && updated.limits == ClientKeyLimits(tpm: 1000))
            #expect(updated.secretHash == issued.key.secretHash && updated.updatedAt == clock.now && updated.createdAt == issued.key.createdAt)
            #expect(try await store.clientKeysVersion() == versionAfterCreate + 1)
            #expect(try await store.globalVersion() == globalAfterCreate + 1)

            let rotated = try #require(try await store.rotateClientKey(id: id, graceSeconds: 300, hasher: Self.hasher))
            #expect(rotated.secret != issued.secret)
            #expect(rotated.key.secretHash == Self.hasher.hash(rotated.secret))
            #expect(rotated.key.previousSecretHash == issued.key.secretHash)
            #expect(rotated.key.previousSecretValidUntil == clock.now.addingTimeInterval(300))
            let now = try #require(try await store.rotateClientKey(id: id, graceSeconds: 0, hasher: Self.hasher))
            #expect(now.key.previousSecretHash == rotated.key.secretHash && now.key.previousSecretValidUntil == clock.now)

            let revoked = try #require(try await store.revokeClientKey(id: id))
            #expect(revoked.revokedAt == nil, "the key as it was")
            #expect(try await store.clientKey(id: id)?.revokedAt == clock.now, "a tombstone")
            #expect(try await store.revokeClientKey(id: id) == nil)
            #expect(try await store.updateClientKey(id: id, with: draft) == nil)
            #expect(try await store.rotateClientKey(id: id, graceSeconds: 0, hasher: Self.hasher) == nil)
            #expect(try await store.clientKeys(page: 1, perPage: 50, search: nil) == ClientKeyPage(keys: [], total: 0))
            #expect(try await store.allClientKeys().map(\.id) == [id], "the catalog still sees the tombstone")
            #expect(try await store.clientKey(id: id + 100) == nil)
        }
    }

    @Test(arguments: StoreBackend.all)
    func listsPagedAndSearched(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            var ids: [Int64] = []
            for index in 0..<7 {
                var draft = Self.draft("key-\(index)")
                draft.note = index == 3 ? "Owned by 100%_Billing" : nil
                ids.append(try await store.createClientKey(draft, hasher: Self.hasher).key.id)
            }
            let first = try await store.clientKeys(page: 1, perPage: 3, search: nil)
            #expect(first.total == 7 && first.keys.map(\.id) == Array(ids[0..<3]))
            #expect(try await store.clientKeys(page: 3, perPage: 3, search: nil).keys.map(\.id) == [ids[6]])
            #expect(try await store.clientKeys(page: 4, perPage: 3, search: nil).keys.isEmpty)
            #expect(try await store.clientKeys(page: 1, perPage: 50, search: "KEY-5").keys.map(\.id) == [ids[5]], "case-insensitive")
            #expect(try await store.clientKeys(page: 1, perPage: 50, search: "billing").keys.map(\.id) == [ids[3]], "in the note")
            #expect(try await store.clientKeys(page: 1, perPage: 50, search: "100%_").total == 1, "wildcards are literal")
            #expect(try await store.clientKeys(page: 1, perPage: 50, search: "_1").total == 0, "'_' matches only itself")
        }
    }

    /// 10 000 keys: the list is read a page at a time, and each page answers fast (printed, not asserted). Not on the
    /// SQLite file backend, whose 10 000 commits measure the disk's fsync, not the store.
    @Test(arguments: StoreBackend.all.filter { $0.name != StoreBackend.sqliteFile.name })
    func tenThousandKeysStayPaged(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let clock = ContinuousClock()
            let started = clock.now
            for index in 0..<10_000 {
                _ = try await store.createClientKey(ClientKeyDraft(name: "bulk-\(index)", limits: ClientKeyLimits(rpm: 10)), hasher: Self.hasher)
            }
            let created = clock.now - started
            var pageTimes: [Duration] = []
            for page in [1, 100, 200] {
                let before = clock.now
                let answer = try await store.clientKeys(page: page, perPage: 50, search: nil)
                pageTimes.append(clock.now - before)
                #expect(answer.total == 10_000 && answer.keys.count == 50)
            }
            let before = clock.now
            let searched = try await store.clientKeys(page: 1, perPage: 50, search: "bulk-9999")
            let searchTime = clock.now - before
            #expect(searched.total == 1)
            let loadStart = clock.now
            #expect(try await store.allClientKeys().count == 10_000)
            print("client keys on \(backend): 10000 created in \(created), pages 1/100/200 in \(pageTimes), search in \(searchTime), all loaded in \(clock.now - loadStart)")
        }
    }
}
