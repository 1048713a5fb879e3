import Foundation
import RotatorStore
import SQLiteDriver
import Testing

/// Keys never reach the disk in plaintext: not in the database file, not in the WAL.
@Suite("Secrets at rest")
struct SecretsAtRestTests {
    @Test func noPlaintextSecretInTheDatabaseFiles() async throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "rotator.db"
        let database = try await SQLiteDatabase.open(path: path)
        let store = SQLConfigStore(database: database, cipher: TestFixtures.cipher)
        try await store.migrate()
        let config = try await store.createConfig(TestFixtures.draft())

        let single = TestFixtures.secret("single")
        let batch = (0..<50).map { TestFixtures.secret("batch\($0)") }
        let invalid = TestFixtures.secret("invalid")
        _ = try await store.addKey(configID: config.id, secret: single, isActive: true)
        _ = try await store.addKeys(configID: config.id, secrets: batch + [single, "", "sk-two keys-here-0000"])
        let invalidKey = try await store.addKey(configID: config.id, secret: invalid, isActive: true)
        _ = try await store.markKeyInvalid(id: invalidKey.id, reason: "upstream answered 401")
        // A round trip proves the secrets are there, encrypted.
        #expect(try await store.servingSnapshot(configID: config.id)?.keys.count == 51)

        let secrets = [single, invalid] + batch
        // While open: the main file and the WAL, which holds the recent writes.
        let whileOpen = try Self.databaseFiles(in: directory)
        #expect(whileOpen.keys.contains { $0.hasSuffix("-wal") }, "WAL mode is on")
        Self.expectNoSecret(secrets, in: whileOpen)

        try await database.close()
        // After close SQLite has checkpointed the WAL into the main file.
        let afterClose = try Self.databaseFiles(in: directory)
        #expect(afterClose.keys.contains("rotator.db"))
        Self.expectNoSecret(secrets, in: afterClose)
    }

    private static func databaseFiles(in directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: directory + name))
        }
        return files
    }

    private static func expectNoSecret(_ secrets: [String], in files: [String: Data]) {
        for (name, bytes) in files {
            for secret in secrets {
                // The random tail alone must not appear either (it is what makes a key a key).
                for needle in [secret, String(secret.suffix(20))] {
                    #expect(bytes.range(of: Data(needle.utf8)) == nil, "\(name) holds a plaintext secret")
                }
            }
        }
    }
}
