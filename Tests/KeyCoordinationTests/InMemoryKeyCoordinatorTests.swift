import KeyCoordination
import Testing

@Suite("In-memory coordinator: shared behaviour")
struct InMemoryKeyCoordinatorTests {
    private func harness() -> CoordinatorHarness {
        let clock = ManualClock()
        return CoordinatorHarness(coordinator: InMemoryKeyCoordinator(clock: clock), advance: { clock.advance(by: $0) })
    }

    @Test func leastRecentlyUsedIsFair() async { await CoordinatorBehaviour.leastRecentlyUsedIsFair(harness()) }
    @Test func roundRobinOrder() async { await CoordinatorBehaviour.roundRobinOrder(harness()) }
    @Test func cooldownSkipsKeyUntilItFrees() async { await CoordinatorBehaviour.cooldownSkipsKeyUntilItFrees(harness()) }
    @Test func allCoolingReportsSoonestFree() async { await CoordinatorBehaviour.allCoolingReportsSoonestFree(harness()) }
    @Test func rejectionsQuarantineThenInvalidate() async { await CoordinatorBehaviour.rejectionsQuarantineThenInvalidate(harness()) }
    @Test func successResetsRejectionCount() async { await CoordinatorBehaviour.successResetsRejectionCount(harness()) }
    @Test func pacingSpacesUses() async { await CoordinatorBehaviour.pacingSpacesUses(harness()) }
    @Test func exclusionSkipsTriedKeys() async { await CoordinatorBehaviour.exclusionSkipsTriedKeys(harness()) }
    @Test func syncKeepsStateAndDropsRemovedKeys() async { await CoordinatorBehaviour.syncKeepsStateAndDropsRemovedKeys(harness()) }
    @Test func emptyPool() async { await CoordinatorBehaviour.emptyPool(harness()) }
    @Test func usageIsCountedAndDrained() async { await CoordinatorBehaviour.usageIsCountedAndDrained(harness()) }
    @Test func tokensJoinTheServingKeysUsage() async { await CoordinatorBehaviour.tokensJoinTheServingKeysUsage(harness()) }
    @Test func coolingThePoolRestsEveryKey() async { await CoordinatorBehaviour.coolingThePoolRestsEveryKey(harness()) }
    @Test func exhaustedQuotaRestsTheKeyWithItsOwnStatus() async {
        await CoordinatorBehaviour.exhaustedQuotaRestsTheKeyWithItsOwnStatus(harness())
    }
    @Test func modelRestLeavesOtherModelsServed() async { await CoordinatorBehaviour.modelRestLeavesOtherModelsServed(harness()) }
    @Test func modelQuotaRestsOnlyThatModel() async { await CoordinatorBehaviour.modelQuotaRestsOnlyThatModel(harness()) }
    @Test func unpickGivesThePickBack() async { await CoordinatorBehaviour.unpickGivesThePickBack(harness()) }

    /// The proxy's at-once path decides exactly what the async one does: the same keys, the same effects.
    @Test func answersAtOnceAsTheAsyncPathDoes() async {
        let clock = ManualClock()
        let direct = InMemoryKeyCoordinator(clock: clock)
        let awaited = InMemoryKeyCoordinator(clock: clock)
        let pool = PoolDefinition(id: 1, keyIDs: [1, 2, 3], pacingInterval: 0)
        await direct.syncPool(pool)
        await awaited.syncPool(pool)
        let outcomes: [KeyOutcome] = [.success, .rateLimited(cooldown: 30), .rejected(reason: "401"), .success, .upstreamFailure(reason: "502")]
        for (step, outcome) in outcomes.enumerated() {
            let now = direct.acquireKeyImmediately(pool: 1, excluding: step == 3 ? [1] : [], model: nil)
            let later = await awaited.acquireKey(pool: 1, excluding: step == 3 ? [1] : [])
            #expect(now == later, "step \(step)")
            guard case .key(let key) = later else { continue }
            #expect(direct.reportImmediately(outcome, key: key, pool: 1) == (await awaited.report(outcome, key: key, pool: 1)), "step \(step)")
            clock.advance(by: 0.01)
        }
        #expect(direct.acquireKeyImmediately(pool: 99, excluding: [], model: nil) == .empty)
    }
}
