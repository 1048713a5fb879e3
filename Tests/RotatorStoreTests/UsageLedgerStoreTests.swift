import RotatorCore
import RotatorStore
import Testing

/// The usage ledger's table on every backend: flushes add to the rows, never replace them.
struct UsageLedgerStoreTests {
    @Test(arguments: StoreBackend.all)
    func flushesAddToTheRows(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let team = UsageRowKey(day: 20_000, clientKeyID: 7, configID: 1, keyID: 3, model: "gpt-4o")
            let operatorKey = UsageRowKey(day: 20_000, clientKeyID: nil, configID: 1, keyID: nil, model: nil)
            let nextDay = UsageRowKey(day: 20_001, clientKeyID: 7, configID: 2, keyID: 4, model: "claude-sonnet-4-5")
            var limited = UsageCounts.request(status: 429, attempts: 3, input: 0, output: 0, cached: 0)
            limited.add(.request(status: 200, attempts: 1, input: 10, output: 4, cached: 2))
            try await store.addUsage([team: limited, operatorKey: .request(status: 502, attempts: 2, input: 0, output: 0, cached: 0)])
            try await store.addUsage([team: .request(status: 200, attempts: 1, input: 5, output: 1, cached: 0), nextDay: .request(status: 200, attempts: 1, input: 1, output: 1, cached: 1)])
            try await store.addUsage([:])

            let rows = try await store.usageRows(fromDay: 20_000, toDay: 20_001, clientKeyID: nil, configID: nil)
            #expect(rows.count == 3)
            let teamRow = try #require(rows.first { $0.key == team })
            #expect(teamRow.counts.requests == 3)
            #expect(teamRow.counts.attempts == 5)
            #expect(teamRow.counts.errors(.rateLimited) == 1)
            #expect(teamRow.counts.inputTokens == 15 && teamRow.counts.outputTokens == 5 && teamRow.counts.cachedTokens == 2)
            let operatorRow = try #require(rows.first { $0.key == operatorKey }, "an operator key's row has no client key, key or model")
            #expect(operatorRow.counts.errors(.upstream) == 1)

            #expect(try await store.usageRows(fromDay: 20_001, toDay: 20_001, clientKeyID: nil, configID: nil).map(\.key) == [nextDay])
            #expect(try await store.usageRows(fromDay: 20_000, toDay: 20_001, clientKeyID: 7, configID: 1).map(\.key) == [team])
            #expect(try await store.usageRows(fromDay: 19_000, toDay: 19_999, clientKeyID: nil, configID: nil).isEmpty)

            // A page of client keys' days in one query: summed over configs, keys and models; other keys left out.
            let otherModel = UsageRowKey(day: 20_000, clientKeyID: 7, configID: 2, keyID: 5, model: "gpt-4o-mini")
            let otherClient = UsageRowKey(day: 20_000, clientKeyID: 8, configID: 1, keyID: 3, model: "gpt-4o")
            try await store.addUsage([otherModel: .request(status: 200, attempts: 1, input: 100, output: 50, cached: 0),
                                      otherClient: .request(status: 200, attempts: 1, input: 1, output: 1, cached: 0)])
            let sums = try await store.usageByClientKeyAndDay(fromDay: 20_000, toDay: 20_001, clientKeyIDs: [7, 9])
            #expect(sums.count == 2, "\(sums)")
            let day0 = try #require(sums.first { $0.clientKeyID == 7 && $0.day == 20_000 })
            #expect(day0.counts.requests == 4 && day0.counts.attempts == 6 && day0.counts.errors(.rateLimited) == 1)
            #expect(day0.counts.inputTokens == 115 && day0.counts.outputTokens == 55 && day0.counts.cachedTokens == 2)
            let day1 = try #require(sums.first { $0.clientKeyID == 7 && $0.day == 20_001 })
            #expect(day1.counts.requests == 1 && day1.counts.inputTokens == 1)
            #expect(try await store.usageByClientKeyAndDay(fromDay: 20_000, toDay: 20_001, clientKeyIDs: []).isEmpty)
        }
    }
}
