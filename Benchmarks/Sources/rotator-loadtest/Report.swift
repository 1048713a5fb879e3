import Foundation

/// A Markdown table.
struct ReportTable: Sendable, Codable {
    var caption: String?
    var columns: [String]
    var rows: [[String]]

    var markdown: String {
        var lines: [String] = []
        if let caption { lines.append("*\(caption)*\n") }
        lines.append("| " + columns.joined(separator: " | ") + " |")
        lines.append("|" + columns.map { _ in "---" }.joined(separator: "|") + "|")
        for row in rows { lines.append("| " + row.joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n")
    }
}

/// A goal of the issue and whether this run met it.
struct GoalCheck: Sendable, Codable {
    var goal: String
    var met: Bool
    var measured: String
}

/// A chart for `loadtest/charts.py` to draw: bars per label, or lines over seconds with event markers.
struct ChartSpec: Sendable, Codable {
    struct Series: Sendable, Codable {
        var name: String
        var values: [Double]
    }

    struct Event: Sendable, Codable {
        var second: Double
        var label: String
    }

    var file: String
    var kind: String  // "bars" or "timeline"
    var title: String
    var yLabel: String
    var labels: [String] = []
    var seconds: [Double] = []
    var series: [Series]
    /// Timeline only: drawn as bars on a second axis (errors per second).
    var counts: Series?
    var events: [Event] = []
    var logScale = false
}

/// One scenario's section of the report.
struct ScenarioReport: Sendable, Codable {
    var number: Int
    var title: String
    var setup: String
    var tables: [ReportTable] = []
    var goals: [GoalCheck] = []
    var notes: [String] = []
    var charts: [ChartSpec] = []

    func markdown(chartsDrawn: Bool) -> String {
        var parts = ["## \(number). \(title)", setup]
        parts += tables.map(\.markdown)
        if !goals.isEmpty {
            parts.append(goals.map { "- \($0.met ? "✅" : "❌") \($0.goal): \($0.measured)" }.joined(separator: "\n"))
        }
        if !notes.isEmpty { parts.append(notes.map { "- \($0)" }.joined(separator: "\n")) }
        for chart in charts where chartsDrawn { parts.append("![\(chart.title)](\(chart.file))") }
        return parts.joined(separator: "\n\n")
    }
}

enum Format {
    static func ms(_ value: Double) -> String { String(format: value < 10 ? "%.3f" : "%.1f", value) }
    static func rate(_ value: Double) -> String { String(format: "%.0f", value) }
    static func ratio(_ value: Double, to base: Double) -> String { base > 0 ? String(format: "%.2f×", value / base) : "–" }
    static func seconds(_ value: Double) -> String { String(format: "%.2f s", value) }
    static func statuses(_ counts: [String: Int]) -> String {
        counts.isEmpty ? "–" : counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
    }
    static func notOK(_ counts: [String: Int]) -> String {
        statuses(counts.filter { !$0.key.hasPrefix("2") })
    }
}
