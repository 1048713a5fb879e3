/// A binary min-heap of ids ordered by (score, sequence) that can change or remove any id in O(log n).
/// The sequence breaks ties first-in-first-out, which keeps equal-score keys in round-robin order.
struct IndexedMinHeap {
    private struct Entry {
        var id: Int64
        var score: Double
        var sequence: UInt64
    }

    private var entries: [Entry] = []
    private var positions: [Int64: Int] = [:]
    private var nextSequence: UInt64 = 0

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    func contains(_ id: Int64) -> Bool { positions[id] != nil }

    func score(of id: Int64) -> Double? {
        positions[id].map { entries[$0].score }
    }

    var min: (id: Int64, score: Double)? {
        entries.first.map { ($0.id, $0.score) }
    }

    /// Inserts the id, or moves it to its new score (it then queues behind ids of equal score).
    mutating func set(_ id: Int64, score: Double) {
        nextSequence &+= 1
        if let position = positions[id] {
            let old = entries[position]
            entries[position].score = score
            entries[position].sequence = nextSequence
            if (score, nextSequence) < (old.score, old.sequence) {
                siftUp(position)
            } else {
                siftDown(position)
            }
        } else {
            entries.append(Entry(id: id, score: score, sequence: nextSequence))
            positions[id] = entries.count - 1
            siftUp(entries.count - 1)
        }
    }

    @discardableResult
    mutating func remove(_ id: Int64) -> Double? {
        guard let position = positions[id] else { return nil }
        let removed = entries[position]
        let last = entries.count - 1
        if position != last {
            swapAt(position, last)
        }
        entries.removeLast()
        positions[id] = nil
        if position < entries.count {
            siftDown(position)
            siftUp(position)
        }
        return removed.score
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (entries[a].score, entries[a].sequence) < (entries[b].score, entries[b].sequence)
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        positions[entries[a].id] = a
        positions[entries[b].id] = b
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < entries.count, less(left, smallest) { smallest = left }
            if right < entries.count, less(right, smallest) { smallest = right }
            guard smallest != parent else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }
}
