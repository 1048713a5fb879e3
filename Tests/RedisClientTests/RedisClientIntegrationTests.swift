import Foundation
import LocalTestServers
import RedisClient
import Testing

@Suite("RedisClient against redis-server", .enabled(if: RedisTestServer.shouldRun))
struct RedisClientIntegrationTests {
    @Test func lazyConnectAndHelpers() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: testConfiguration(server))
            #expect(!client.isConnected)
            try await client.ping()
            #expect(client.isConnected)
            try await client.set("k", to: "v")
            #expect(try await client.get("k") == Array("v".utf8))
            #expect(try await client.send(["INCR", "n"]) == .integer(1))
            #expect(try await client.publish("nobody listens", to: "some-channel") == 0)
            await client.shutdown()
            #expect(!client.isConnected)
            let afterShutdown = await #expect(throws: RedisError.self) { try await client.ping() }
            guard case .unavailable = afterShutdown else {
                Issue.record("expected unavailable after shutdown, got \(String(describing: afterShutdown))")
                return
            }
        }
    }

    @Test func authAndSelectDatabase() async throws {
        let password = "s3cret-\(UUID().uuidString.prefix(6))"
        try await withRedisServer(password: password) { server in
            let wrong = RedisClient(configuration: testConfiguration(server, password: "not-the-password"))
            let wrongError = await #expect(throws: RedisError.self) { try await wrong.ping() }
            #expect(!"\(String(describing: wrongError))".contains("not-the-password"))
            await wrong.shutdown()

            let anonymous = RedisClient(configuration: testConfiguration(server))
            await #expect(throws: RedisError.self) { try await anonymous.ping() }
            await anonymous.shutdown()

            let db3 = RedisClient(configuration: testConfiguration(server, password: password, database: 3))
            let db0 = RedisClient(configuration: testConfiguration(server, password: password))
            try await db3.set("where", to: "three")
            #expect(try await db3.get("where") == Array("three".utf8))
            #expect(try await db0.get("where") == nil)
            #expect(try await db3.send(["CLIENT", "INFO"]).string?.contains(" db=3 ") == true)
            await db3.shutdown()
            await db0.shutdown()
        }
    }

    @Test func evalScriptRecoversFromNoscript() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: testConfiguration(server))
            let script = RedisScript("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")
            // Fresh server: the first call itself goes through NOSCRIPT -> SCRIPT LOAD -> EVALSHA.
            let first = try await client.evalScript(script, keys: ["counter"], args: ["tag"])
            #expect(first == .array([.bulkString(Array("counter".utf8)), .bulkString(Array("tag".utf8)), .integer(1)]))
            #expect(try await client.scriptLoad(script.source) == script.sha1)

            _ = try await client.send(["SCRIPT", "FLUSH"])
            let missing = await #expect(throws: RedisError.self) {
                try await client.evalsha(script.sha1, keys: ["counter"], args: ["tag"])
            }
            #expect(missing?.serverErrorCode == "NOSCRIPT")
            let second = try await client.evalScript(script, keys: ["counter"], args: ["tag"])
            #expect(second.array?.last == .integer(2))

            #expect(try await client.eval("return tonumber(ARGV[1]) * 2", args: [21]) == .integer(42))
            let scriptError = await #expect(throws: RedisError.self) {
                try await client.eval("return redis.error_reply('RATELIMITED slow down')")
            }
            #expect(scriptError == .server("RATELIMITED slow down"))
            await client.shutdown()
        }
    }

    @Test func timeoutWhileServerStoppedThenRecovers() async throws {
        try await withRedisServer { server in
            let commandTimeout = Duration.milliseconds(400)
            let client = RedisClient(configuration: testConfiguration(server, commandTimeout: commandTimeout))
            try await client.set("k", to: "v")

            server.pause()
            let clock = ContinuousClock()
            let start = clock.now
            let stalled = await #expect(throws: RedisError.self) { try await client.get("k") }
            let waited = clock.now - start
            #expect(stalled == .timeout)
            #expect(waited >= commandTimeout - .milliseconds(50))
            // Generous: only a hang would exceed it (a busy machine delays the timer, never by this much).
            #expect(waited < commandTimeout + .seconds(20), "timed out after \(waited)")

            // Down: commands fail fast instead of queueing behind the stopped server. A queued command would end
            // in `.timeout`; failing fast is the connectivity error, whatever the clock says.
            #expect(await eventually(timeout: .seconds(20)) { !client.isConnected })
            let failFast = await #expect(throws: RedisError.self) { try await client.get("k") }
            #expect(failFast?.isConnectivityFailure == true)
            #expect(failFast != .timeout)

            server.resume()
            let recovered = await eventually(timeout: .seconds(10)) {
                (try? await client.get("k")) == Array("v".utf8)
            }
            #expect(recovered)
            #expect(client.isConnected)
            await client.shutdown()
        }
    }

    @Test func reconnectsAfterKillAndRestart() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: testConfiguration(server))
            try await client.set("k", to: "before")

            server.kill(signal: SIGKILL)
            #expect(await eventually(timeout: .seconds(20)) { !client.isConnected })
            let down = await #expect(throws: RedisError.self) { try await client.ping() }
            #expect(down?.isConnectivityFailure == true)

            try await server.restart()
            #expect(await eventually(timeout: .seconds(10)) { (try? await client.ping()) != nil })
            // A fresh server: Redis holds only derivable state.
            #expect(try await client.get("k") == nil)
            try await client.set("k", to: "after")
            #expect(try await client.get("k") == Array("after".utf8))
            await client.shutdown()
        }
    }

    @Test func firstConnectWhileDownThenBackgroundReconnect() async throws {
        try await withRedisServer { server in
            server.kill(signal: SIGKILL)
            _ = await eventually(timeout: .seconds(20)) { !server.isRunning }
            let client = RedisClient(configuration: testConfiguration(server))
            let first = await #expect(throws: RedisError.self) { try await client.connect() }
            guard case .unavailable = first else {
                Issue.record("expected unavailable, got \(String(describing: first))")
                return
            }
            // Fails fast while the loop keeps trying in the background.
            await #expect(throws: RedisError.self) { try await client.ping() }
            try await server.restart()
            #expect(await eventually(timeout: .seconds(10)) { client.isConnected })
            try await client.ping()
            await client.shutdown()
        }
    }
}
