import KeyCoordination
import Synchronization

/// A clock tests move by hand.
final class ManualClock: CoordinatorClock {
    private let current: Mutex<Double>

    init(_ start: Double = 1_000_000) {
        current = Mutex(start)
    }

    func now() -> Double { current.withLock { $0 } }

    func advance(by seconds: Double) {
        current.withLock { $0 += seconds }
    }
}
