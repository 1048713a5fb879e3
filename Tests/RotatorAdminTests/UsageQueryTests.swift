import RotatorCore
@testable import RotatorAdmin
import RotatorHTTP
import RotatorStore
import Testing

struct UsageQueryTests {
    static let today = UsageRowKey.day(parsing: "2026-12-07")!

    static func parse(_ pairs: [(String, String)]) throws -> UsageQuery { try UsageQuery.parse(pairs, today: today) }

    @Test func defaultsToTheLast30DaysByDay() throws {
        let query = try Self.parse([])
        #expect(UsageRowKey.dayString(query.fromDay) == "2026-11-08" && UsageRowKey.dayString(query.toDay) == "2026-12-07")
        #expect(query.groupBy == [.day] && !query.csv && query.clientKeyID == nil && query.configSlug == nil)
    }

    @Test func readsEveryParameter() throws {
        let query = try Self.parse([("from", "2026-12-01"), ("to", "2026-12-02"), ("group_by", "client_key,model"), ("client_key", "7"),
                                    ("config", "openai"), ("format", "csv")])
        #expect(query == UsageQuery(fromDay: Self.today - 6, toDay: Self.today - 5, groupBy: [.clientKey, .model], clientKeyID: 7,
                                    configSlug: "openai", csv: true))
        #expect(try Self.parse([("group_by", "key"), ("group_by", "config")]).groupBy == [.key, .config])
        #expect(try Self.parse([("group_by", "day,day")]).groupBy == [.day], "named twice, grouped once")
        let empty = try Self.parse([("from", "2026-12-08"), ("to", "2026-12-07")])
        #expect(empty.fromDay > empty.toDay, "an empty range, answered with no rows")
    }

    @Test(arguments: [
        [("from", "2026-02-30")], [("to", "yesterday")], [("group_by", "day,client_key,model")], [("group_by", "week")], [("group_by", "")],
        [("client_key", "0")], [("client_key", "x")], [("config", "")], [("format", "xml")], [("from", "2026-12-01"), ("from", "2026-12-02")],
    ])
    func badInputIsA400NamingIt(_ pairs: [(String, String)]) {
        #expect(throws: (any Error).self) { try Self.parse(pairs) }
        do {
            _ = try Self.parse(pairs)
        } catch let error as APIError {
            #expect(error.status == .badRequest, "\(pairs)")
            #expect(error.message.contains("'\(pairs[0].0)'") || error.message.contains("'from'"), "\(error.message)")
        } catch {
            Issue.record("not an APIError: \(error)")
        }
    }

    @Test func rowsAreSummedPerGroupInOrder() {
        func row(_ day: Int32, _ client: Int64?, _ model: String?, requests: Int64) -> UsageLedgerRow {
            var counts = UsageCounts.request(status: 200, attempts: 1, input: 10, output: 1, cached: 0)
            counts.requests = requests
            return UsageLedgerRow(key: UsageRowKey(day: day, clientKeyID: client, configID: 1, keyID: 2, model: model), counts: counts)
        }
        let ledger = [row(2, 7, "a", requests: 1), row(1, nil, "a", requests: 2), row(1, 7, "b", requests: 3), row(2, 7, "b", requests: 4)]
        let byClient = UsageReport(ledger, groupBy: [.clientKey])
        #expect(byClient.rows.map(\.group.clientKeyID) == [nil, 7])
        #expect(byClient.rows.map(\.counts.requests) == [2, 8])
        let byDayAndModel = UsageReport(ledger, groupBy: [.day, .model])
        #expect(byDayAndModel.rows.map { "\($0.group.day!) \($0.group.model!) \($0.counts.requests)" } == ["1 a 2", "1 b 3", "2 a 1", "2 b 4"])
    }
}
