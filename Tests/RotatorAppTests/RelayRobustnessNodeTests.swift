import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The relay's flow control and deadlines on real sockets: a node between an HTTP client and `RelayTestUpstream`.
@Suite(.serialized) struct RelayRobustnessNodeTests {
    /// Reads a whole answer as it streams: its status, length and SHA-256.
    static func download(_ url: String, method: HTTPMethod, headers: [(String, String)], body: String?) async throws -> (status: Int, length: Int, digest: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, deadline: .now() + .seconds(120))
        var hasher = SHA256()
        var length = 0
        for try await part in response.body {
            length += part.readableBytes
            part.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        }
        return (Int(response.status.code), length, hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }

    /// The SHA-256 of the `…/bytes/<length>` answer.
    static func expectedDigest(length: Int) -> String {
        var hasher = SHA256()
        var index = 0
        var remaining = length
        while remaining > 0 {
            let piece = RelayTestUpstream.piece(index, length: min(RelayTestUpstream.pieceSize, remaining))
            piece.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            remaining -= piece.readableBytes
            index += 1
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// A generic config and a pass-through LLM config in front of the upstream: (how to ask for a path, its method, body).
    static func configs(on node: TestNode, upstream: RelayTestUpstream) async throws -> [(name: String, url: (String) -> String, method: HTTPMethod, body: String?)] {
        let generic = try await node.admin(.POST, "/admin/proxy-configs", body: """
            {"name":"files","slug":"files","config_type":"generic","target_url":"\(upstream.baseURL)","api_key_location":"header","api_key_name":"X-Api-Key"}
            """)
        #expect(generic.status == 201, "\(generic.text)")
        try await node.addKeys(configID: try #require(try generic.object()["id"] as? Int), ["files-key-0123456789abcdef"])
        let llm = try await node.createConfig(slug: "passthrough", base: upstream.baseURL + "/v1")
        try await node.addKeys(configID: llm, sampleKeys(1, prefix: "sk-pass"))
        return [
            ("generic", { node.baseURL + "/proxy/files" + $0 }, .GET, nil),
            ("pass-through LLM", { node.baseURL + "/llm/passthrough/v1" + $0 }, .POST, #"{"model":"m"}"#),
        ]
    }

    /// Runs `body` against a node and an upstream, then stops both (also when `body` fails).
    static func withNode(_ environment: [String: String], _ body: (TestNode, RelayTestUpstream) async throws -> Void) async throws {
        try await RelayTestUpstream.start().whileRunning { upstream in
            try await withRunningNode(environment: environment.merging(["LOG_LEVEL": "info"]) { set, _ in set }) { node in
                try await body(node, upstream)
            }
        }
    }

    @Test func largeAnswersFromAFastUpstreamArriveWhole() async throws {
        try await Self.withNode(["PROXY_TIMEOUT": "5"]) { node, upstream in
            for config in try await Self.configs(on: node, upstream: upstream) {
                for megabytes in [1, 5, 20, 50] {
                    let length = megabytes << 20
                    let started = ContinuousClock.now
                    let got = try await Self.download(
                        config.url("/bytes/\(length)"), method: config.method,
                        headers: [("Authorization", "Bearer \(TestNode.proxyKey)"), ("Content-Type", "application/json")], body: config.body
                    )
                    #expect(got.status == 200, "\(config.name), \(megabytes) MB")
                    #expect(got.length == length, "\(config.name), \(megabytes) MB: every byte arrives (took \(ContinuousClock.now - started))")
                    #expect(got.digest == Self.expectedDigest(length: length), "\(config.name), \(megabytes) MB: the bytes are the upstream's, in order")
                }
            }
        }
    }

    @Test func anAnswerThatBreaksItsChunkFramingRightAfterTheHeadIsA502() async throws {
        try await Self.withNode([:]) { node, upstream in
            for config in try await Self.configs(on: node, upstream: upstream) {
                var request = HTTPClientRequest(url: config.url("/broken-chunked"))
                request.method = config.method
                request.headers.add(name: "Authorization", value: "Bearer \(TestNode.proxyKey)")
                if let body = config.body { request.body = .bytes(ByteBuffer(string: body)) }
                let response = try await HTTPClient.shared.execute(request, deadline: .now() + .seconds(30))
                let body = try await response.body.collect(upTo: 1 << 20)
                #expect(response.status == .badGateway, "\(config.name): \(String(buffer: body))")
                let object = try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
                if config.name == "generic" {
                    #expect((object["error"] as? String)?.contains("broke off") == true, "\(object)")
                } else {
                    #expect((object["error"] as? [String: Any])?["code"] as? String == "upstream_unavailable", "the client's (OpenAI) format: \(object)")
                }
            }
        }
    }

    @Test func aGETsRetriesAfterTimeoutsStopAtTheOverallDeadline() async throws {
        try await Self.withNode(["PROXY_TIMEOUT": "1", "PROXY_TOTAL_TIMEOUT": "2", "MAX_RETRIES": "3"]) { node, upstream in
            _ = try await Self.configs(on: node, upstream: upstream)
            let started = ContinuousClock.now
            let reply = try await node.send(.GET, "/proxy/files/silent", headers: [("X-Proxy-Key", TestNode.proxyKey)])
            let elapsed = ContinuousClock.now - started
            #expect(reply.status == 504, "\(reply.text)")
            #expect(upstream.requests("silent") == 2, "two attempts of 1 s fit in 2 s; MAX_RETRIES=3 would have made 4")
            #expect(elapsed < .seconds(4), "bounded by PROXY_TOTAL_TIMEOUT, not 4 read timeouts: \(elapsed)")
        }
    }

    @Test func aTrickledLoginBodyOrHeadIsCutWith408AtTheRequestDeadline() async throws {
        try await Self.withNode(["CLIENT_REQUEST_TIMEOUT": "2", "CLIENT_READ_TIMEOUT": "5"]) { node, _ in
            for (start, drip) in [("POST /admin/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", "{"),
                                  ("POST /admin/login HTTP/1.1\r\nHost: x\r\n", "X")] {
                let connection = try await ClientLimitTests.RawConnection.open(port: node.port)
                try await connection.send(start)
                // A byte every 0.25 s: never a pause the read timeout (5 s) sees.
                let started = ContinuousClock.now
                while connection.channel.isActive, ContinuousClock.now - started < .seconds(15) {
                    try? await connection.send(drip)
                    try await Task.sleep(for: .milliseconds(250))
                }
                #expect(!connection.channel.isActive, "cut by CLIENT_REQUEST_TIMEOUT (2 s)")
                #expect(connection.text.hasPrefix("HTTP/1.1 408"), "\(connection.text.prefix(200))")
                #expect(connection.text.contains("CLIENT_REQUEST_TIMEOUT"))
                try? await connection.channel.close()
            }
        }
    }
}
