import Foundation

/// RFC 3339 timestamps (`2025-02-19T00:00:00Z`), Anthropic's way of dating models.
enum ISODate {
    static func string(epochSeconds: Int) -> String {
        Date(timeIntervalSince1970: TimeInterval(epochSeconds)).formatted(.iso8601)
    }

    static func epochSeconds(_ text: String) -> Int? {
        (try? Date.ISO8601FormatStyle().parse(text)).map { Int($0.timeIntervalSince1970) }
    }
}
