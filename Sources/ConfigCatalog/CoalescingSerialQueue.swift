import Synchronization

/// Runs async jobs one after another, in the order they were submitted, so a slow, older load can never
/// overwrite a newer one. A job submitted under a key that is already waiting (queued, not started) joins
/// that job instead of queueing another: ten messages about one config while a reload is queued cost one
/// reload. A job that has started is not joined, since it may have read the store before the new change.
///
/// `close()` refuses new jobs and waits for the queued ones, so none outlives the store it uses.
final class CoalescingSerialQueue<Key: Hashable & Sendable>: Sendable {
    private struct State {
        var tail: Task<Void, Never>?
        var waiting: [Key: Task<Void, any Error>] = [:]
        var isClosed = false
        /// Calls of `run`, and how many of them joined a waiting job (for tests).
        var submitted = 0
        var joined = 0
    }

    private let state = Mutex(State())

    /// - Throws: the job's error (shared by every caller that joined it), or `CancellationError` once closed.
    func run(coalescing key: Key?, _ job: @escaping @Sendable () async throws -> Void) async throws {
        let task: Task<Void, any Error> = try state.withLock { state in
            guard !state.isClosed else { throw CancellationError() }
            state.submitted += 1
            if let key, let waiting = state.waiting[key] {
                state.joined += 1
                return waiting
            }
            let previous = state.tail
            let task = Task {
                await previous?.value
                if let key { self.started(key) }
                try await job()
            }
            if let key { state.waiting[key] = task }
            state.tail = Task { _ = try? await task.value }
            return task
        }
        try await task.value
    }

    /// Refuses new jobs, then returns once every job already submitted has finished.
    func close() async {
        let tail = state.withLock { state -> Task<Void, Never>? in
            state.isClosed = true
            return state.tail
        }
        await tail?.value
    }

    var statistics: (submitted: Int, joined: Int) {
        state.withLock { ($0.submitted, $0.joined) }
    }

    private func started(_ key: Key) {
        _ = state.withLock { $0.waiting.removeValue(forKey: key) }
    }
}
