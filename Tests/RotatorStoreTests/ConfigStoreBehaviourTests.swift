import Foundation
import RotatorCore
import RotatorSQL
import RotatorStore
import Testing

/// The store's behaviour, run against every backend in `StoreBackend.all`.
@Suite("ConfigStore behaviour")
struct ConfigStoreBehaviourTests {
    // MARK: Schema

    @Test(arguments: StoreBackend.all)
    func migrateIsIdempotent(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            try await store.migrate()
            try await store.migrate()
            try await store.ping()
            #expect(try await store.globalVersion() == 0)
            #expect(try await store.listConfigs().isEmpty)
        }
    }

    // MARK: Configs

    @Test(arguments: StoreBackend.all)
    func createsAndReadsConfigs(_ backend: StoreBackend) async throws {
        let clock = TestClock()
        try await backend.withStore(now: { clock.now }) { store, _ in
            let created = try await store.createConfig(TestFixtures.draft())
            #expect(created.slug == "openai")
            #expect(created.name == "OpenAI")
            #expect(created.configType == .llm)
            #expect(created.apiKeyLocation == .header)
            #expect(created.apiKeyName == "Authorization")
            #expect(created.isActive)
            #expect(created.method == nil)
            #expect(created.targetURL == nil)
            #expect(created.targetBaseURL == "https://api.openai.com/v1")
            #expect(created.apiFormat == .openAICompatible)
            #expect(created.outputFormat == nil)
            #expect(created.keyRPM == 0)
            #expect(created.version == 1)
            #expect(created.createdAt == clock.now)
            #expect(created.updatedAt == clock.now)

            let generic = try await store.createConfig(TestFixtures.genericDraft)
            #expect(generic.configType == .generic)
            #expect(generic.apiKeyLocation == .query)
            #expect(generic.method == "GET")
            #expect(generic.targetURL == "https://api.weather.example/data")
            #expect(generic.targetBaseURL == nil)
            #expect(generic.outputFormat == "json")
            #expect(generic.keyRPM == 30)
            #expect(!generic.isActive)

            #expect(try await store.config(id: created.id) == created)
            #expect(try await store.config(id: generic.id) == generic)
            #expect(try await store.config(id: generic.id + 100) == nil)
            #expect(try await store.listConfigs() == [created, generic])
        }
    }

    @Test(arguments: StoreBackend.all)
    func slugConflicts(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let first = try await store.createConfig(TestFixtures.draft(slug: "openai"))
            await #expect(throws: StoreError.conflict("a config with slug 'openai' already exists")) {
                try await store.createConfig(TestFixtures.draft(slug: "openai", name: "Other"))
            }
            let second = try await store.createConfig(TestFixtures.draft(slug: "anthropic"))
            await #expect(throws: StoreError.conflict("a config with slug 'openai' already exists")) {
                try await store.updateConfig(id: second.id, with: TestFixtures.draft(slug: "openai"))
            }
            // A failed write changes nothing.
            #expect(try await store.config(id: second.id)?.slug == "anthropic")
            #expect(try await store.config(id: first.id)?.version == 1)
            #expect(try await store.globalVersion() == 2)
        }
    }

    /// A store created before migration 4 (no model columns) keeps its configs and gains the columns.
    @Test(arguments: StoreBackend.all)
    func aVersionOneStoreUpgradesToModelNames(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, database in
            let created = try await store.createConfig(TestFixtures.draft())
            try await database.withConnection { connection in
                try connection.execute("ALTER TABLE proxy_configs DROP COLUMN model_map")
                try connection.execute("ALTER TABLE proxy_configs DROP COLUMN default_model")
                try connection.execute("DELETE FROM schema_migrations WHERE version = 4")
            }
            try await store.migrate()
            let upgraded = try #require(try await store.config(id: created.id))
            #expect(upgraded == created)
            #expect(upgraded.modelMap.isEmpty && upgraded.defaultModel == nil)
        }
    }

    @Test(arguments: StoreBackend.all)
    func storesTheModelMapAndDefaultModel(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            var draft = TestFixtures.draft()
            draft.outputFormat = "openai"
            draft.modelMap = ["gpt-4o": "claude-sonnet-4-5", "gpt-4o-mini": "claude-haiku-4-5"]
            draft.defaultModel = "claude-sonnet-4-5"
            let created = try await store.createConfig(draft)
            #expect(created.modelMap == draft.modelMap)
            #expect(created.defaultModel == "claude-sonnet-4-5")
            #expect(try await store.config(id: created.id)?.modelMap == draft.modelMap)

            draft.modelMap = [:]
            draft.defaultModel = nil
            let cleared = try #require(try await store.updateConfig(id: created.id, with: draft))
            #expect(cleared.modelMap.isEmpty)
            #expect(cleared.defaultModel == nil)
            #expect(try await store.listConfigs().first?.modelMap.isEmpty == true)
        }
    }

    @Test(arguments: StoreBackend.all)
    func updatesConfigs(_ backend: StoreBackend) async throws {
        let clock = TestClock()
        try await backend.withStore(now: { clock.now }) { store, _ in
            let created = try await store.createConfig(TestFixtures.draft())
            clock.advance(seconds: 60)
            var draft = TestFixtures.genericDraft
            draft.slug = "renamed"
            let updated = try #require(try await store.updateConfig(id: created.id, with: draft))
            #expect(updated.id == created.id)
            #expect(updated.slug == "renamed")
            #expect(updated.configType == .generic)
            #expect(updated.method == "GET")
            #expect(updated.targetBaseURL == nil)
            #expect(updated.version == 2)
            #expect(updated.createdAt == created.createdAt)
            #expect(updated.updatedAt == clock.now)

            // Same values again still counts as a write.
            let again = try #require(try await store.updateConfig(id: created.id, with: draft))
            #expect(again.version == 3)

            #expect(try await store.updateConfig(id: created.id + 1, with: draft) == nil)

            let disabled = try #require(try await store.setConfigActive(id: created.id, isActive: false))
            #expect(!disabled.isActive)
            #expect(disabled.version == 4)
            let enabled = try #require(try await store.setConfigActive(id: created.id, isActive: true))
            #expect(enabled.isActive)
            #expect(try await store.setConfigActive(id: created.id + 1, isActive: true) == nil)
        }
    }

    @Test(arguments: StoreBackend.all)
    func deletingAConfigDeletesItsKeys(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let doomed = try await store.createConfig(TestFixtures.draft(slug: "doomed"))
            let kept = try await store.createConfig(TestFixtures.draft(slug: "kept"))
            let doomedKey = try await store.addKey(configID: doomed.id, secret: TestFixtures.secret(), isActive: true)
            _ = try await store.addKeys(configID: doomed.id, secrets: (0..<5).map { _ in TestFixtures.secret() })
            let keptKey = try await store.addKey(configID: kept.id, secret: TestFixtures.secret(), isActive: true)

            #expect(try await store.deleteConfig(id: doomed.id))
            #expect(try await store.config(id: doomed.id) == nil)
            #expect(try await store.keys(configID: doomed.id).isEmpty)
            #expect(try await store.key(id: doomedKey.id) == nil)
            #expect(try await store.servingSnapshot(configID: doomed.id) == nil)
            #expect(try await store.key(id: keptKey.id) == keptKey)
            #expect(try await store.deleteConfig(id: doomed.id) == false)

            // A new config does not inherit the deleted one's id (caches are keyed by id).
            let next = try await store.createConfig(TestFixtures.draft(slug: "doomed"))
            #expect(next.id != doomed.id)
        }
    }

    // MARK: Keys

    @Test(arguments: StoreBackend.all)
    func addsAndReadsKeys(_ backend: StoreBackend) async throws {
        let clock = TestClock()
        try await backend.withStore(now: { clock.now }) { store, _ in
            let config = try await store.createConfig(TestFixtures.draft())
            let secret = "sk-proj-abcdefghijklmnop9f2a"
            let record = try await store.addKey(configID: config.id, secret: "  \(secret)\n", isActive: true)
            #expect(record.proxyConfigID == config.id)
            #expect(record.maskedValue == "sk-…9f2a")
            #expect(record.isActive)
            #expect(!record.isInvalid)
            #expect(record.requestCount == 0)
            #expect(record.errorCount == 0)
            #expect(record.lastUsedAt == nil)
            #expect(record.lastError == nil)
            #expect(record.createdAt == clock.now)

            let disabled = try await store.addKey(configID: config.id, secret: TestFixtures.secret(), isActive: false)
            #expect(!disabled.isActive)

            #expect(try await store.key(id: record.id) == record)
            #expect(try await store.key(id: disabled.id + 1000) == nil)
            #expect(try await store.keys(configID: config.id) == [record, disabled])

            let snapshot = try #require(try await store.servingSnapshot(configID: config.id))
            #expect(snapshot.config.id == config.id)
            #expect(snapshot.keys == [UsableKey(id: record.id, secret: secret)])
        }
    }

    @Test(arguments: StoreBackend.all)
    func refusesDuplicateBlankAndOrphanKeys(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let config = try await store.createConfig(TestFixtures.draft())
            let other = try await store.createConfig(TestFixtures.draft(slug: "other"))
            let secret = TestFixtures.secret()
            _ = try await store.addKey(configID: config.id, secret: secret, isActive: true)

            await #expect(throws: StoreError.conflict("this key is already in the pool")) {
                try await store.addKey(configID: config.id, secret: " \(secret) ", isActive: false)
            }
            // The same key may serve another config.
            _ = try await store.addKey(configID: other.id, secret: secret, isActive: true)

            await #expect(throws: StoreError.conflict("the key is blank")) {
                try await store.addKey(configID: config.id, secret: "  \n ", isActive: true)
            }
            await #expect(throws: StoreError.notFound("no config with id \(other.id + 1)")) {
                try await store.addKey(configID: other.id + 1, secret: TestFixtures.secret(), isActive: true)
            }
            await #expect(throws: StoreError.notFound("no config with id \(other.id + 1)")) {
                try await store.addKeys(configID: other.id + 1, secrets: [TestFixtures.secret()])
            }
            #expect(try await store.keys(configID: config.id).count == 1)
        }
    }

    @Test(arguments: StoreBackend.all)
    func batchImportCountsNewDuplicateAndBlankKeys(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let config = try await store.createConfig(TestFixtures.draft())
            let stored = TestFixtures.secret("stored")
            _ = try await store.addKey(configID: config.id, secret: stored, isActive: true)
            let first = TestFixtures.secret("first")
            let second = TestFixtures.secret("second")
            let pasted = "sk-twokeys-0123456789 sk-onaline-9876543210"

            let result = try await store.addKeys(configID: config.id, secrets: [
                first,  // new
                "",  // blank (position 2)
                " \(first)\t",  // duplicate within the batch, after trimming
                stored,  // already in the pool
                second,  // new
                "   ",  // blank (position 6)
                pasted,  // two keys on one line: refused
            ])
            #expect(result.successCount == 2)
            #expect(result.skippedCount == 2)
            #expect(result.failedCount == 3)
            #expect(result.failedKeys.count == 3)
            #expect(result.failedKeys[0] == "blank key at position 2")
            #expect(result.failedKeys[1] == "blank key at position 6")
            #expect(result.failedKeys[2].hasPrefix("key at position 7 (sk-…3210)"))
            for entry in result.failedKeys {
                #expect(!entry.contains("twokeys"))
                #expect(!entry.contains("0123456789"))
            }

            let secrets = try #require(try await store.servingSnapshot(configID: config.id)).keys.map(\.secret)
            #expect(secrets == [stored, first, second])

            // Importing the same batch again adds nothing and changes no version.
            let versionBefore = try await store.globalVersion()
            let again = try await store.addKeys(configID: config.id, secrets: [first, second])
            #expect(again == BatchImportResult(successCount: 0, failedCount: 0, skippedCount: 2, failedKeys: []))
            #expect(try await store.globalVersion() == versionBefore)
        }
    }

    @Test(arguments: StoreBackend.all)
    func importsTenThousandKeysInOneBatch(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let config = try await store.createConfig(TestFixtures.draft())
            let secrets = (0..<10_000).map { index in "sk-bulk-\(index)-\(UUID().uuidString)" }
            let versionBefore = try await store.globalVersion()

            let clock = ContinuousClock()
            let start = clock.now
            let result = try await store.addKeys(configID: config.id, secrets: secrets)
            let elapsed = clock.now - start
            print("[\(backend.name)] addKeys imported 10 000 keys in \(elapsed)")

            #expect(result == BatchImportResult(successCount: 10_000, failedCount: 0, skippedCount: 0, failedKeys: []))
            // One transaction: one version bump however many keys.
            #expect(try await store.globalVersion() == versionBefore + 1)
            #expect(try await store.config(id: config.id)?.version == config.version + 1)

            let records = try await store.keys(configID: config.id)
            #expect(records.count == 10_000)
            let snapshotStart = clock.now
            let snapshot = try #require(try await store.servingSnapshot(configID: config.id))
            print("[\(backend.name)] servingSnapshot decrypted 10 000 keys in \(clock.now - snapshotStart)")
            #expect(snapshot.keys.map(\.secret) == secrets)
        }
    }

    @Test(arguments: StoreBackend.all)
    func everyWriteBumpsVersions(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let config = try await store.createConfig(TestFixtures.draft())
            let other = try await store.createConfig(TestFixtures.draft(slug: "other"))
            var expectedGlobal: Int64 = 2
            var expectedConfig: Int64 = 1

            func expectBumped(_ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                expectedGlobal += 1
                expectedConfig += 1
                #expect(try await store.globalVersion() == expectedGlobal, comment, sourceLocation: sourceLocation)
                #expect(try await store.config(id: config.id)?.version == expectedConfig, comment, sourceLocation: sourceLocation)
                #expect(try await store.config(id: other.id)?.version == 1, "other config untouched", sourceLocation: sourceLocation)
            }

            #expect(try await store.globalVersion() == expectedGlobal)
            _ = try await store.updateConfig(id: config.id, with: TestFixtures.draft(name: "Renamed"))
            try await expectBumped("updateConfig")
            _ = try await store.setConfigActive(id: config.id, isActive: false)
            try await expectBumped("setConfigActive")
            let key = try await store.addKey(configID: config.id, secret: TestFixtures.secret(), isActive: true)
            try await expectBumped("addKey")
            _ = try await store.addKeys(configID: config.id, secrets: [TestFixtures.secret(), TestFixtures.secret()])
            try await expectBumped("addKeys")
            _ = try await store.setKeyActive(id: key.id, isActive: false)
            try await expectBumped("setKeyActive")
            _ = try await store.markKeyInvalid(id: key.id, reason: "upstream answered 401")
            try await expectBumped("markKeyInvalid")
            _ = try await store.deleteKey(id: key.id)
            try await expectBumped("deleteKey")
            #expect(try await store.deleteKeys(configID: config.id) == 2)
            try await expectBumped("deleteKeys")

            // Usage statistics and no-op writes are not configuration changes.
            try await store.recordUsage([KeyUsageDelta(keyID: key.id, requests: 1)])
            _ = try await store.addKeys(configID: config.id, secrets: ["", " "])
            #expect(try await store.deleteKeys(configID: config.id) == 0)
            _ = try await store.setKeyActive(id: key.id, isActive: true)  // deleted: nil
            #expect(try await store.globalVersion() == expectedGlobal)

            #expect(try await store.deleteConfig(id: config.id))
            #expect(try await store.globalVersion() == expectedGlobal + 1)
        }
    }

    @Test(arguments: StoreBackend.all)
    func invalidKeysLeaveTheServingSetUntilReEnabled(_ backend: StoreBackend) async throws {
        let clock = TestClock()
        try await backend.withStore(now: { clock.now }) { store, _ in
            let config = try await store.createConfig(TestFixtures.draft())
            let good = TestFixtures.secret("good")
            let bad = TestFixtures.secret("bad")
            let goodKey = try await store.addKey(configID: config.id, secret: good, isActive: true)
            let badKey = try await store.addKey(configID: config.id, secret: bad, isActive: true)

            clock.advance(seconds: 5)
            let invalid = try #require(try await store.markKeyInvalid(id: badKey.id, reason: "upstream answered 401 three times"))
            #expect(invalid.isInvalid)
            #expect(invalid.isActive)
            #expect(!invalid.isUsable)
            #expect(invalid.lastError == "upstream answered 401 three times")
            #expect(invalid.updatedAt == clock.now)
            #expect(try await store.servingSnapshot(configID: config.id)?.keys == [UsableKey(id: goodKey.id, secret: good)])

            // Disabling keeps the mark; enabling clears it but keeps the last error for the record.
            let disabled = try #require(try await store.setKeyActive(id: badKey.id, isActive: false))
            #expect(!disabled.isActive)
            #expect(disabled.isInvalid)
            let enabled = try #require(try await store.setKeyActive(id: badKey.id, isActive: true))
            #expect(enabled.isActive)
            #expect(!enabled.isInvalid)
            #expect(enabled.lastError == "upstream answered 401 three times")
            #expect(try await store.servingSnapshot(configID: config.id)?.keys.map(\.id) == [goodKey.id, badKey.id])

            _ = try await store.setKeyActive(id: goodKey.id, isActive: false)
            #expect(try await store.servingSnapshot(configID: config.id)?.keys.map(\.id) == [badKey.id])

            #expect(try await store.markKeyInvalid(id: badKey.id + 100, reason: "x") == nil)
            #expect(try await store.setKeyActive(id: badKey.id + 100, isActive: true) == nil)
        }
    }

    @Test(arguments: StoreBackend.all)
    func deletesKeys(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let config = try await store.createConfig(TestFixtures.draft())
            let key = try await store.addKey(configID: config.id, secret: TestFixtures.secret(), isActive: true)
            _ = try await store.addKeys(configID: config.id, secrets: (0..<3).map { _ in TestFixtures.secret() })

            #expect(try await store.deleteKey(id: key.id) == key)
            #expect(try await store.deleteKey(id: key.id) == nil)
            #expect(try await store.keys(configID: config.id).count == 3)
            #expect(try await store.deleteKeys(configID: config.id) == 3)
            #expect(try await store.keys(configID: config.id).isEmpty)
            #expect(try await store.servingSnapshot(configID: config.id)?.keys == [])
        }
    }

    @Test(arguments: StoreBackend.all)
    func recordsUsage(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let config = try await store.createConfig(TestFixtures.draft())
            let first = try await store.addKey(configID: config.id, secret: TestFixtures.secret(), isActive: true)
            let second = try await store.addKey(configID: config.id, secret: TestFixtures.secret(), isActive: true)
            let early = Date(timeIntervalSince1970: 1_700_000_000)
            let late = early.addingTimeInterval(90)

            try await store.recordUsage([
                KeyUsageDelta(keyID: first.id, requests: 3, errors: 1, inputTokens: 120, outputTokens: 30, lastUsedAt: late,
                              lastError: "upstream answered 500"),
                KeyUsageDelta(keyID: first.id, requests: 2, inputTokens: 5, lastUsedAt: early),  // merged with the one above
                KeyUsageDelta(keyID: second.id, requests: 1, outputTokens: 9),
                KeyUsageDelta(keyID: second.id + 1000, requests: 7),  // unknown: ignored
            ])
            var firstRecord = try #require(try await store.key(id: first.id))
            #expect(firstRecord.requestCount == 5)
            #expect(firstRecord.errorCount == 1)
            #expect(firstRecord.inputTokens == 125)
            #expect(firstRecord.outputTokens == 30)
            #expect(firstRecord.lastUsedAt == late)
            #expect(firstRecord.lastError == "upstream answered 500")
            let secondRecord = try #require(try await store.key(id: second.id))
            #expect(secondRecord.requestCount == 1)
            #expect(secondRecord.inputTokens == 0)
            #expect(secondRecord.outputTokens == 9)
            #expect(secondRecord.lastUsedAt == nil)
            #expect(secondRecord.lastError == nil)

            // An older timestamp never moves last_used_at back; no error keeps the previous one.
            try await store.recordUsage([KeyUsageDelta(keyID: first.id, requests: 1, errors: 0, outputTokens: 1, lastUsedAt: early)])
            firstRecord = try #require(try await store.key(id: first.id))
            #expect(firstRecord.requestCount == 6)
            #expect(firstRecord.inputTokens == 125)
            #expect(firstRecord.outputTokens == 31)
            #expect(firstRecord.lastUsedAt == late)
            #expect(firstRecord.lastError == "upstream answered 500")

            try await store.recordUsage([])
        }
    }

    @Test(arguments: StoreBackend.all)
    func aStoreRefusesAnotherEncryptionKey(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, database in
            let config = try await store.createConfig(TestFixtures.draft())
            _ = try await store.addKey(configID: config.id, secret: TestFixtures.secret(), isActive: true)

            let wrongStore = SQLConfigStore(database: database, cipher: try KeyCipher(base64: KeyCipher.generateKeyBase64()))
            let error = await #expect(throws: StoreError.self) { try await wrongStore.migrate() }
            #expect("\(String(describing: error))".contains("ENCRYPTION_KEY does not match"))
            // The right key still passes, again and again.
            try await store.migrate()
            try await SQLConfigStore(database: database, cipher: try KeyCipher(base64: TestFixtures.cipherKey)).migrate()
        }
    }

    /// A store from before key checks existed has keys but no check value: the key must open one of them.
    @Test(arguments: StoreBackend.all)
    func aStoreWithoutCheckValueIsCheckedAgainstItsKeys(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, database in
            let config = try await store.createConfig(TestFixtures.draft())
            _ = try await store.addKey(configID: config.id, secret: TestFixtures.secret(), isActive: true)
            try await Self.execute(database, "DELETE FROM store_key_check")

            let wrongStore = SQLConfigStore(database: database, cipher: try KeyCipher(base64: KeyCipher.generateKeyBase64()))
            await #expect(throws: StoreError.corrupt(SQLConfigStore.encryptionKeyMismatchMessage)) { try await wrongStore.migrate() }
            try await store.migrate()
            // Recorded now: the wrong key is refused without looking at keys.
            try await Self.execute(database, "DELETE FROM api_keys")
            await #expect(throws: StoreError.corrupt(SQLConfigStore.encryptionKeyMismatchMessage)) { try await wrongStore.migrate() }
        }
    }

    @Test(arguments: StoreBackend.all)
    func aCiphertextMovedToAnotherRowDoesNotOpen(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, database in
            let config = try await store.createConfig(TestFixtures.draft())
            let other = try await store.createConfig(TestFixtures.draft(slug: "other"))
            let first = try await store.addKey(configID: config.id, secret: TestFixtures.secret("first"), isActive: true)
            let second = try await store.addKey(configID: config.id, secret: TestFixtures.secret("second"), isActive: true)
            let elsewhere = try await store.addKey(configID: other.id, secret: TestFixtures.secret("elsewhere"), isActive: true)
            let kept = try #require(try await store.servingSnapshot(configID: config.id)).keys
            #expect(kept.map(\.id) == [first.id, second.id])

            // Within one config: the second key's row gets the first key's ciphertext.
            try await Self.execute(database, """
                UPDATE api_keys SET key_ciphertext = (SELECT c FROM (SELECT key_ciphertext AS c FROM api_keys WHERE id = ?) AS source) WHERE id = ?
                """, [.int(first.id), .int(second.id)])
            // Across configs: the other config's key gets the first key's ciphertext.
            try await Self.execute(database, """
                UPDATE api_keys SET key_ciphertext = (SELECT c FROM (SELECT key_ciphertext AS c FROM api_keys WHERE id = ?) AS source) WHERE id = ?
                """, [.int(first.id), .int(elsewhere.id)])

            let snapshot = try #require(try await store.servingSnapshot(configID: config.id))
            #expect(snapshot.keys == [kept[0]])
            #expect(snapshot.undecryptableKeyIDs == [second.id])
            let otherSnapshot = try #require(try await store.servingSnapshot(configID: other.id))
            #expect(otherSnapshot.keys.isEmpty)
            #expect(otherSnapshot.undecryptableKeyIDs == [elsewhere.id])
        }
    }

    /// Rows written before row binding (`v1:`) are re-encrypted bound to their row by `migrate`; one that does
    /// not open stays, is reported, and keeps nothing else from loading.
    @Test(arguments: StoreBackend.all)
    func migrationRebindsLegacyCiphertexts(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, database in
            let config = try await store.createConfig(TestFixtures.draft())
            let secrets = (0..<3).map { TestFixtures.secret("legacy\($0)") }
            var ids: [Int64] = []
            for secret in secrets {
                let record = try await store.addKey(configID: config.id, secret: secret, isActive: true)
                ids.append(record.id)
                try await Self.execute(database, "UPDATE api_keys SET key_ciphertext = ? WHERE id = ?", [
                    .text(try TestFixtures.legacyCiphertext(secret, cipherKey: TestFixtures.cipherKey)), .int(record.id),
                ])
            }
            // One legacy row under a master key the store never had.
            try await Self.execute(database, "UPDATE api_keys SET key_ciphertext = ? WHERE id = ?", [
                .text(try TestFixtures.legacyCiphertext(secrets[2], cipherKey: KeyCipher.generateKeyBase64())), .int(ids[2]),
            ])
            let before = try #require(try await store.servingSnapshot(configID: config.id))
            #expect(before.keys.isEmpty, "v1 rows are not served before the migration rebinds them")

            try await store.migrate()
            let after = try #require(try await store.servingSnapshot(configID: config.id))
            #expect(after.keys == [UsableKey(id: ids[0], secret: secrets[0]), UsableKey(id: ids[1], secret: secrets[1])])
            #expect(after.undecryptableKeyIDs == [ids[2]])
            let stored = try await Self.ciphertexts(database)
            #expect(stored[ids[0]]?.hasPrefix("v2:") == true)
            #expect(stored[ids[1]]?.hasPrefix("v2:") == true)
            #expect(stored[ids[2]]?.hasPrefix("v1:") == true)
            #expect(try await store.globalVersion() == 4, "rebinding is not a configuration change")
        }
    }

    static func execute(_ database: any SQLDatabase, _ sql: String, _ bindings: [SQLValue] = []) async throws {
        try await database.withConnection { connection in
            _ = try connection.execute(sql, bindings)
        }
    }

    static func ciphertexts(_ database: any SQLDatabase) async throws -> [Int64: String] {
        try await database.withConnection { connection in
            var result: [Int64: String] = [:]
            for row in try connection.query("SELECT id, key_ciphertext FROM api_keys") {
                result[try row.int64("id")] = try row.string("key_ciphertext")
            }
            return result
        }
    }

    @Test(arguments: StoreBackend.all)
    func closedDatabaseIsUnavailable(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, database in
            try await database.close()
            for error in [
                await #expect(throws: StoreError.self) { try await store.ping() },
                await #expect(throws: StoreError.self) { try await store.createConfig(TestFixtures.draft()) },
            ] {
                guard case .unavailable(let message) = error else {
                    Issue.record("expected StoreError.unavailable, got \(String(describing: error))")
                    continue
                }
                #expect(message.hasPrefix("database error: "))
            }
        }
    }

    // MARK: Audit log

    @Test(arguments: StoreBackend.all)
    func auditLogPagesNewestFirst(_ backend: StoreBackend) async throws {
        let clock = TestClock()
        try await backend.withStore(now: { clock.now }) { store, _ in
            #expect(try await store.auditEntries(before: nil, limit: 10).isEmpty)
            var ids: [Int64] = []
            for index in 0..<5 {
                let entry = try await store.recordAudit(AuditEntryDraft(
                    actor: "admin", action: "config.update", target: "config:\(index)", clientAddress: "127.0.0.1",
                    before: #"{"name":"old ☃"}"#, after: index == 0 ? nil : #"{"name":"new"}"#
                ))
                ids.append(entry.id)
            }
            #expect(ids == ids.sorted() && Set(ids).count == 5)
            let first = try await store.auditEntries(before: nil, limit: 2)
            #expect(first.map(\.id) == [ids[4], ids[3]])
            #expect(first[0].target == "config:4")
            #expect(first[0].before == #"{"name":"old ☃"}"#)
            #expect(first[0].after == #"{"name":"new"}"#)
            #expect(first[0].at == clock.now)
            #expect(first[0].clientAddress == "127.0.0.1")
            let second = try await store.auditEntries(before: first.last?.id, limit: 2)
            #expect(second.map(\.id) == [ids[2], ids[1]])
            let last = try await store.auditEntries(before: second.last?.id, limit: 2)
            #expect(last.map(\.id) == [ids[0]])
            #expect(last[0].after == nil)
            // An audit entry is history, not configuration: caches must not reload for it.
            #expect(try await store.globalVersion() == 0)
        }
    }

    @Test(arguments: StoreBackend.all)
    func keySecretDecryptsOneKey(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let config = try await store.createConfig(TestFixtures.draft())
            let secret = TestFixtures.secret()
            let key = try await store.addKey(configID: config.id, secret: secret, isActive: false)
            #expect(try await store.keySecret(id: key.id) == secret, "disabled keys can be checked too")
            #expect(try await store.keySecret(id: key.id + 100) == nil)
        }
    }
}
