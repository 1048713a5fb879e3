import Foundation
import Logging
@testable import RotatorApp
import Testing

/// A lost or unmounted SQLite file beside an earlier start's secrets stops the node instead of serving an empty pool.
@Suite struct FreshStoreCheckTests {
    @Test func refusesOnlyAnEmptyStoreBesideEarlierSecrets() {
        let path = "/data/rotator.db"
        #expect(FreshStoreCheck(storeBytes: nil, secretFilesFound: [], allowFreshStore: false).refusal(databasePath: path) == nil, "a first start")
        #expect(FreshStoreCheck(storeBytes: 0, secretFilesFound: [], allowFreshStore: false).refusal(databasePath: path) == nil)
        #expect(FreshStoreCheck(storeBytes: 8192, secretFilesFound: ["encryption.key"], allowFreshStore: false).refusal(databasePath: path) == nil)
        #expect(FreshStoreCheck(storeBytes: 0, secretFilesFound: ["encryption.key"], allowFreshStore: true).refusal(databasePath: path) == nil)

        let empty = FreshStoreCheck(storeBytes: 0, secretFilesFound: ["encryption.key"], allowFreshStore: false).refusal(databasePath: path)
        #expect(empty?.contains("/data/rotator.db (DATABASE_PATH) is empty (0 bytes)") == true, "\(empty ?? "nil")")
        #expect(empty?.contains("ALLOW_FRESH_STORE=true") == true)
        let missing = FreshStoreCheck(storeBytes: nil, secretFilesFound: ["admin_password", "proxy_key"], allowFreshStore: false)
        #expect(missing.refusal(databasePath: path)?.contains("is missing") == true)
        #expect(missing.refusal(databasePath: path)?.contains("admin_password, proxy_key") == true)
    }

    /// The whole start: a data directory holding the secrets a first start generated, its store then truncated to
    /// 0 bytes (and, separately, removed): the node refuses to start; ALLOW_FRESH_STORE=true lets it.
    @Test func aNodeRefusesToStartOnALostStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-fresh-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let environment = ["DATABASE_PATH": directory + "/rotator.db", "BIND_HOST": "127.0.0.1"]
        let settings = try Settings.fromEnvironment(environment)
        #expect(FreshStoreCheck.reading(settings: settings).refusal(databasePath: settings.databasePath) == nil, "a first start")
        _ = try NodeSecrets.resolve(settings)
        #expect(FileManager.default.fileExists(atPath: directory + "/encryption.key"))

        for truncated in [true, false] {
            try? FileManager.default.removeItem(atPath: directory + "/rotator.db")
            if truncated { FileManager.default.createFile(atPath: directory + "/rotator.db", contents: Data()) }
            do {
                let node = try await RotatorNode.make(settings: settings, logger: Logger(label: "fresh-store-test"))
                try await node.probeClient.shutdown()
                Issue.record("a node started on \(truncated ? "a 0-byte" : "a missing") store beside an earlier start's secrets")
            } catch is SettingsError {}
            #expect(FileManager.default.fileExists(atPath: directory + "/rotator.db") == truncated, "nothing created by a refused start")
        }
        var allowing = environment
        allowing["ALLOW_FRESH_STORE"] = "true"
        let allowed = try Settings.fromEnvironment(allowing)
        #expect(FreshStoreCheck.reading(settings: allowed).refusal(databasePath: allowed.databasePath) == nil)
        #expect(throws: SettingsError.self) { try Settings.fromEnvironment(["ALLOW_FRESH_STORE": "maybe"]) }
    }
}
