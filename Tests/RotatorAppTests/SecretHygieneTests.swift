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
            for _ in 0..<4 { _ = try await node.proxy("logs") }
            _ = try await node.proxy("logs", headers: [("Authorization", "Bearer wrong-proxy-key-attempt")])
            _ = try await node.send(.POST, "/admin/login", body: #"{"username":"admin","password":"not-the-password"}"#)
            let generic = try await node.admin(.POST, "/admin/proxy-configs", body: """
                {"name":"q","slug":"q","config_type":"generic","target_url":"\(node.mock.baseURL)","api_key_location":"query","api_key_name":"api_key"}
                """)
            let genericID = try #require(try generic.object()["id"] as? Int)
            try await node.addKeys(configID: genericID, ["query-secret-0123456789abcdef"])
            _ = try await node.send(.GET, "/proxy/q/x?api_key=client-side-secret", headers: [("X-Proxy-Key", TestNode.proxyKey)])
            // Until the last request's access line is written (it may follow the answer), not for a fixed time.
            for _ in 0..<300 where !node.logs.all.contains(where: { $0.contains("access") && $0.contains("slug=q") }) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let logs = node.logs.all
            #expect(logs.contains { $0.contains("access") && $0.contains("slug=logs") && $0.contains("key_id=") })
            #expect(logs.contains { $0.contains("key marked invalid") || $0.contains("status=200") })
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
