import RedisClient
import Testing

/// The decisions of finding a master through Sentinel, without sockets.
struct SentinelMasterDiscoveryTests {
    let a = RedisEndpoint(host: "10.0.0.1", port: 26379)
    let b = RedisEndpoint(host: "10.0.0.2", port: 26379)
    let c = RedisEndpoint(host: "10.0.0.3", port: 26379)

    func discovery() -> SentinelMasterDiscovery {
        SentinelMasterDiscovery(configuration: RedisSentinelConfiguration(sentinels: [a, b, c], masterName: "mymaster"))
    }

    static func address(_ host: String, _ port: Int) -> RESPValue {
        .array([.bulkString(Array(host.utf8)), .bulkString(Array(String(port).utf8))])
    }

    @Test func asksTheSentinelsInTurnAndPromotesTheOneThatAnswered() {
        var discovery = discovery()
        let step1 = discovery.start()
        #expect(step1 == .ask(a))
        let step2 = discovery.failed(a, reason: "connection refused")
        #expect(step2 == .ask(b))
        // A Sentinel that does not monitor this name answers null: ask the next one.
        let step3 = discovery.answered(by: b, reply: .array(nil))
        #expect(step3 == .ask(c))
        let master = RedisEndpoint(host: "10.0.1.5", port: 6379)
        let step4 = discovery.answered(by: c, reply: Self.address("10.0.1.5", 6379))
        #expect(step4 == .connect(master))
        #expect(discovery.master == master)
        #expect(discovery.sentinels == [c, a, b], "the Sentinel that answered is asked first next time")
        // While the master is known, no Sentinel is asked.
        let step5 = discovery.start()
        #expect(step5 == .connect(master))
    }

    @Test func noSentinelNamingTheMasterEndsTheRoundWithEveryReason() {
        var discovery = discovery()
        _ = discovery.start()
        _ = discovery.answered(by: a, reply: .error("NOAUTH Authentication required."))
        _ = discovery.failed(b, reason: "timed out")
        guard case .noMaster(let reasons) = discovery.answered(by: c, reply: .bulkString(nil)) else {
            Issue.record("expected noMaster")
            return
        }
        #expect(reasons.count == 3)
        #expect(reasons[0].contains("10.0.0.1:26379") && reasons[0].contains("NOAUTH"))
        #expect(reasons[2].contains("does not know a master named 'mymaster'"))
        // The next round starts at the first Sentinel again.
        let step6 = discovery.start()
        #expect(step6 == .ask(a))
    }

    @Test func aMalformedAddressIsNotAMaster() {
        var discovery = discovery()
        _ = discovery.start()
        let step7 = discovery.answered(by: a, reply: Self.address("10.0.1.5", 0))
        #expect(step7 == .ask(b))
        let step8 = discovery.answered(by: b, reply: .array([.bulkString(Array("10.0.1.5".utf8))]))
        #expect(step8 == .ask(c))
        #expect(discovery.master == nil)
    }

    @Test func aReplicaByRoleIsForgottenSoTheSentinelsAreAskedAgain() {
        var discovery = discovery()
        _ = discovery.start()
        let named = RedisEndpoint(host: "10.0.1.5", port: 6379)
        _ = discovery.answered(by: a, reply: Self.address("10.0.1.5", 6379))
        let replicaRole: RESPValue = .array([.bulkString(Array("slave".utf8)), .bulkString(Array("10.0.1.6".utf8)), .integer(6379)])
        let refusedRole = discovery.roleChecked(at: named, reply: replicaRole)
        #expect(!refusedRole)
        #expect(discovery.master == nil)
        let step9 = discovery.start()
        #expect(step9 == .ask(a))
        _ = discovery.answered(by: a, reply: Self.address("10.0.1.5", 6379))
        let masterRole: RESPValue = .array([.bulkString(Array("master".utf8)), .integer(0), .array([])])
        let acceptedRole = discovery.roleChecked(at: named, reply: masterRole)
        #expect(acceptedRole)
        #expect(discovery.master == named)
    }

    @Test func forgettingAnOlderMasterKeepsTheNewerOne() {
        var discovery = discovery()
        let old = RedisEndpoint(host: "10.0.1.5", port: 6379)
        let new = RedisEndpoint(host: "10.0.1.6", port: 6379)
        _ = discovery.start()
        _ = discovery.answered(by: a, reply: Self.address("10.0.1.5", 6379))
        let step10 = discovery.switchMessage(Array("mymaster 10.0.1.5 6379 10.0.1.6 6379".utf8))
        #expect(step10 == new)
        // A connection to the old master closing late must not erase what +switch-master taught.
        discovery.forget(old)
        #expect(discovery.master == new)
        discovery.forget(new)
        #expect(discovery.master == nil)
    }

    @Test func switchMessagesForOtherMastersAreIgnored() {
        var discovery = discovery()
        let step11 = discovery.switchMessage(Array("othermaster 10.0.1.5 6379 10.0.1.6 6379".utf8))
        #expect(step11 == nil)
        let step12 = discovery.switchMessage(Array("mymaster 10.0.1.5 6379".utf8))
        #expect(step12 == nil)
        #expect(discovery.master == nil)
    }

    @Test func endpointsParse() {
        #expect(RedisEndpoint(parsing: " sentinel-0.redis:26379 ") == RedisEndpoint(host: "sentinel-0.redis", port: 26379))
        #expect(RedisEndpoint(parsing: "[::1]:26379") == RedisEndpoint(host: "::1", port: 26379))
        #expect(RedisEndpoint(parsing: "sentinel-0") == nil)
        #expect(RedisEndpoint(parsing: "sentinel-0:0") == nil)
        #expect(RedisEndpoint(parsing: ":26379") == nil)
    }
}
