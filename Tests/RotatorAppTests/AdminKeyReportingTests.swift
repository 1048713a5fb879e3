import Foundation
import RotatorSQL
import SQLiteDriver
import Testing

/// What an admin sees of keys the node cannot use, and of methods a path does not have.
@Suite struct AdminKeyReportingTests {
    /// A row whose ciphertext was copied from another row: skipped, shown `undecryptable`, counted in
    /// `/metrics`, logged without any value; the config's other keys keep serving.
    @Test func anUndecryptableKeyIsReportedAndTheRestServe() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "tamper")
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-tamper"))
            let ids = try await node.keys(configID: id).compactMap { $0["id"] as? Int }
            #expect(ids.count == 2)

            let database = try await SQLiteDatabase.open(path: node.databasePath)
            try await database.withConnection { connection in
                _ = try connection.execute(
                    "UPDATE api_keys SET key_ciphertext = (SELECT key_ciphertext FROM api_keys WHERE id = ?) WHERE id = ?",
                    [.int(Int64(ids[0])), .int(Int64(ids[1]))]
                )
            }
            try await database.close()
            try await node.node.catalog.refresh(configID: Int64(id))

            let views = try await node.keys(configID: id)
            #expect(views.first { $0["id"] as? Int == ids[1] }?["status"] as? String == "undecryptable")
            #expect(views.first { $0["id"] as? Int == ids[0] }?["status"] as? String == "active")
            let metrics = try await node.send(.GET, "/metrics").text
            #expect(metrics.contains("rotator_keys_undecryptable 1"), "\(metrics.split(separator: "\n").filter { $0.contains("undecryptable") })")
            #expect(node.logs.all.contains { $0.contains("keys cannot be decrypted") && $0.contains("key_ids=\(ids[1])") })
            for _ in 0..<4 { #expect(try await node.proxy("tamper").status == 200) }
        }
    }

    @Test func anUndeclaredMethodIs405WithAllow() async throws {
        try await withRunningNode { node in
            let token = try await node.token()
            let reply = try await node.send(.PATCH, "/admin/proxy-configs", headers: [("Authorization", "Bearer \(token)")], body: "{}")
            #expect(reply.status == 405)
            #expect(reply.headers.first(name: "allow") == "GET, POST")
            let login = try await node.send(.GET, "/admin/login")
            #expect(login.status == 405 && login.headers.first(name: "allow") == "POST")
        }
    }
}
