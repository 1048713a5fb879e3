import ClientAccess
import Foundation
import LocalTestServers
import NIOHTTP1
import RotatorCore
import RotatorStore
import Testing

/// `/admin/client-keys` on a real node: the secret shown once, masked everywhere else, edits, rotation with and
/// without grace, revocation, bad input refused whole, and a list that stays paged with 10 000 keys.
@Suite(.serialized) struct ClientKeyAdminTests {
    struct Admin {
        let node: TestNode
        let token: String

        func call(_ method: HTTPMethod, _ path: String, _ body: String? = nil) async throws -> TestNode.Reply {
            try await node.send(method, path, headers: [("Authorization", "Bearer \(token)")], body: body)
        }

        /// The node's registry: what the relay identifies secrets by.
        func identify(_ secret: String) -> ClientIdentity {
            node.node.catalog.clientKeys?.identify(secret: secret) ?? .unknown
        }
    }

    func withAdmin(_ body: (Admin) async throws -> Void) async throws {
        try await withRunningNode { node in
            try await body(Admin(node: node, token: try await node.token()))
        }
    }

    @Test func lifecycleShowsTheSecretOnceAndReachesTheRegistry() async throws {
        try await withAdmin { admin in
            _ = try await admin.node.createConfig(slug: "openai")
            let created = try await admin.call(.POST, "/admin/client-keys", """
                {"name":"team-a","note":"the A team","allowed_configs":["openai"],"allowed_models":["gpt-4o*","claude-sonnet-4"],
                 "rpm":60,"max_concurrent":5,"daily_tokens":100000,"tpm":0,"expires_at":"2099-01-01T00:00:00Z"}
                """)
            #expect(created.status == 201, "\(created.text)")
            let body = try created.object()
            let id = try #require(body["id"] as? Int)
            let secret = try #require(body["key"] as? String)
            #expect(secret.hasPrefix("rk-") && secret.count >= 35)
            #expect(body["status"] as? String == "active")
            #expect(body["rpm"] as? Int == 60 && body["max_concurrent"] as? Int == 5 && body["daily_tokens"] as? Int == 100_000)
            #expect(body["tpm"] is NSNull, "0 means none")
            #expect(body["allowed_models"] as? [String] == ["gpt-4o*", "claude-sonnet-4"])
            #expect(body["expires_at"] as? String == "2099-01-01T00:00:00.000Z")
            #expect(body["usage"] == nil, "no quota wired: no usage")
            #expect(Set(body.keys).isSuperset(of: [
                "id", "name", "note", "enabled", "expires_at", "allowed_configs", "allowed_models", "rpm", "tpm", "max_concurrent",
                "daily_requests", "monthly_requests", "daily_tokens", "monthly_tokens", "key", "status", "previous_key_valid_until",
                "created_at", "updated_at",
            ]))
            guard case .key(let key) = admin.identify(secret) else { Issue.record("the new key is not in the registry"); return }
            #expect(key.id == Int64(id))

            // Masked everywhere else: the list, the item, the audit log.
            let list = try await admin.call(.GET, "/admin/client-keys").object()
            #expect(list["total"] as? Int == 1 && list["page"] as? Int == 1 && list["per_page"] as? Int == 50)
            let item = try #require((list["items"] as? [[String: Any]])?.first)
            let masked = try #require(item["key"] as? String)
            #expect(masked == ClientKeySecret.hint(secret) && masked != secret)
            #expect(try await admin.call(.GET, "/admin/client-keys/\(id)").object()["key"] as? String == masked)

            // Update: a field left out keeps its value, null clears it.
            let updated = try await admin.call(.PUT, "/admin/client-keys/\(id)", #"{"enabled":false,"note":null,"rpm":null}"#)
            #expect(updated.status == 200, "\(updated.text)")
            let after = try updated.object()
            #expect(after["status"] as? String == "disabled" && after["note"] is NSNull && after["rpm"] is NSNull)
            #expect(after["max_concurrent"] as? Int == 5 && after["name"] as? String == "team-a")
            #expect(admin.identify(secret) == .refused(.disabled))
            _ = try await admin.call(.PUT, "/admin/client-keys/\(id)", #"{"enabled":true}"#)

            // Rotation with grace: both secrets work until it ends.
            let graced = try await admin.call(.POST, "/admin/client-keys/\(id)/rotate", #"{"grace_seconds":600}"#)
            #expect(graced.status == 200, "\(graced.text)")
            let second = try #require(try graced.object()["key"] as? String)
            #expect(second != secret && second.hasPrefix("rk-"))
            #expect(try graced.object()["previous_key_valid_until"] is String)
            #expect(admin.identify(secret) != .unknown && admin.identify(secret) != .refused(.rotated), "the old secret during its grace")
            if case .key = admin.identify(second) {} else { Issue.record("the new secret is refused") }
            // Without grace (empty body): the old one stops at once.
            let abrupt = try await admin.node.send(.POST, "/admin/client-keys/\(id)/rotate", headers: [("Authorization", "Bearer \(admin.token)")])
            #expect(abrupt.status == 200, "\(abrupt.text)")
            let third = try #require(try abrupt.object()["key"] as? String)
            #expect(try abrupt.object()["previous_key_valid_until"] is NSNull)
            #expect(admin.identify(second) == .refused(.rotated))
            if case .key = admin.identify(third) {} else { Issue.record("the newest secret is refused") }

            // Revoked: gone from the API, refused as revoked.
            let deleted = try await admin.call(.DELETE, "/admin/client-keys/\(id)")
            #expect(deleted.status == 204)
            #expect(try await admin.call(.GET, "/admin/client-keys/\(id)").status == 404)
            #expect(try await admin.call(.PUT, "/admin/client-keys/\(id)", #"{"rpm":1}"#).status == 404)
            #expect(try await admin.call(.POST, "/admin/client-keys/\(id)/rotate", "{}").status == 404)
            #expect(try await admin.call(.DELETE, "/admin/client-keys/\(id)").status == 404)
            #expect(try await admin.call(.GET, "/admin/client-keys").object()["total"] as? Int == 0)
            #expect(admin.identify(third) == .refused(.revoked))

            // The audit log has each action, never a secret.
            let audit = try await admin.call(.GET, "/admin/audit-log?limit=20")
            let actions = try #require(try audit.object()["entries"] as? [[String: Any]]).compactMap { $0["action"] as? String }
            #expect(Set(actions).isSuperset(of: ["client_key.create", "client_key.update", "client_key.rotate", "client_key.revoke"]))
            for secretValue in [secret, second, third] { #expect(!audit.text.contains(secretValue)) }
        }
    }

    @Test func badInputIsRefusedWholeAndSaysWhatToFix() async throws {
        try await withAdmin { admin in
            _ = try await admin.node.createConfig(slug: "openai")
            let cases: [(body: String, status: Int, mentions: String)] = [
                (#"{"name":"a","rpn":5}"#, 400, "rpn"),
                (#"{"name":"a","rpm":-1}"#, 422, "rpm"),
                (#"{"name":"a","allowed_models":["gpt-*-mini"]}"#, 422, "'*' may only end"),
                (#"{"name":"a","allowed_models":[]}"#, 422, "allowed_models"),
                (#"{"name":""}"#, 422, "name"),
                (#"{"name":"   "}"#, 422, "name"),
                (#"{"note":"no name"}"#, 422, "name"),
                ("{\"name\":\"\(String(repeating: "n", count: 101))\"}", 422, "100"),
                (#"{"name":"a","allowed_configs":["nope"]}"#, 409, "nope"),
                (#"{"name":"a","allowed_configs":["No Slug"]}"#, 422, "allowed_configs"),
                (#"{"name":"a","expires_at":"tomorrow"}"#, 422, "expires_at"),
                (#"{"name":"a","rpm":"ten"}"#, 422, "rpm"),
                (#"{"name":"a","rpm":1.5}"#, 422, "rpm"),
                (#"{"name":"a","enabled":null}"#, 422, "enabled"),
                (#"{"name":null}"#, 422, "name"),
                ("not json", 400, "JSON"),
            ]
            for item in cases {
                let reply = try await admin.call(.POST, "/admin/client-keys", item.body)
                #expect(reply.status == item.status, "\(item.body): \(reply.status) \(reply.text)")
                let message = try reply.object()["error"] as? String ?? ""
                #expect(message.contains(item.mentions), "\(item.body): \(message)")
            }
            #expect(try await admin.call(.GET, "/admin/client-keys").object()["total"] as? Int == 0, "nothing half-written")

            let id = try #require(try await admin.call(.POST, "/admin/client-keys", #"{"name":"a"}"#).object()["id"] as? Int)
            #expect(try await admin.call(.POST, "/admin/client-keys", #"{"name":"a"}"#).status == 409)
            #expect(try await admin.call(.PUT, "/admin/client-keys/\(id)", #"{"rpm":-5}"#).status == 422)
            #expect(try await admin.call(.GET, "/admin/client-keys/\(id)").object()["rpm"] is NSNull, "the refused PUT changed nothing")
            for grace in ["-1", "604801", "\"soon\""] {
                let reply = try await admin.call(.POST, "/admin/client-keys/\(id)/rotate", #"{"grace_seconds":\#(grace)}"#)
                #expect(reply.status == 422, "\(grace): \(reply.text)")
            }
            #expect(try await admin.call(.POST, "/admin/client-keys/\(id)/rotate", #"{"grace":5}"#).status == 400)
            for query in ["per_page=0", "per_page=501", "page=0", "page=x"] {
                #expect(try await admin.call(.GET, "/admin/client-keys?\(query)").status == 422, "\(query)")
            }
            #expect(try await admin.call(.GET, "/admin/client-keys/0").status == 404)
        }
    }

    /// Beside each limit's live count, the list shows the key's totals of today and of this month (UTC) from the usage
    /// ledger: rows of earlier days of the month count for the month only, rows of last month for neither.
    @Test func theListShowsTodaysAndThisMonthsUsageFromTheLedger() async throws {
        try await withAdmin { admin in
            let configID = try await admin.node.createConfig(slug: "openai")
            let created = try await admin.call(.POST, "/admin/client-keys", #"{"name":"ledgered","rpm":60}"#).object()
            let id = Int64(try #require(created["id"] as? Int))
            let ledger = try #require(admin.node.node.store as? any UsageLedgerStore)
            let today = UsageRowKey.day(secondsSince1970: Date().timeIntervalSince1970)
            let monthStart = UsageRowKey.firstDayOfMonth(today)
            func row(_ day: Int32, client: Int64?, requests: Int64, input: Int64) -> (UsageRowKey, UsageCounts) {
                (UsageRowKey(day: day, clientKeyID: client, configID: Int64(configID), keyID: 1, model: "gpt-4o"),
                 UsageCounts(requests: requests, errors: [.rateLimited: 1], attempts: requests, inputTokens: input, outputTokens: 1, cachedTokens: 0))
            }
            let rows = [row(today, client: id, requests: 3, input: 30), row(monthStart, client: id, requests: 5, input: 50),
                        row(monthStart - 1, client: id, requests: 7, input: 70), row(today, client: nil, requests: 11, input: 110)]
            for (key, counts) in rows { try await ledger.addUsage([key: counts]) }
            let item = try #require((try await admin.call(.GET, "/admin/client-keys").object()["items"] as? [[String: Any]])?.first)
            let usage = try #require(item["usage"] as? [String: Any])
            let todayTotals = try #require(usage["today"] as? [String: Any])
            let monthTotals = try #require(usage["month"] as? [String: Any])
            let sameDay = monthStart == today
            #expect(todayTotals["requests"] as? Int == (sameDay ? 8 : 3))
            #expect(todayTotals["input_tokens"] as? Int == (sameDay ? 80 : 30))
            #expect(monthTotals["requests"] as? Int == 8, "last month's row and operator keys' rows are not this key's month")
            #expect(monthTotals["errors"] as? Int == 2 && monthTotals["output_tokens"] as? Int == 2)
            let limits = try #require(usage["limits"] as? [[String: Any]])
            #expect(limits.map { $0["limit"] as? String } == ["rpm"])
        }
    }

    /// 10 000 keys through the store, a few hundred through the API: the list stays paged, each page answers fast.
    @Test func tenThousandKeysStayPaged() async throws {
        try await withAdmin { admin in
            let clock = ContinuousClock()
            let store = admin.node.node.store
            let hasher = try #require(admin.node.node.catalog.clientKeys?.hasher)
            var started = clock.now
            for index in 0..<10_000 {
                _ = try await store.createClientKey(ClientKeyDraft(name: "bulk-\(index)", limits: ClientKeyLimits(rpm: 100)), hasher: hasher)
            }
            let throughStore = clock.now - started
            try await admin.node.node.catalog.reloadIfStale()
            started = clock.now
            for index in 0..<300 {
                let reply = try await admin.call(.POST, "/admin/client-keys", #"{"name":"api-\#(index)","rpm":10}"#)
                #expect(reply.status == 201)
            }
            let throughAPI = clock.now - started
            var pageTimes: [Duration] = []
            for page in [1, 50, 103, 207] {
                let before = clock.now
                let reply = try await admin.call(.GET, "/admin/client-keys?page=\(page)&per_page=50")
                pageTimes.append(clock.now - before)
                let body = try reply.object()
                #expect(body["total"] as? Int == 10_300)
                #expect((body["items"] as? [[String: Any]])?.count == (page == 207 ? 0 : 50))
            }
            let before = clock.now
            let big = try await admin.call(.GET, "/admin/client-keys?page=1&per_page=500")
            let bigTime = clock.now - before
            #expect((try big.object()["items"] as? [[String: Any]])?.count == 500)
            let searched = try await admin.call(.GET, "/admin/client-keys?search=api-29").object()
            #expect(searched["total"] as? Int == 11)
            #expect(admin.node.node.catalog.clientKeys?.directory.isEmpty == false)
            print("client keys on a node: 10000 through the store in \(throughStore), 300 through the API in \(throughAPI), pages of 50 in \(pageTimes), a page of 500 in \(bigTime)")
        }
    }
}

/// Enterprise mode: two nodes on one store and one Redis. A key created, disabled or revoked through one node's admin
/// API reaches the other's registry through the change message (the invalidation listener), without waiting for the
/// periodic check.
@Suite(.serialized) struct ClientKeyFleetTests {
    @Test func aRevocationOnOneNodeIsRefusedOnTheOther() async throws {
        let redis = try await RedisTestServer.start()
        defer { redis.stop() }
        let shared = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-ck-fleet-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shared) }
        // A periodic check far beyond the test: only the message can carry the change.
        let environment = FleetTrafficTests.enterprise(redis).merging(["DATABASE_PATH": shared + "/rotator.db", "CATALOG_CHECK_SECONDS": "3600"]) { $1 }
        try await withRunningNode(environment: environment) { first in
            try await withRunningNode(environment: environment) { second in
                for node in [first, second] {
                    let deadline = ContinuousClock.now + .seconds(60)
                    while ContinuousClock.now < deadline, try await node.send(.GET, "/healthz").object()["degraded"] as? Bool != false {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                let token = try await first.token()
                let created = try await first.send(.POST, "/admin/client-keys", headers: [("Authorization", "Bearer \(token)")], body: #"{"name":"fleet"}"#)
                #expect(created.status == 201, "\(created.text)")
                let secret = try #require(try created.object()["key"] as? String)
                let id = try #require(try created.object()["id"] as? Int)

                func waitOnSecond(for wanted: (ClientIdentity) -> Bool) async throws -> Duration {
                    let started = ContinuousClock.now
                    while !wanted(second.node.catalog.clientKeys?.identify(secret: secret) ?? .unknown) {
                        guard ContinuousClock.now - started < .seconds(10) else { break }
                        try await Task.sleep(for: .milliseconds(1))
                    }
                    return ContinuousClock.now - started
                }
                let known = try await waitOnSecond { if case .key = $0 { true } else { false } }
                if case .key = second.node.catalog.clientKeys?.identify(secret: secret) {} else { Issue.record("the second node never learnt the key") }

                let disabled = try await first.send(.PUT, "/admin/client-keys/\(id)", headers: [("Authorization", "Bearer \(token)")], body: #"{"enabled":false}"#)
                #expect(disabled.status == 200)
                let refusedDisabled = try await waitOnSecond { $0 == .refused(.disabled) }
                #expect(second.node.catalog.clientKeys?.identify(secret: secret) == .refused(.disabled))

                let revoked = try await first.send(.DELETE, "/admin/client-keys/\(id)", headers: [("Authorization", "Bearer \(token)")])
                #expect(revoked.status == 204)
                let refusedRevoked = try await waitOnSecond { $0 == .refused(.revoked) }
                #expect(second.node.catalog.clientKeys?.identify(secret: secret) == .refused(.revoked))
                print("client key on the second node after the first node's answer: created \(known), disabled \(refusedDisabled), revoked \(refusedRevoked)")
            }
        }
    }
}
