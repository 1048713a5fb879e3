import Foundation
import Hummingbird
import RotatorCore
import RotatorHTTP
import RotatorStore

extension AdminAPI {
    var usageResource: AdminResource {
        AdminResource("/admin/usage", [AdminRoute(.get, handler: usage)])
    }

    /// `GET /admin/usage?from=&to=&group_by=&client_key=&config=&format=`: the usage ledger summed per group (this
    /// node's unflushed counts flushed first), as JSON or CSV.
    func usage(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
        let query = try UsageQuery.parse(parameters, today: UsageRowKey.day(secondsSince1970: Date().timeIntervalSince1970))
        guard let ledger = store as? any UsageLedgerStore else { throw APIError.unavailable("this store keeps no usage ledger") }
        let configs = try await store.listConfigs()
        var configID: Int64?
        if let slug = query.configSlug {
            guard let config = configs.first(where: { $0.slug == slug }) else { throw APIError.notFound("query 'config': no config has the slug '\(slug.prefix(80))'") }
            configID = config.id
        }
        await flushUsage()
        let rows = try await ledger.usageRows(fromDay: query.fromDay, toDay: query.toDay, clientKeyID: query.clientKeyID, configID: configID)
        let report = UsageReport(rows, groupBy: query.groupBy)

        var names = UsageNames(configSlugs: Dictionary(configs.map { ($0.id, $0.slug) }, uniquingKeysWith: { first, _ in first }))
        if query.groupBy.contains(.clientKey) { names.clientKeys = await clientKeyNames() }
        if query.groupBy.contains(.key) {
            let configIDs = Set(rows.compactMap { $0.key.keyID == nil ? nil : $0.key.configID })
            for id in configIDs {
                for key in try await store.keys(configID: id) { names.keyMasks[key.id] = key.maskedValue }
            }
        }
        let views = report.rows.map { UsageRowView(row: $0, groupBy: query.groupBy, names: names) }
        if query.csv {
            return Response(
                status: .ok,
                headers: [.contentType: "text/csv; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: UsageRowView.csv(views, groupBy: query.groupBy)))
            )
        }
        return JSONBody.response(UsageView(
            from: UsageRowKey.dayString(query.fromDay), to: UsageRowKey.dayString(query.toDay), group_by: query.groupBy.map(\.rawValue), rows: views
        ))
    }
}

/// Names shown beside the ids: client keys', configs' slugs, upstream keys' masks.
struct UsageNames: Sendable {
    var configSlugs: [Int64: String]
    var clientKeys: [Int64: String] = [:]
    var keyMasks: [Int64: String] = [:]
}

struct UsageView: Encodable {
    var from: String
    var to: String
    var group_by: [String]
    var rows: [UsageRowView]
}

/// One row of the answer: the group's columns (each dimension's, `null` where it has none) and the sums.
struct UsageRowView: Encodable {
    /// The group columns in order, each a name and a value (nil: JSON null, an empty CSV cell).
    var columns: [(String, UsageCell)]
    var counts: UsageCounts

    enum UsageCell {
        case text(String?)
        case number(Int64?)

        var csv: String {
            switch self {
            case .text(let text): text ?? ""
            case .number(let number): number.map(String.init) ?? ""
            }
        }
    }

    init(row: UsageReport.Row, groupBy: [UsageDimension], names: UsageNames) {
        counts = row.counts
        columns = []
        let group = row.group
        for dimension in groupBy {
            switch dimension {
            case .day:
                columns.append(("day", .text(group.day.map(UsageRowKey.dayString))))
            case .clientKey:
                columns.append(("client_key_id", .number(group.clientKeyID)))
                columns.append(("client_key", .text(group.clientKeyID.flatMap { names.clientKeys[$0] })))
            case .config:
                columns.append(("config_id", .number(group.configID)))
                columns.append(("config", .text(group.configID.flatMap { names.configSlugs[$0] })))
            case .key:
                columns.append(("key_id", .number(group.keyID)))
                columns.append(("key", .text(group.keyID.flatMap { names.keyMasks[$0] })))
            case .model:
                columns.append(("model", .text(group.model)))
            }
        }
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (name, cell) in columns {
            switch cell {
            case .text(let text?): try container.encode(text, forKey: Key(name))
            case .number(let number?): try container.encode(number, forKey: Key(name))
            case .text(nil), .number(nil): try container.encodeNil(forKey: Key(name))
            }
        }
        try container.encode(counts.requests, forKey: Key("requests"))
        try container.encode(counts.totalErrors, forKey: Key("errors"))
        var byClass: [String: Int64] = [:]
        for errorClass in UsageErrorClass.allCases where counts.errors(errorClass) > 0 { byClass[errorClass.rawValue] = counts.errors(errorClass) }
        try container.encode(byClass, forKey: Key("errors_by_class"))
        try container.encode(counts.attempts, forKey: Key("attempts"))
        try container.encode(counts.inputTokens, forKey: Key("input_tokens"))
        try container.encode(counts.outputTokens, forKey: Key("output_tokens"))
        try container.encode(counts.cachedTokens, forKey: Key("cached_tokens"))
    }

    /// The same columns as the JSON rows, `errors_by_class` spread over one column per class; a header line first.
    static func csv(_ rows: [UsageRowView], groupBy: [UsageDimension]) -> String {
        let groupColumns = UsageRowView(row: UsageReport.Row(group: UsageReport.Group(), counts: UsageCounts()), groupBy: groupBy,
                                        names: UsageNames(configSlugs: [:])).columns.map(\.0)
        let header = groupColumns + ["requests", "errors"] + UsageErrorClass.allCases.map { "errors_\($0.rawValue)" }
            + ["attempts", "input_tokens", "output_tokens", "cached_tokens"]
        var lines = [header.joined(separator: ",")]
        for row in rows {
            let counts = row.counts
            let cells = row.columns.map { KeyListCSV.cell($0.1.csv) } + [String(counts.requests), String(counts.totalErrors)]
                + UsageErrorClass.allCases.map { String(counts.errors($0)) }
                + [String(counts.attempts), String(counts.inputTokens), String(counts.outputTokens), String(counts.cachedTokens)]
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
