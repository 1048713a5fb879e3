import Foundation
import NIOHTTP1

/// The rotator's admin API, as an operator would script it.
struct AdminClient: Sendable {
    let baseURL: String
    let token: String

    static func login(_ baseURL: String) async throws -> AdminClient {
        let reply = try await HTTP.shared.send(.POST, baseURL + "/admin/login",
                                               body: #"{"username":"admin","password":"\#(RotatorProcess.adminPassword)"}"#)
        guard reply.status == 200, let token = try reply.object()["access_token"] as? String else {
            throw RunnerError("login at \(baseURL) answered \(reply.status): \(reply.text.prefix(300))")
        }
        return AdminClient(baseURL: baseURL, token: token)
    }

    /// The same session against another node (tokens are valid on every node of a cluster).
    func on(_ otherBaseURL: String) -> AdminClient {
        AdminClient(baseURL: otherBaseURL, token: token)
    }

    func call(_ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> HTTP.Reply {
        try await HTTP.shared.send(method, baseURL + path, headers: [("Authorization", "Bearer \(token)")], body: body, timeout: .seconds(120))
    }

    func expectOK(_ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> HTTP.Reply {
        let reply = try await call(method, path, body: body)
        guard (200..<300).contains(reply.status) else {
            throw RunnerError("\(method) \(path) answered \(reply.status): \(reply.text.prefix(300))")
        }
        return reply
    }

    /// Creates an LLM config pointing at `upstream` and returns its id. `apiFormat` is the upstream's wire format
    /// (the server's default, `openai_compatible`, when nil); `outputFormat` the clients' (nil: pass-through).
    func createConfig(slug: String, upstream: String, keyRPM: Int = 0, apiFormat: String? = nil, outputFormat: String? = nil) async throws -> Int {
        let formats = (apiFormat.map { #","api_format":"\#($0)""# } ?? "") + (outputFormat.map { #","output_format":"\#($0)""# } ?? "")
        let body = #"{"name":"\#(slug)","slug":"\#(slug)","target_base_url":"\#(upstream)/v1","key_rpm":\#(keyRPM)\#(formats)}"#
        guard let id = try await expectOK(.POST, "/admin/proxy-configs", body: body).object()["id"] as? Int else {
            throw RunnerError("creating config \(slug): no id in the answer")
        }
        return id
    }

    /// Imports keys in batches of at most 10 000; returns the seconds it took.
    @discardableResult
    func importKeys(_ keys: [String], configID: Int) async throws -> Double {
        let started = ContinuousClock.now
        for start in stride(from: 0, to: keys.count, by: 10_000) {
            let chunk = keys[start..<min(start + 10_000, keys.count)]
            let list = chunk.map { "\"\($0)\"" }.joined(separator: ",")
            _ = try await expectOK(.POST, "/admin/proxy-configs/\(configID)/keys/batch", body: #"{"keys":[\#(list)]}"#)
        }
        return (ContinuousClock.now - started).seconds
    }

    /// Key id and status (active, invalid, ...) of every key of a config.
    func keyStatuses(configID: Int) async throws -> [(id: Int, status: String)] {
        try await expectOK(.GET, "/admin/proxy-configs/\(configID)/keys").array().map { key in
            ((key["id"] as? Int) ?? 0, (key["status"] as? String) ?? "?")
        }
    }

    func setActive(configID: Int, _ active: Bool) async throws {
        _ = try await expectOK(.PUT, "/admin/proxy-configs/\(configID)/status", body: #"{"is_active":\#(active)}"#)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func loadKeys(_ count: Int, prefix: String) -> [String] {
    (0..<count).map { "\(prefix)-\(String(format: "%05d", $0))-abcdefghijklmnop" }
}
