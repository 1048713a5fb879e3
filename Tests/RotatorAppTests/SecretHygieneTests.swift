import Foundation
import MockUpstream
import Testing

@Suite(.serialized) struct SecretHygieneTests {
    /// Logs of a full proxied request, a failed one, admin calls and a failed login hold no key, proxy key or password.
    @Test func logsHoldNoSecrets() async throws {
        let state = MockUpstreamState()
        let keys = sampleKeys(2, prefix: "sk-logsecret")
        state.setProfile(KeyProfile(revoked: true), forKey: keys[1])
        try await withRunningNode(mockState: state) { node in
            let id = try await node.createConfig(slug: "logs")
            try await node.addKeys(configID: id, keys)
            // Until the revoked key is marked invalid (a few rejections, each after a short quarantine), so that the
            // logs hold the rejected-key path too, not for a number of requests that may not reach it.
            var invalidKeyID: Int?
            for sent in 1...400 where invalidKeyID == nil {
                _ = try await node.proxy("logs")
                if sent >= 4 {
                    invalidKeyID = try await node.keys(configID: id).first { $0["status"] as? String == "invalid" }?["id"] as? Int
                }
            }
            let revokedID = try #require(invalidKeyID, "the revoked key was never marked invalid")
            _ = try await node.proxy("logs", headers: [("Authorization", "Bearer wrong-proxy-key-attempt")])
            _ = try await node.send(.POST, "/admin/login", body: #"{"username":"admin","password":"not-the-password"}"#)
            let generic = try await node.admin(.POST, "/admin/proxy-configs", body: """
                {"name":"q","slug":"q","config_type":"generic","target_url":"\(node.mock.baseURL)","api_key_location":"query","api_key_name":"api_key"}
                """)
            let genericID = try #require(try generic.object()["id"] as? Int)
            try await node.addKeys(configID: genericID, ["query-secret-0123456789abcdef"])
            _ = try await node.send(.GET, "/proxy/q/x?api_key=client-side-secret", headers: [("X-Proxy-Key", TestNode.proxyKey)])
            // Until the last request's access line and the invalid mark's warning are written (both may follow the
            // answer and the store write), not for a fixed time.
            let marked = "key marked invalid config_id=\(id) key_id=\(revokedID) "
            for _ in 0..<500 where !node.logs.all.contains(where: { $0.contains("access") && $0.contains("slug=q") })
                || !node.logs.all.contains(where: { $0.contains(marked) }) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let logs = node.logs.all
            #expect(logs.contains { $0.contains("access") && $0.contains("slug=logs") && $0.contains("key_id=") })
            // The rejected key's path is in the logs that are searched below: its warning names the key by id, with
            // the upstream's reason.
            #expect(logs.contains { $0.contains(marked) }, "no 'key marked invalid' line for key \(revokedID)")
            for secret in keys + [TestNode.proxyKey, TestNode.adminPassword, "query-secret-0123456789abcdef", "client-side-secret", "not-the-password"] {
                let leaks = logs.filter { $0.contains(secret) }
                #expect(leaks.isEmpty, "secret found in logs: \(leaks.first ?? "")")
            }
        }
    }

    /// The SQLite file written by a running node holds no key in plain text.
    @Test func databaseFileHoldsNoPlaintextKeys() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "disk")
            let keys = sampleKeys(20, prefix: "sk-ondisk")
            try await node.addKeys(configID: id, keys)
            var bytes = Data()
            for suffix in ["", "-wal"] {
                if let data = FileManager.default.contents(atPath: node.databasePath + suffix) { bytes.append(data) }
            }
            #expect(bytes.count > 0)
            for key in keys {
                #expect(bytes.range(of: Data(key.utf8)) == nil, "plaintext key on disk")
            }
        }
    }
}
