/// Which client keys get their own label on `/metrics` (`rotator_client_key_*{client_key="name"}`), so the label set
/// stays bounded however many keys exist: the `capacity` keys with the most requests are named, every other key is
/// counted under `other`. Traffic is counted per key as requests finish; `rebalance` (every usage flush) recomputes
/// the top set from it: a key that climbed into it is named from then on, one that fell out is folded into `other`
/// (its series is dropped, so the exported series never exceed `capacity` + 1 per counter).
struct ClientKeyLabels: Sendable {
    static let other = "other"
    let capacity: Int
    /// Requests per key id since the node started.
    private(set) var traffic: [Int64: Int64] = [:]
    /// The keys named now, by id.
    private(set) var named: Set<Int64> = []

    init(capacity: Int = 100) {
        self.capacity = capacity
    }

    /// Counts one request of the key and says which label it goes under. A key seen while there is room is named at
    /// once (until `rebalance` says otherwise).
    mutating func label(id: Int64, name: String) -> String {
        traffic[id, default: 0] += 1
        if named.contains(id) { return name }
        if named.count < capacity {
            named.insert(id)
            return name
        }
        return Self.other
    }

    /// Names the `capacity` keys with the most requests (ties: the lower id); returns the ids that lost their name.
    mutating func rebalance() -> Set<Int64> {
        let top = Set(traffic.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(capacity).map(\.key))
        let demoted = named.subtracting(top)
        named = top
        return demoted
    }
}
