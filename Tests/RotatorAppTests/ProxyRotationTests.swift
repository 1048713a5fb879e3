import Foundation
import KeyCoordination
import MockUpstream
import NIOHTTP1
import RotatorCore
import Testing

/// End to end through a real node and a real mock upstream: rotation, cooldowns, revoked keys, retries.
@Suite(.serialized) struct ProxyRotationTests {
    @Test func rotationIsEvenOverTenKeys() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "even")
            let keys = sampleKeys(10)
            try await node.addKeys(configID: id, keys)
            for _ in 0..<200 {
                let reply = try await node.proxy("even")
                #expect(reply.status == 200, "\(reply.text)")
            }
            let uses = keys.map { node.mockState.counters(forKey: $0).requests }
            print("rotation over 10 keys, 200 requests: per-key uses \(uses), max/min = \(Double(uses.max() ?? 0) / Double(max(uses.min() ?? 1, 1)))")
            #expect(uses.allSatisfy { $0 == 20 })
        }
    }

    @Test func rateLimitedKeyIsSkippedAndClientNeverSees429() async throws {
        let state = MockUpstreamState()
        let keys = sampleKeys(3, prefix: "sk-cool")
        state.setProfile(KeyProfile(forceRateLimitRetryAfter: 30), forKey: keys[0])
        try await withRunningNode(mockState: state) { node in
            let id = try await node.createConfig(slug: "cool")
            try await node.addKeys(configID: id, keys)
            for _ in 0..<30 {
                let reply = try await node.proxy("cool")
                #expect(reply.status == 200, "a 429 reached the client: \(reply.text)")
            }
            #expect(state.counters(forKey: keys[0]).requests == 1, "a cooling key is not retried before it frees")
            #expect(state.counters(forKey: keys[0]).rateLimited == 1)
            let views = try await node.keys(configID: id)
            let cooled = try #require(views.first { ($0["key_value"] as? String)?.hasSuffix(String(keys[0].suffix(4))) == true && $0["id"] as? Int == 1 })
            // OpenAI's limits are per model (`rate_limit_exceeded`): the key rests for model `m` only and serves others.
            #expect(cooled["status"] as? String == "active")
            #expect((cooled["model_cooldowns"] as? [String: String])?["m"] != nil, "\(cooled)")
            #expect((cooled["error_count"] as? Int ?? 0) >= 1)
        }
    }

    @Test(arguments: [RetryAfterStyle.seconds, .httpDate, .openAIResetHeaders, .geminiRetryInfo])
    func everyProviderResetSignalCoolsTheKey(style: RetryAfterStyle) async throws {
        let state = MockUpstreamState()
        let keys = sampleKeys(2, prefix: "sk-style")
        state.setProfile(KeyProfile(forceRateLimitRetryAfter: 40, retryAfterStyle: style), forKey: keys[0])
        try await withRunningNode(mockState: state) { node in
            let id = try await node.createConfig(slug: "style")
            try await node.addKeys(configID: id, keys)
            _ = try await node.proxy("style")
            let views = try await node.keys(configID: id)
            let cooled = try #require(views.first { $0["id"] as? Int == 1 })
            // A rest of the whole key, or (OpenAI's `rate_limit_exceeded`: a per-model limit) of the key for model `m`.
            let until = try #require((cooled["cooldown_until"] as? String) ?? (cooled["model_cooldowns"] as? [String: String])?["m"],
                                     "no cooldown for style \(style)")
            let date = try #require(try? Date(until, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)))
            let seconds = date.timeIntervalSinceNow
            #expect(seconds > 30 && seconds < 45, "style \(style) cooled for \(seconds) s, expected the upstream's 40 s")
        }
    }

    @Test func allKeysCoolingAnswers429WithTruthfulRetryAfter() async throws {
        let state = MockUpstreamState(defaultProfile: KeyProfile(forceRateLimitRetryAfter: 20))
        try await withRunningNode(mockState: state) { node in
            let id = try await node.createConfig(slug: "busy")
            try await node.addKeys(configID: id, sampleKeys(3, prefix: "sk-busy"))
            let reply = try await node.proxy("busy")
            #expect(reply.status == 429)
            let retryAfter = try #require(reply.headers.first(name: "retry-after").flatMap(Int.init))
            #expect((18...21).contains(retryAfter))
            let error = try #require(try reply.object()["error"] as? [String: Any])
            #expect(error["type"] as? String == "rate_limit_error")
            #expect(state.totalCounters().requests == 3, "each key tried once, none twice")
        }
    }

    @Test func revokedKeysAreMarkedInvalidAndClientsNeverSee401() async throws {
        let state = MockUpstreamState()
        let keys = sampleKeys(5, prefix: "sk-rev")
        state.setProfile(KeyProfile(revoked: true), forKey: keys[1])
        state.setProfile(KeyProfile(revoked: true), forKey: keys[3])
        try await withRunningNode(mockState: state) { node in
            let id = try await node.createConfig(slug: "revoked")
            try await node.addKeys(configID: id, keys)
            for _ in 0..<60 {
                let reply = try await node.proxy("revoked")
                #expect(reply.status == 200, "\(reply.text)")
                try await Task.sleep(for: .milliseconds(5))
            }
            // The store write that marks a key invalid runs after the answer: wait for it, not for a fixed time.
            let expected = ["active", "invalid", "active", "invalid", "active"]
            var statuses: [String] = []
            var views: [[String: Any]] = []
            for _ in 0..<300 {
                views = try await node.keys(configID: id)
                statuses = views.map { $0["status"] as? String ?? "?" }
                if statuses == expected { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(statuses == expected, "\(statuses)")
            #expect(state.counters(forKey: keys[1]).unauthorized == 3)
            let before = state.counters(forKey: keys[1]).requests
            for _ in 0..<20 { _ = try await node.proxy("revoked") }
            #expect(state.counters(forKey: keys[1]).requests == before, "an invalid key is never used again")

            // An admin re-enables it: it is active and used again.
            let invalidID = try #require(views[1]["id"] as? Int)
            let patched = try await node.admin(.PATCH, "/admin/keys/\(invalidID)", body: #"{"is_active":true}"#)
            #expect(try patched.object()["status"] as? String == "active")
            state.setProfile(nil, forKey: keys[1])
            for _ in 0..<10 { _ = try await node.proxy("revoked") }
            #expect(state.counters(forKey: keys[1]).requests > before)
        }
    }

    @Test func serverErrorsRetryOnAnotherKeyWithinBudget() async throws {
        let state = MockUpstreamState()
        let keys = sampleKeys(2, prefix: "sk-5xx")
        state.setProfile(KeyProfile(failureStatus: 503), forKey: keys[0])
        try await withRunningNode(mockState: state) { node in
            let id = try await node.createConfig(slug: "flaky")
            try await node.addKeys(configID: id, keys)
            for _ in 0..<10 {
                #expect(try await node.proxy("flaky").status == 200)
            }
            // Every key failing the same way: two keys agreeing on the upstream's failure end the rotation, and the
            // upstream's own answer goes to the client (not MAX_RETRIES more calls for the same outage).
            state.setProfile(KeyProfile(failureStatus: 502), forKey: keys[1])
            state.setProfile(KeyProfile(failureStatus: 502), forKey: keys[0])
            let before = state.totalCounters().requests
            let reply = try await node.proxy("flaky")
            #expect(reply.status == 502)
            #expect(state.totalCounters().requests - before == 2)
        }
    }

    @Test func unreachableUpstreamAnswers502InClientShape() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "down", base: "http://127.0.0.1:9/v1")
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-down"))
            let started = Date()
            let reply = try await node.proxy("down")
            #expect(reply.status == 502)
            #expect(Date().timeIntervalSince(started) < 4, "a refused connection fails fast")
            let error = try #require(try reply.object()["error"] as? [String: Any])
            #expect(error["code"] as? String == "upstream_unavailable")
        }
    }

    @Test func pacingWaitsForTheNextSlotInsteadOfFailing() async throws {
        try await withRunningNode { node in
            // 60 rpm per key: one use per second per key.
            let id = try await node.createConfig(slug: "paced", extra: #","key_rpm":60"#)
            try await node.addKeys(configID: id, sampleKeys(2, prefix: "sk-paced"))
            let started = Date()
            for _ in 0..<3 {
                #expect(try await node.proxy("paced").status == 200)
            }
            let elapsed = Date().timeIntervalSince(started)
            #expect(elapsed > 0.8, "the third request waited for a key to be allowed again (\(elapsed) s)")
        }
    }

    @Test func noKeysAnswers503WithWhatToDo() async throws {
        try await withRunningNode { node in
            _ = try await node.createConfig(slug: "empty")
            let reply = try await node.proxy("empty")
            #expect(reply.status == 503)
            #expect(reply.text.contains("add keys"))
        }
    }

    /// In a cluster another node can sync a newer version of a pool into the shared coordinator before this
    /// node's cache has it: the coordinator then offers keys this node cannot use. The request must use the keys
    /// it knows, or catch up with the store when only unknown keys are free, and never spin.
    @Test func keysTheCacheDoesNotHoldYetAreSkipped() async throws {
        try await withRunningNode { node in
            let id = try await node.createConfig(slug: "ahead")
            try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-ahead"))
            let known = try #require(try await node.keys(configID: id).first?["id"] as? Int)
            let pool = try #require(node.node.catalog.pool(configID: Int64(id)))

            // The coordinator is ahead: one unknown key beside the known one.
            await node.node.coordinator.syncPool(PoolDefinition(id: Int64(id), keyIDs: [Int64(known), 9_001], pacingInterval: 0,
                                                                version: pool.config.version + 1))
            for _ in 0..<6 { #expect(try await node.proxy("ahead").status == 200) }

            // Only unknown keys: the node re-reads the config from the store, re-syncs the pool, and serves.
            await node.node.coordinator.syncPool(PoolDefinition(id: Int64(id), keyIDs: [9_001, 9_002], pacingInterval: 0,
                                                                version: pool.config.version + 2))
            // A 200, not the 503 that a catch-up which timed out (or spun until PROXY_TIMEOUT) answers: no clock needed.
            let reply = try await node.proxy("ahead")
            #expect(reply.status == 200, "\(reply.text)")
            #expect(await node.node.coordinator.runtimeStates(pool: Int64(id)).keys.sorted() == [Int64(known)], "the pool is the store's again")
        }
    }

    /// The same case after an admin pointed the config at another provider with new keys: a request that started on
    /// the old upstream must not carry the new provider's keys there. It answers 503 (retry shortly); the next
    /// request goes to the new upstream.
    @Test func newKeysNeverGoToTheOldUpstream() async throws {
        try await withRunningNode { node in
            let newState = MockUpstreamState()
            let newUpstream = try await MockUpstreamServer.start(state: newState)
            try await newUpstream.whileRunning { newUpstream in
                let id = try await node.createConfig(slug: "moved")
                try await node.addKeys(configID: id, sampleKeys(1, prefix: "sk-old"))
                let oldKeyID = try #require(try await node.keys(configID: id).first?["id"] as? Int)
                #expect(try await node.proxy("moved").status == 200)

                // Behind this node's back (another node's admin write whose message this node has not seen yet).
                let store = node.node.store
                let config = try #require(try await store.config(id: Int64(id)))
                _ = try await store.updateConfig(id: Int64(id), with: ProxyConfigDraft(
                    name: config.name, slug: config.slug, configType: config.configType, apiKeyLocation: config.apiKeyLocation,
                    apiKeyName: config.apiKeyName, isActive: true, method: config.method, targetURL: nil,
                    targetBaseURL: newUpstream.baseURL + "/v1", apiFormat: config.apiFormat, outputFormat: config.outputFormat, keyRPM: 0
                ))
                let newKey = sampleKeys(1, prefix: "sk-new")[0]
                let added = try await store.addKey(configID: Int64(id), secret: newKey, isActive: true)
                _ = try await store.setKeyActive(id: Int64(oldKeyID), isActive: false)
                await node.node.coordinator.syncPool(PoolDefinition(id: Int64(id), keyIDs: [added.id], pacingInterval: 0,
                                                                    version: config.version + 1))

                let caughtUp = try await node.proxy("moved")
                #expect(caughtUp.status == 503, "\(caughtUp.text)")
                #expect(caughtUp.headers.first(name: "retry-after") == "1")
                #expect(!node.mockState.recordedRequests.contains { $0.header("authorization") == "Bearer \(newKey)" },
                        "the new provider's key never reached the old upstream")

                let served = try await node.proxy("moved")
                #expect(served.status == 200, "\(served.text)")
                #expect(newState.recordedRequests.last?.header("authorization") == "Bearer \(newKey)")
            }
        }
    }
}
