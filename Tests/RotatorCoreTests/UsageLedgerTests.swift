import RotatorCore
import Testing

struct UsageLedgerTests {
    @Test func errorClassesByStatus() {
        #expect(UsageErrorClass(status: 200) == nil)
        #expect(UsageErrorClass(status: 304) == nil)
        #expect(UsageErrorClass(status: 499) == nil, "a client that left got no answer")
        #expect(UsageErrorClass(status: 429) == .rateLimited)
        #expect(UsageErrorClass(status: 401) == .refused)
        #expect(UsageErrorClass(status: 403) == .refused)
        #expect(UsageErrorClass(status: 400) == .clientError)
        #expect(UsageErrorClass(status: 413) == .clientError)
        #expect(UsageErrorClass(status: 408) == .timeout)
        #expect(UsageErrorClass(status: 504) == .timeout)
        #expect(UsageErrorClass(status: 502) == .upstream)
        #expect(UsageErrorClass(status: 500) == .upstream)
    }

    @Test func daysRoundTripAndBadDatesAreRefused() {
        #expect(UsageRowKey.dayString(0) == "1970-01-01")
        #expect(UsageRowKey.day(secondsSince1970: 1_796_688_000) == UsageRowKey.day(parsing: "2026-12-08"))
        #expect(UsageRowKey.day(secondsSince1970: 1_796_687_999) == UsageRowKey.day(parsing: "2026-12-07"))
        for text in ["2024-02-29", "2026-12-07", "1999-12-31", "2100-03-01", "0211-10-30", "0001-01-01"] {
            let day = UsageRowKey.day(parsing: text)
            #expect(day.map(UsageRowKey.dayString) == text)
        }
        for bad in ["2026-02-29", "2026-13-01", "2026-1-01", "20261201", "", "2026-12-07T00:00:00Z", "yyyy-mm-dd"] {
            #expect(UsageRowKey.day(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func requestsAddUpAcrossShardsAndDrainEmpties() {
        let ledger = UsageLedger(shards: 4)
        let row = UsageRowKey(day: 20_000, clientKeyID: 7, configID: 1, keyID: 3, model: "gpt-4o")
        let operatorRow = UsageRowKey(day: 20_000, clientKeyID: nil, configID: 1, keyID: 3, model: "gpt-4o")
        for shard in 0..<10 {
            ledger.add(.request(status: 200, attempts: 1, input: 10, output: 5, cached: 2), to: row, shard: shard)
        }
        ledger.add(.request(status: 429, attempts: 2, input: 0, output: 0, cached: 0), to: row, shard: -3)
        ledger.add(.request(status: 200, attempts: 1, input: 1, output: 1, cached: 0), to: operatorRow, shard: 1)
        let drained = ledger.drain()
        #expect(drained.count == 2)
        let counts = drained[row]
        #expect(counts?.requests == 11)
        #expect(counts?.attempts == 12)
        #expect(counts?.inputTokens == 100 && counts?.outputTokens == 50 && counts?.cachedTokens == 20)
        #expect(counts?.errors(.rateLimited) == 1 && counts?.totalErrors == 1)
        #expect(drained[operatorRow]?.requests == 1)
        #expect(ledger.drain().isEmpty)
    }
}
