import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Small JSON calls for setup and probes (admin API, readiness, propagation checks); load goes through `LoadDriver`.
final class HTTP: Sendable {
    static let shared = HTTP()

    let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: .init(timeout: .init(connect: .seconds(2), read: .seconds(30)), connectionPool: .init(idleTimeout: .seconds(10)))
    )

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders = [:]
        var body: ByteBuffer
        var text: String { String(buffer: body) }

        func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) }
        func object() throws -> [String: Any] {
            guard let object = try json() as? [String: Any] else { throw RunnerError("expected a JSON object, got: \(text.prefix(300))") }
            return object
        }
        func array() throws -> [[String: Any]] {
            guard let array = try json() as? [[String: Any]] else { throw RunnerError("expected a JSON array, got: \(text.prefix(300))") }
            return array
        }
    }

    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: String? = nil,
              timeout: TimeAmount = .seconds(30)) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await client.execute(request, timeout: timeout)
        return Reply(status: Int(response.status.code), headers: response.headers, body: try await response.body.collect(upTo: 64 << 20))
    }

    func get(_ url: String, timeout: TimeAmount = .seconds(5)) async throws -> Reply {
        try await send(.GET, url, timeout: timeout)
    }
}
