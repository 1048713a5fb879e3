import NIOCore

/// Commands waiting for replies, oldest first, each with a deadline; and when the connection's single timer
/// has to fire. No I/O: `RedisCommandHandler` drives it, tests drive it with plain values.
///
/// One timer per connection rather than one per command: cancelling thousands of scheduled tasks costs more
/// than an occasional scan. The timer is not cancelled when replies arrive; when it fires, the queue says
/// whether something expired or when to look again.
struct PendingCommandQueue<Waiter> {
    private struct Entry {
        let waiter: Waiter
        let deadline: NIODeadline
    }

    enum TimerOutcome {
        /// Nothing pending: no timer needed.
        case idle
        /// Nothing expired yet: fire again at this deadline.
        case rearm(NIODeadline)
        /// Something waited past its deadline. Replies are matched by position, so once one is given up
        /// the rest cannot be trusted either: the queue is emptied and the connection must close.
        case expired(timedOut: [Waiter], abandoned: [Waiter])
    }

    private var entries = CircularBuffer<Entry>(initialCapacity: 64)
    /// When the armed timer fires, nil if none is armed.
    private(set) var armedDeadline: NIODeadline?

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Adds a command; returns a deadline when the timer must be (re)armed for it.
    mutating func append(_ waiter: Waiter, deadline: NIODeadline) -> NIODeadline? {
        entries.append(Entry(waiter: waiter, deadline: deadline))
        if let armedDeadline, armedDeadline <= deadline { return nil }
        armedDeadline = deadline
        return deadline
    }

    /// The waiter of the oldest command, which the next reply belongs to.
    mutating func popFirst() -> Waiter? {
        entries.popFirst()?.waiter
    }

    mutating func timerFired(now: NIODeadline) -> TimerOutcome {
        armedDeadline = nil
        guard !entries.isEmpty else { return .idle }
        var earliest = NIODeadline.distantFuture
        for entry in entries { earliest = min(earliest, entry.deadline) }
        guard earliest <= now else {
            armedDeadline = earliest
            return .rearm(earliest)
        }
        var timedOut: [Waiter] = []
        var abandoned: [Waiter] = []
        for entry in entries {
            if entry.deadline <= now { timedOut.append(entry.waiter) } else { abandoned.append(entry.waiter) }
        }
        entries.removeAll()
        return .expired(timedOut: timedOut, abandoned: abandoned)
    }

    /// Empties the queue (the connection is gone); the timer is no longer needed.
    mutating func removeAll() -> [Waiter] {
        armedDeadline = nil
        let waiters = entries.map(\.waiter)
        entries.removeAll()
        return waiters
    }
}
