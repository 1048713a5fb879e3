@testable import RequestIdentity

/// The fuzz tests' randomness, seeded so that a failing sequence can be replayed: a counter through the request ids'
/// bijective mixer.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 1
        return RequestIdentifier.mix(state)
    }
}
