import RotatorCore
import RotatorSQL

/// One stored row of the usage ledger.
public struct UsageLedgerRow: Sendable, Equatable {
    public var key: UsageRowKey
    public var counts: UsageCounts

    public init(key: UsageRowKey, counts: UsageCounts) {
        self.key = key
        self.counts = counts
    }
}

/// Where the usage ledger is kept: rows whose counters only ever add.
public protocol UsageLedgerStore: Sendable {
    /// Adds each row's counters to the stored row (created when new), all in one transaction.
    func addUsage(_ rows: [UsageRowKey: UsageCounts]) async throws
    /// The rows of the days `fromDay...toDay`, optionally of one client key (0: operator keys) and one config.
    func usageRows(fromDay: Int32, toDay: Int32, clientKeyID: Int64?, configID: Int64?) async throws -> [UsageLedgerRow]
    /// Each of `clientKeyIDs`' counts per day of `fromDay...toDay`, summed over its configs, keys and models in one query
    /// (a page of the client-key list, whatever its size); days without a row are absent.
    func usageByClientKeyAndDay(fromDay: Int32, toDay: Int32, clientKeyIDs: [Int64]) async throws -> [(clientKeyID: Int64, day: Int32, counts: UsageCounts)]
}

extension SQLConfigStore: UsageLedgerStore {
    /// The counter columns after the row's identity, in `UsageErrorClass.allCases` order for the errors.
    private static let counterColumns =
        ["requests"] + UsageErrorClass.allCases.map { "errors_\($0.rawValue)" } + ["attempts", "input_tokens", "output_tokens", "cached_tokens"]
    private static let identityColumns = ["day", "client_key_id", "config_id", "key_id", "model"]

    public func addUsage(_ rows: [UsageRowKey: UsageCounts]) async throws {
        guard !rows.isEmpty else { return }
        let columns = Self.identityColumns + Self.counterColumns
        let placeholders = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        let insert = "INSERT INTO usage_ledger (\(columns.joined(separator: ", "))) VALUES (\(placeholders))"
        let sql: String
        switch database.dialect {
        case .sqlite:
            sql = insert + " ON CONFLICT(\(Self.identityColumns.joined(separator: ", "))) DO UPDATE SET "
                + Self.counterColumns.map { "\($0) = \($0) + excluded.\($0)" }.joined(separator: ", ")
        case .mysql:
            sql = insert + " ON DUPLICATE KEY UPDATE " + Self.counterColumns.map { "\($0) = \($0) + VALUES(\($0))" }.joined(separator: ", ")
        }
        // A stable order: two nodes flushing at once take the rows' locks in the same order.
        let ordered = rows.sorted { Self.orders($0.key, $1.key) }
        try await perform { connection in
            try connection.transaction {
                for (key, counts) in ordered {
                    let errors = UsageErrorClass.allCases.map { SQLValue.int(counts.errors($0)) }
                    let binds: [SQLValue] = [
                        .int(Int64(key.day)), .int(key.clientKeyID ?? 0), .int(key.configID), .int(key.keyID ?? 0), .text(key.model ?? ""),
                        .int(counts.requests),
                    ] + errors + [.int(counts.attempts), .int(counts.inputTokens), .int(counts.outputTokens), .int(counts.cachedTokens)]
                    try connection.execute(sql, binds)
                }
            }
        }
    }

    public func usageRows(fromDay: Int32, toDay: Int32, clientKeyID: Int64?, configID: Int64?) async throws -> [UsageLedgerRow] {
        var sql = "SELECT \((Self.identityColumns + Self.counterColumns).joined(separator: ", ")) FROM usage_ledger WHERE day >= ? AND day <= ?"
        var binds: [SQLValue] = [.int(Int64(fromDay)), .int(Int64(toDay))]
        if let clientKeyID {
            sql += " AND client_key_id = ?"
            binds.append(.int(clientKeyID))
        }
        if let configID {
            sql += " AND config_id = ?"
            binds.append(.int(configID))
        }
        sql += " ORDER BY day, client_key_id, config_id, key_id, model"
        return try await perform { [sql, binds] connection in
            try connection.query(sql, binds).map { row in
                let clientKey = try row.int64("client_key_id"), key = try row.int64("key_id"), model = try row.string("model")
                return UsageLedgerRow(
                    key: UsageRowKey(day: Int32(try row.int64("day")), clientKeyID: clientKey == 0 ? nil : clientKey, configID: try row.int64("config_id"),
                                     keyID: key == 0 ? nil : key, model: model.isEmpty ? nil : model),
                    counts: try Self.counts(row))
            }
        }
    }

    public func usageByClientKeyAndDay(fromDay: Int32, toDay: Int32, clientKeyIDs: [Int64]) async throws -> [(clientKeyID: Int64, day: Int32, counts: UsageCounts)] {
        guard !clientKeyIDs.isEmpty else { return [] }
        // A sum is a decimal in MySQL/MariaDB: cast back to the integer every counter is.
        let integer = database.dialect == .sqlite ? "INTEGER" : "SIGNED"
        let sums = Self.counterColumns.map { "CAST(SUM(\($0)) AS \(integer)) AS \($0)" }.joined(separator: ", ")
        let list = Array(repeating: "?", count: clientKeyIDs.count).joined(separator: ", ")
        let sql = "SELECT client_key_id, day, \(sums) FROM usage_ledger WHERE day >= ? AND day <= ? AND client_key_id IN (\(list))"
            + " GROUP BY client_key_id, day"
        let binds: [SQLValue] = [.int(Int64(fromDay)), .int(Int64(toDay))] + clientKeyIDs.map { .int($0) }
        return try await perform { connection in
            try connection.query(sql, binds).map { row in
                (clientKeyID: try row.int64("client_key_id"), day: Int32(try row.int64("day")), counts: try Self.counts(row))
            }
        }
    }

    /// A row's counter columns.
    private static func counts(_ row: SQLRow) throws -> UsageCounts {
        var counts = UsageCounts()
        counts.requests = try row.int64("requests")
        for errorClass in UsageErrorClass.allCases {
            let count = try row.int64("errors_\(errorClass.rawValue)")
            if count > 0 { counts.addError(errorClass, count: count) }
        }
        counts.attempts = try row.int64("attempts")
        counts.inputTokens = try row.int64("input_tokens")
        counts.outputTokens = try row.int64("output_tokens")
        counts.cachedTokens = try row.int64("cached_tokens")
        return counts
    }

    private static func orders(_ a: UsageRowKey, _ b: UsageRowKey) -> Bool {
        (a.day, a.clientKeyID ?? 0, a.configID, a.keyID ?? 0) != (b.day, b.clientKeyID ?? 0, b.configID, b.keyID ?? 0)
            ? (a.day, a.clientKeyID ?? 0, a.configID, a.keyID ?? 0) < (b.day, b.clientKeyID ?? 0, b.configID, b.keyID ?? 0)
            : (a.model ?? "") < (b.model ?? "")
    }
}
