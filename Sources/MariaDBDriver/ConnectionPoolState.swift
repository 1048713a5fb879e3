import RotatorSQL

/// Which pooled connection a caller gets, who waits, and when closing may proceed. A value type driven by
/// `MariaDBDatabase` under a lock; it never resumes continuations itself, it returns what to resume.
struct ConnectionPoolState {
    typealias Waiter = CheckedContinuation<Int, any Error>

    enum AcquireAction {
        case use(Int)
        case wait
        case fail(any Error)
    }

    enum ReleaseAction {
        case none
        /// Hand the connection straight to a waiting caller.
        case handOver(Int, to: Waiter)
        /// The last loan ended after `close()`: let it proceed.
        case closeMayProceed([CheckedContinuation<Void, Never>])
    }

    let size: Int
    private var idle: [Int]
    /// First come, first served. Pools are small and waits short, so an array is enough.
    private var waiters: [(id: Int, continuation: Waiter)] = []
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    private(set) var isClosed = false

    init(size: Int) {
        self.size = size
        self.idle = Array((0..<size).reversed())
    }

    /// `isCancelled` is read under the same lock as `cancel(waiterID:)` runs, so a cancellation is never lost:
    /// either it is seen here, or the cancel handler finds the waiter queued.
    mutating func acquire(waiterID: Int, continuation: Waiter, isCancelled: Bool) -> AcquireAction {
        if isClosed { return .fail(Self.closedError) }
        if isCancelled { return .fail(CancellationError()) }
        if let index = idle.popLast() { return .use(index) }
        waiters.append((waiterID, continuation))
        return .wait
    }

    /// Callers queued for a connection now.
    var waitingCount: Int { waiters.count }

    mutating func cancel(waiterID: Int) -> Waiter? {
        guard let position = waiters.firstIndex(where: { $0.id == waiterID }) else { return nil }
        return waiters.remove(at: position).continuation
    }

    mutating func release(_ index: Int) -> ReleaseAction {
        if !waiters.isEmpty {
            return .handOver(index, to: waiters.removeFirst().continuation)
        }
        idle.append(index)
        if isClosed, idle.count == size, !closeWaiters.isEmpty {
            defer { closeWaiters = [] }
            return .closeMayProceed(closeWaiters)
        }
        return .none
    }

    /// Marks the pool closed. Returns the callers still waiting (to fail), or nil if it was already closed.
    mutating func close() -> [Waiter]? {
        guard !isClosed else { return nil }
        isClosed = true
        defer { waiters = [] }
        return waiters.map(\.continuation)
    }

    /// Whether every connection is back; if not, `continuation` is resumed by the last `release`.
    mutating func waitUntilIdle(_ continuation: CheckedContinuation<Void, Never>) -> Bool {
        if idle.count == size { return true }
        closeWaiters.append(continuation)
        return false
    }

    static let closedError = SQLDatabaseOpening.closedError
}
