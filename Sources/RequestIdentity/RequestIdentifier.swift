import Synchronization

/// Request ids in the UUID v4 text form, made without Foundation's `UUID()` (which on Linux opens /dev/urandom on
/// every call) and without a system call per request: a process-wide counter run through a bijective mixer keyed by
/// a random seed drawn once. Ids never repeat within a process (the mixer is a bijection of the counter) and are
/// unrelated across processes (the seeds differ); they correlate log lines, they are not secrets.
public enum RequestIdentifier {
    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let seed: (high: UInt64, low: UInt64) = {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }()
    private static let counter = Atomic<UInt64>(0)

    public static func make() -> String {
        let count = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        return text(high: mix(count ^ seed.high), low: mix(count &+ seed.low))
    }

    /// SplitMix64's finaliser: a bijection on 64 bits that spreads every input bit over the output.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx` with the version and RFC 4122 variant bits set.
    static func text(high: UInt64, low: UInt64) -> String {
        let versioned = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let variant = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var position = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    buffer[position] = UInt8(ascii: "-")
                    position += 1
                }
                let word = index < 8 ? versioned : variant
                let byte = UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(index % 8)))
                buffer[position] = hexDigits[Int(byte >> 4)]
                buffer[position + 1] = hexDigits[Int(byte & 0x0F)]
                position += 2
            }
            return position
        }
    }
}
