import Foundation
import RotatorCore
import RotatorHTTP
import RotatorStore

/// What `GET /admin/usage` may group the usage ledger by.
enum UsageDimension: String, CaseIterable, Sendable {
    case day
    case clientKey = "client_key"
    case config
    case key
    case model

    static let allowedList = allCases.map(\.rawValue).joined(separator: ", ")
}

/// `GET /admin/usage`'s query, read and checked: a 400 naming the parameter and what to send for anything else.
struct UsageQuery: Equatable, Sendable {
    static let defaultDays: Int32 = 30

    var fromDay: Int32
    var toDay: Int32
    var groupBy: [UsageDimension]
    var clientKeyID: Int64?
    var configSlug: String?
    var csv: Bool

    /// - Parameter today: the current UTC day (the default range ends with it).
    static func parse(_ parameters: [(String, String)], today: Int32) throws -> UsageQuery {
        func values(_ name: String) -> [String] { parameters.filter { $0.0 == name }.map(\.1) }
        func single(_ name: String) throws -> String? {
            let found = values(name)
            guard found.count <= 1 else { throw APIError.badRequest("query '\(name)' is given \(found.count) times: give it once") }
            return found.first
        }
        func date(_ name: String) throws -> Int32? {
            guard let text = try single(name) else { return nil }
            guard let day = UsageRowKey.day(parsing: text) else {
                throw APIError.badRequest("query '\(name)' must be a UTC date as YYYY-MM-DD (e.g. 2026-12-07), not '\(text.prefix(40))'")
            }
            return day
        }
        let to = try date("to") ?? today
        let from = try date("from") ?? (to - defaultDays + 1)
        // A 'from' after 'to' is an empty range: no rows.

        var groupBy: [UsageDimension] = []
        for listed in values("group_by") {
            for name in listed.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = name.trimmingCharacters(in: .whitespaces)
                guard let dimension = UsageDimension(rawValue: trimmed) else {
                    throw APIError.badRequest("query 'group_by' takes one or two of \(UsageDimension.allowedList), comma-separated; '\(trimmed.prefix(40))' is none of them")
                }
                // Named twice, grouped once.
                if !groupBy.contains(dimension) { groupBy.append(dimension) }
            }
        }
        if groupBy.isEmpty { groupBy = [.day] }
        guard groupBy.count <= 2 else { throw APIError.badRequest("query 'group_by' takes at most two of \(UsageDimension.allowedList)") }

        var clientKeyID: Int64?
        if let text = try single("client_key") {
            guard let id = Int64(text), id > 0 else { throw APIError.badRequest("query 'client_key' must be a client key's id (a whole number from 1)") }
            clientKeyID = id
        }
        let configSlug = try single("config")
        if let configSlug, configSlug.isEmpty { throw APIError.badRequest("query 'config' must be a config's slug") }
        let format = try single("format") ?? "json"
        guard format == "json" || format == "csv" else { throw APIError.badRequest("query 'format' must be json or csv") }
        return UsageQuery(fromDay: from, toDay: to, groupBy: groupBy, clientKeyID: clientKeyID, configSlug: configSlug, csv: format == "csv")
    }
}

/// The ledger's rows summed per group (one or two dimensions), in a stable order: by day, then ids (operator keys and
/// missing keys first), then model.
struct UsageReport: Sendable {
    struct Group: Hashable, Sendable {
        var day: Int32?
        var clientKeyID: Int64?
        var configID: Int64?
        var keyID: Int64?
        var model: String?
    }

    struct Row: Sendable {
        var group: Group
        var counts: UsageCounts
    }

    var rows: [Row]

    init(_ ledger: [UsageLedgerRow], groupBy: [UsageDimension]) {
        var sums: [Group: UsageCounts] = [:]
        for row in ledger {
            var group = Group()
            for dimension in groupBy {
                switch dimension {
                case .day: group.day = row.key.day
                case .clientKey: group.clientKeyID = row.key.clientKeyID
                case .config: group.configID = row.key.configID
                case .key: group.keyID = row.key.keyID
                case .model: group.model = row.key.model
                }
            }
            sums[group, default: UsageCounts()].add(row.counts)
        }
        rows = sums.map { Row(group: $0.key, counts: $0.value) }.sorted { a, b in
            let left = (a.group.day ?? 0, a.group.clientKeyID ?? 0, a.group.configID ?? 0, a.group.keyID ?? 0)
            let right = (b.group.day ?? 0, b.group.clientKeyID ?? 0, b.group.configID ?? 0, b.group.keyID ?? 0)
            return left != right ? left < right : (a.group.model ?? "") < (b.group.model ?? "")
        }
    }
}
