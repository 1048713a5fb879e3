@testable import KeyCoordination
import Testing

@Suite struct IndexedMinHeapTests {
    /// Random sets, updates and removals, checked against a plain dictionary after every step.
    @Test func matchesBruteForceUnderRandomOperations() {
        var generator = SplitMix64(seed: 42)
        var heap = IndexedMinHeap()
        var model: [Int64: Double] = [:]
        for _ in 0..<5000 {
            let id = Int64(generator.next() % 200)
            switch generator.next() % 3 {
            case 0, 1:
                let score = Double(generator.next() % 1000)
                heap.set(id, score: score)
                model[id] = score
            default:
                heap.remove(id)
                model[id] = nil
            }
            #expect(heap.count == model.count)
            if let expected = model.values.min() {
                #expect(heap.min?.score == expected)
            } else {
                #expect(heap.min == nil)
            }
        }
    }

    @Test func equalScoresComeOutFirstInFirstOut() {
        var heap = IndexedMinHeap()
        for id in Int64(1)...5 { heap.set(id, score: 0) }
        var order: [Int64] = []
        while let top = heap.min {
            order.append(top.id)
            heap.remove(top.id)
        }
        #expect(order == [1, 2, 3, 4, 5])
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
