import Foundation
import Hummingbird
import NIOCore
import RotatorCore
import RotatorHTTP
import RotatorStore
import TrafficStats

/// The operator's routes: traffic charts, "check now", the check at import, the CSV export.
extension AdminAPI {
    func configTraffic(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let config = try await existingConfig(context)
        let keys = try await store.keys(configID: config.id)
        let (traffic, scope) = await trafficSource.traffic(config.id)
        return JSONBody.response(TrafficView(traffic, keys: keys, scope: scope))
    }

    func checkKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        guard let record = try await store.key(id: id),
            let config = try await store.config(id: record.proxyConfigID),
            let secret = try await store.keySecret(id: id)
        else { throw APIError.notFound("no key with id \(id)") }
        guard let probe else { throw APIError.unavailable("key checks are not available on this node") }
        let result = await probe.check(config: config, secret: secret)
        await audit(context, "key.check", target: "key:\(id)", after: result)
        return JSONBody.response(KeyCheckView(key_id: id, key_value: record.maskedValue, result: result))
    }

    /// `?check=true` (or 1) on a batch import.
    /// `?check=true` (or 1) asks for a check of each imported key; false, 0 or no parameter for none; anything else is
    /// refused rather than read as "no".
    static func wantsCheck(_ request: Request) throws -> Bool {
        guard let value = request.uri.queryParameters["check"] else { return false }
        switch value {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.unprocessable("query 'check' must be true or false")
        }
    }

    /// The most keys one import checks; the report says how many went unchecked beyond it.
    static let importCheckLimit = 500

    /// Probes each distinct key of an import, eight at a time.
    func checkImported(_ secrets: [String], config: ProxyConfig) async -> [KeyCheckView] {
        guard let probe else { return [] }
        var seen = Set<String>()
        let distinct = secrets.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty && seen.insert($0).inserted }
        let toCheck = Array(distinct.prefix(Self.importCheckLimit))
        var results = [KeyCheckView?](repeating: nil, count: toCheck.count)
        await withTaskGroup(of: (Int, KeyCheckResult).self) { group in
            var next = 0
            func startNext() {
                guard next < toCheck.count else { return }
                let index = next, secret = toCheck[index]
                next += 1
                group.addTask { (index, await probe.check(config: config, secret: secret)) }
            }
            for _ in 0..<8 { startNext() }
            for await (index, result) in group {
                results[index] = KeyCheckView(key_id: nil, key_value: SecretMasking.mask(toCheck[index]), result: result)
                startNext()
            }
        }
        return results.compactMap { $0 }
    }

    func exportKeys(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        await flushUsage()
        let config = try await existingConfig(context)
        let views = try await keyViews(configID: config.id)
        await audit(context, "keys.export", target: "config:\(config.id)", after: ["count": views.count])
        let csv = KeyListCSV.render(views)
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8",
                .contentDisposition: "attachment; filename=\"\(config.slug)-keys.csv\"",
                .cacheControl: "no-store",
            ],
            body: .init(byteBuffer: ByteBuffer(string: csv))
        )
    }
}

/// One key's check: the answer of `POST /admin/keys/{id}/check` (with its id) and an entry of an import's `checks`
/// (without: the key has none yet when it is checked).
struct KeyCheckView: Encodable {
    var key_id: Int64?
    var key_value: String
    var result: KeyCheckResult

    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(key_id, forKey: .key_id)
        try container.encode(key_value, forKey: .key_value)
    }

    enum CodingKeys: String, CodingKey {
        case key_id, key_value
    }
}

/// The batch import's answer: the store's counts, and each key's check when one was asked for.
struct ImportReport: Encodable {
    var result: BatchImportResult
    var checks: [KeyCheckView]?

    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        guard let checks else { return }
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(checks, forKey: .checks)
        try container.encode(checks.filter { $0.result.outcome == .ok }.count, forKey: .checked_ok)
    }

    enum CodingKeys: String, CodingKey {
        case checks, checked_ok
    }
}
