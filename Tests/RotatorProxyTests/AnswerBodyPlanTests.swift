import ConfigCatalog
import Foundation
import NIOCore
import NIOHTTP1
import RotatorCore
@testable import RotatorProxy
import Testing

/// Which answers are scrubbed and decoded, decoding itself, and what the gate refuses or strips before any byte goes
/// upstream (TRACE, CONNECT, the client's proxy key in the query).
@Suite struct AnswerBodyPlanTests {
    static let plain = Array(#"{"error":{"message":"bad key sk-gzip-0001-abcdefghijklmnop","type":"invalid_request_error"}}"#.utf8)
    /// `plain`, gzipped (Python's gzip module, mtime 0) and zlib-wrapped (what `Content-Encoding: deflate` means).
    static let gzipped: [UInt8] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x25, 0xcc, 0x4b, 0x0a, 0x80, 0x20,
        0x14, 0x00, 0xc0, 0xab, 0xc8, 0x5b, 0x27, 0xd8, 0xb6, 0xcb, 0x88, 0xe6, 0xcb, 0xcc, 0x6f, 0x6a,
        0x81, 0x89, 0x77, 0x8f, 0x68, 0x3f, 0x4c, 0x07, 0xcc, 0x39, 0x66, 0x58, 0x3a, 0x78, 0x2c, 0x45,
        0x68, 0x84, 0x05, 0xa4, 0x50, 0xc4, 0x62, 0x23, 0xc5, 0x52, 0xfd, 0x98, 0x44, 0x19, 0x63, 0x33,
        0x15, 0x72, 0x55, 0xb8, 0xe9, 0xdd, 0x1c, 0xd6, 0xf9, 0x10, 0x13, 0x4c, 0x50, 0x5b, 0xfa, 0xb8,
        0x09, 0xb7, 0x70, 0x46, 0xf1, 0x8c, 0xe7, 0x85, 0xa5, 0xf2, 0x7f, 0x1c, 0xe3, 0x05, 0x27, 0x0c,
        0xfd, 0x6b, 0x5c, 0x00, 0x00, 0x00,
    ]
    static let deflated: [UInt8] = [
        0x78, 0x9c, 0x25, 0xcc, 0x4b, 0x0a, 0x80, 0x20, 0x14, 0x00, 0xc0, 0xab, 0xc8, 0x5b, 0x27, 0xd8,
        0xb6, 0xcb, 0x88, 0xe6, 0xcb, 0xcc, 0x6f, 0x6a, 0x81, 0x89, 0x77, 0x8f, 0x68, 0x3f, 0x4c, 0x07,
        0xcc, 0x39, 0x66, 0x58, 0x3a, 0x78, 0x2c, 0x45, 0x68, 0x84, 0x05, 0xa4, 0x50, 0xc4, 0x62, 0x23,
        0xc5, 0x52, 0xfd, 0x98, 0x44, 0x19, 0x63, 0x33, 0x15, 0x72, 0x55, 0xb8, 0xe9, 0xdd, 0x1c, 0xd6,
        0xf9, 0x10, 0x13, 0x4c, 0x50, 0x5b, 0xfa, 0xb8, 0x09, 0xb7, 0x70, 0x46, 0xf1, 0x8c, 0xe7, 0x85,
        0xa5, 0xf2, 0x7f, 0x1c, 0xe3, 0x05, 0xc5, 0x85, 0x20, 0xe0,
    ]

    @Test func genericAnswersAreAllScrubbedLLMOnesUnless2xx() {
        let none = HTTPHeaders()
        #expect(AnswerBodyPlan(route: .generic, status: 200, headers: none, converts: false).scrubs)
        #expect(AnswerBodyPlan(route: .generic, status: 206, headers: none, converts: false).scrubs)
        #expect(!AnswerBodyPlan(route: .llm, status: 200, headers: none, converts: false).scrubs)
        for status in [301, 302, 307, 308, 400, 401, 404, 429, 500, 503] {
            #expect(AnswerBodyPlan(route: .llm, status: status, headers: none, converts: false).scrubs, "\(status)")
        }
    }

