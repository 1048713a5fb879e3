import Synchronization

/// Wrong (or missing) proxy keys per client address, node-wide and lock-free: after `limit` of them from one address
/// within `window` seconds, that address gets 429 without its key being checked until the window ends.
///
/// The counts live in a fixed table of atomic words (`WrongKeyWindow`), each address counted in two slots picked by
/// two per-process random hashes; an address is refused only when both of its slots are over the limit (a
/// count-min sketch), so an innocent address is refused only if both its slots collide with busy guessers'. Memory
/// is fixed (2 × 4096 words) whatever the number of addresses. A request with a right key from an address that is
/// not refused pays one relaxed atomic load: `armedUntil` says whether any address is refused at all, and the
/// table is read only then. The state is this node's own: a guesser spread over N nodes gets N × `limit` tries
/// per window.
public final class WrongKeyThrottle: @unchecked Sendable {
    // @unchecked: `slots` is a fixed allocation made in init and freed in deinit; between them it is only read and
    // written through `Atomic` operations.
    public let limit: UInt32
    public let window: UInt32
    private let slots: UnsafeMutablePointer<Atomic<UInt64>>
    private let slotCount: Int
    /// Clock second until which some address may be refused; before it nothing needs a look at the table.
    private let armedUntil = Atomic<UInt32>(0)
    private let clock: @Sendable () -> UInt32
    private let seeds: (Int, Int)

    /// - Parameters:
    ///   - limit: wrong keys one address may send per window (0: never refused).
    ///   - clock: whole seconds, monotonic (tests move their own).
    public init(limit: Int, windowSeconds: Int = 60, slotCount: Int = 4096, clock: (@Sendable () -> UInt32)? = nil) {
        self.limit = UInt32(clamping: limit)
        self.window = UInt32(clamping: max(windowSeconds, 1))
        self.slotCount = max(slotCount, 2)
        self.slots = .allocate(capacity: 2 * self.slotCount)
        for index in 0..<(2 * self.slotCount) { (slots + index).initialize(to: Atomic(0)) }
        let start = ContinuousClock.now
        // The clock starts at 1 so that the zero word means "nothing counted".
        self.clock = clock ?? { UInt32(clamping: (ContinuousClock.now - start).components.seconds + 1) }
        self.seeds = (Int.random(in: .min ... .max), Int.random(in: .min ... .max))
    }

    deinit {
        _ = (slots).deinitialize(count: 2 * slotCount)
        slots.deallocate()
    }

    /// Seconds until `address` is heard again, or nil: checked before the key (the right key included).
    public func retryAfter(address: @autoclosure () -> String) -> UInt32? {
        guard limit > 0 else { return nil }
        let now = clock()
        guard now < armedUntil.load(ordering: .relaxed) else { return nil }
        let (first, second) = indices(address())
        let waits = [first, second].map { WrongKeyWindow(packed: slots[$0].load(ordering: .relaxed)).retryAfter(now: now, limit: limit, window: window) }
        guard let one = waits[0], let other = waits[1] else { return nil }
        return min(one, other)
    }

    /// Counts one wrong or missing key from `address`.
    public func recordWrongKey(address: String) {
        guard limit > 0 else { return }
        let now = clock()
        let (first, second) = indices(address)
        for index in [first, second] {
            var current = slots[index].load(ordering: .relaxed)
            while true {
                let next = WrongKeyWindow(packed: current).counting(now: now, window: window)
                let (exchanged, original) = slots[index].compareExchange(expected: current, desired: next.packed, ordering: .relaxed)
                if exchanged {
                    if next.count >= limit { _ = armedUntil.max(next.start &+ window, ordering: .relaxed) }
                    break
                }
                current = original
            }
        }
    }

    private func indices(_ address: String) -> (Int, Int) {
        var first = Hasher()
        first.combine(seeds.0)
        first.combine(address)
        var second = Hasher()
        second.combine(seeds.1)
        second.combine(address)
        let count = UInt(slotCount)
        return (Int(UInt(bitPattern: first.finalize()) % count), slotCount + Int(UInt(bitPattern: second.finalize()) % count))
    }
}
