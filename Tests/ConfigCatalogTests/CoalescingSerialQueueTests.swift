@testable import ConfigCatalog
import Synchronization
import Testing

@Suite struct CoalescingSerialQueueTests {
    /// A gate the first job waits at, opened by the test.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
        func wait() async {
            await withCheckedContinuation { continuation in
                let resume = state.withLock { state -> Bool in
                    if state.open { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if resume { continuation.resume() }
            }
        }
        func open() {
            let waiters = state.withLock { state in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    final class RunLog: Sendable {
        private let entries = Mutex<[String]>([])
        func append(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    /// Ten requests for one key while a job runs become one job; a job that has started is not joined, and
    /// jobs run in the order they were submitted.
    @Test func requestsWaitingForOneKeyShareOneJob() async throws {
        let queue = CoalescingSerialQueue<Int>()
        let gate = Gate()
        let runs = RunLog()
        let first = Task {
            try await queue.run(coalescing: 1) {
                runs.append("first")
                await gate.wait()
            }
        }
        while runs.all.isEmpty { await Task.yield() }  // the first job has started
        let waiting = (0..<10).map { _ in
            Task { try await queue.run(coalescing: 1) { runs.append("second") } }
        }
        let other = Task { try await queue.run(coalescing: 2) { runs.append("other") } }
        while queue.statistics.submitted < 12 { await Task.yield() }
        gate.open()
        try await first.value
        for task in waiting { try await task.value }
        try await other.value
        #expect(queue.statistics.joined == 9)
        let order = runs.all
        #expect(order.first == "first")
        #expect(order.filter { $0 == "second" }.count == 1)
        #expect(Set(order) == ["first", "second", "other"] && order.count == 3)
    }

    final class Counter: Sendable {
        private let count = Atomic<Int>(0)
        func increment() { count.add(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    @Test func closeWaitsForQueuedJobsAndRefusesNewOnes() async throws {
        let queue = CoalescingSerialQueue<Int>()
        let done = Counter()
        let tasks = (0..<5).map { index in
            Task { try await queue.run(coalescing: index) { try await Task.sleep(for: .milliseconds(10)); done.increment() } }
        }
        while queue.statistics.submitted < 5 { await Task.yield() }
        await queue.close()
        #expect(done.value == 5)
        await #expect(throws: CancellationError.self) { try await queue.run(coalescing: 9) {} }
        for task in tasks { try await task.value }
    }
}
