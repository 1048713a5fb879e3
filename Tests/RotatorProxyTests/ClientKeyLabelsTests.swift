@testable import RotatorProxy
import Testing

struct ClientKeyLabelsTests {
    @Test func keysBeyondCapacityFoldIntoOther() {
        var labels = ClientKeyLabels(capacity: 2)
        #expect(labels.label(id: 1, name: "a") == "a")
        #expect(labels.label(id: 2, name: "b") == "b")
        #expect(labels.label(id: 3, name: "c") == "other")
        #expect(labels.label(id: 1, name: "a") == "a")
    }

    @Test func rebalanceNamesTheTopKeysByTraffic() {
        var labels = ClientKeyLabels(capacity: 2)
        _ = labels.label(id: 1, name: "a")
        _ = labels.label(id: 2, name: "b")
        for _ in 0..<5 { _ = labels.label(id: 3, name: "c") }
        _ = labels.label(id: 1, name: "a")
        #expect(labels.rebalance() == [2], "b has the least traffic: folded")
        #expect(labels.label(id: 3, name: "c") == "c")
        #expect(labels.label(id: 2, name: "b") == "other")
        #expect(labels.named == [1, 3])
    }
}
