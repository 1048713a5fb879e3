/// The key list as CSV (RFC 4180), masked values only. A cell that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, CR) is prefixed with `'`.
enum KeyListCSV {
    static let header = [
        "id", "key", "status", "is_active", "cooldown_until", "request_count", "error_count", "input_tokens", "output_tokens",
        "last_used_at", "last_error", "status_reason", "created_at",
    ]

    static func render(_ keys: [KeyView]) -> String {
        var lines = [header.joined(separator: ",")]
        for key in keys {
            let cells: [String] = [
                String(key.id), key.key_value, key.status.rawValue, key.is_active ? "true" : "false", key.cooldown_until ?? "",
                String(key.request_count), String(key.error_count), String(key.input_tokens), String(key.output_tokens),
                key.last_used_at ?? "", key.last_error ?? "", key.status_detail?.summary ?? "", key.created_at,
            ]
            lines.append(cells.map(cell).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func cell(_ value: String) -> String {
        var value = value
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
