/// The last `limit` recorded requests in a fixed ring, so recording costs the same at request one and one million.
struct RecentRequests: Sendable {
    private(set) var limit: Int
    private var slots: [RecordedRequest] = []
    private var next = 0

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    mutating func append(_ request: RecordedRequest) {
        guard limit > 0 else { return }
        if slots.count < limit {
            slots.append(request)
        } else {
            slots[next] = request
        }
        next = (next + 1) % limit
    }

    /// Oldest first.
    var all: [RecordedRequest] {
        slots.count < limit ? slots : Array(slots[next...] + slots[..<next])
    }

    mutating func removeAll(newLimit: Int) {
        self = RecentRequests(limit: newLimit)
    }
}
