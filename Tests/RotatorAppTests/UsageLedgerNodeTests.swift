import Foundation
import RotatorCore
import RotatorStore
import SQLiteDriver
import Testing

/// The usage ledger on a real node: rows batched in memory, written at a graceful stop, nothing lost.
@Suite(.serialized) struct UsageLedgerNodeTests {
    @Test func aGracefulStopWritesEveryRequestsRow() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-ledger-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/rotator.db"
        // An hour between flushes: only the stop's flush can write the rows.
        let node = try await TestNode.start(environment: ["DATABASE_PATH": path, "USAGE_FLUSH_SECONDS": "3600"])
        let configID = try await node.whileRunning { node in
            let id = try await node.createConfig(slug: "ledger")
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-ledger"))
            for index in 0..<12 {
                let stream = index % 3 == 0
                let body = #"{"model":"gpt-4o","stream":\#(stream),"stream_options":{"include_usage":\#(stream)},"messages":[{"role":"user","content":"hi"}]}"#
                #expect(try await node.proxy("ledger", body: body).status == 200)
            }
            let refused = try await node.proxy("ledger", headers: [("Authorization", "Bearer wrong")])
            #expect(refused.status == 401)
            return Int64(id)
        }

        let database = try await SQLiteDatabase.open(path: path)
        let store = SQLConfigStore(database: database, cipher: try KeyCipher(masterKey: [UInt8](repeating: 1, count: 32)))
        let today = UsageRowKey.day(secondsSince1970: Date().timeIntervalSince1970)
        let rows = try await store.usageRows(fromDay: today - 1, toDay: today + 1, clientKeyID: nil, configID: configID)
        try await database.close()
        #expect(rows.map(\.counts.requests).reduce(0, +) == 13, "every request has its row: \(rows)")
        #expect(rows.map { $0.counts.errors(.refused) }.reduce(0, +) == 1)
        #expect(rows.map(\.counts.inputTokens).reduce(0, +) == 12, "one input token per answer, whole and streamed")
        #expect(rows.allSatisfy { $0.key.clientKeyID == nil }, "operator keys")
        #expect(Set(rows.compactMap(\.key.model)) == ["gpt-4o"])
        #expect(Set(rows.compactMap(\.key.keyID)).count == 2, "both keys served")
    }
}