    @Test func compressedBodiesThatAreReadAreDecodedOthersRefused() {
        func plan(_ route: ProxyRouteKind, _ status: Int, _ encoding: String, converts: Bool = false) -> AnswerBodyPlan.Coding {
            AnswerBodyPlan(route: route, status: status, headers: HTTPHeaders([("Content-Encoding", encoding)]), converts: converts).coding
        }
        #expect(plan(.generic, 200, "gzip") == .inflate)
        #expect(plan(.llm, 401, "GZIP") == .inflate)
        #expect(plan(.llm, 308, "deflate") == .inflate)
        #expect(plan(.llm, 400, "identity") == .asIs)
        #expect(plan(.llm, 200, "gzip") == .asIs, "an LLM 2xx passes as it came")
        #expect(plan(.llm, 200, "gzip", converts: true) == .inflate, "a converted one must be read")
        #expect(plan(.generic, 200, "br") == .unreadable("br"))
        #expect(plan(.llm, 500, "gzip, br") == .unreadable("gzip, br"))
        let decoded = AnswerBodyPlan(route: .generic, status: 200, headers: HTTPHeaders([("Content-Encoding", "gzip"), ("Content-Length", "102")]),
                                     converts: false)
        let headers = decoded.clientFacing(HTTPHeaders([("Content-Encoding", "gzip"), ("Content-Length", "102"), ("Content-Type", "application/json")]))
        #expect(headers.first(name: "content-encoding") == nil)
        #expect(headers.first(name: "content-length") == nil)
        #expect(headers.first(name: "content-type") == "application/json")
    }

    @Test(arguments: [gzipped, deflated])
    func inflatesAtEverySplitPoint(compressed: [UInt8]) throws {
        for split in 0...compressed.count {
            let inflater = try BodyInflater()
            var output = try inflater.inflate(ByteBuffer(bytes: compressed[..<split]))
            var rest = try inflater.inflate(ByteBuffer(bytes: compressed[split...]))
            output.writeBuffer(&rest)
            try inflater.finish()
            #expect(Array(output.readableBytesView) == Self.plain, "split at \(split)")
        }
    }

    @Test func corruptAndTruncatedStreamsFail() throws {
        var corrupt = Self.gzipped
        corrupt[20] ^= 0xFF
        #expect(throws: BodyInflater.Failure.self) {
            let inflater = try BodyInflater()
            _ = try inflater.inflate(ByteBuffer(bytes: corrupt))
            try inflater.finish()
        }
        let inflater = try BodyInflater()
        _ = try inflater.inflate(ByteBuffer(bytes: Self.gzipped.prefix(50)))
        #expect(throws: BodyInflater.Failure.truncated) { try inflater.finish() }
        #expect(throws: BodyInflater.Failure.self) {
            let trailing = try BodyInflater()
            _ = try trailing.inflate(ByteBuffer(bytes: Self.gzipped + [0x41, 0x42]))
        }
    }

    // MARK: The gate

    static func pool(_ type: ConfigType = .llm, location: APIKeyLocation = .header, name: String = "") -> ServingPool {
        let config = ProxyConfig(
            id: 1, name: "c", slug: "c", configType: type, apiKeyLocation: location, apiKeyName: name, isActive: true, method: nil,
            targetURL: type == .generic ? "http://upstream.test/api" : nil, targetBaseURL: "http://upstream.test/v1", apiFormat: .openAICompatible,
            outputFormat: nil, keyRPM: 0, createdAt: Date(), updatedAt: Date(), version: 1
        )
        return ServingPool(config: config, keys: [UsableKey(id: 1, secret: "sk-upstream-0001")])
    }

    @Test(arguments: [HTTPMethod.TRACE, .CONNECT])
    func traceAndConnectAreRefusedOnEveryProxyRoute(method: HTTPMethod) {
        for (uri, pool) in [("/llm/c/v1/echo", Self.pool()), ("/proxy/c/echo", Self.pool(.generic))] {
            let decision = ProxyConversionGateTests.evaluate(method, uri, headers: [("Authorization", "Bearer \(ProxyConversionGateTests.proxyKey)")],
                                                             pool: pool)
            guard case .refuse(let refusal) = decision else {
                Issue.record("\(method) \(uri) was admitted")
                continue
            }
            #expect(refusal.status == .methodNotAllowed)
            #expect(refusal.message.contains(method.rawValue))
            #expect(refusal.extraHeaders.contains { $0.0 == "Allow" && !$0.1.contains("TRACE") })
        }
    }

    @Test func theProxyKeyNeverGoesUpInTheQuery() {
        let key = ProxyConversionGateTests.proxyKey
        let cases: [(String, ServingPool, String?)] = [
            ("/llm/c/v1/chat/completions?key=\(key)&x=1", Self.pool(), "x=1"),
            ("/llm/c/v1/chat/completions?api_key=\(key)", Self.pool(), nil),
            ("/proxy/c/items?token=\(key.replacingOccurrences(of: "-", with: "%2D"))&y=2", Self.pool(.generic), "y=2"),
            ("/proxy/c/items?key=other", Self.pool(.generic), "key=other"),
        ]
        for (uri, pool, expected) in cases {
            guard case .admit(let admission) = ProxyConversionGateTests.evaluate(.POST, uri, headers: [("X-Proxy-Key", key)], pool: pool) else {
                Issue.record("\(uri) refused")
                continue
            }
            #expect(admission.upstreamQuery == expected, "\(uri)")
        }
    }
}
