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
}
