/// Added latency per minute as counts in fixed buckets (upper bounds 50 µs · √2ⁱ, the last one open), so medians
/// can be summed over nodes: a median of medians would not be one.
public enum LatencyHistogram {
    public static let bucketCount = 24

    /// Upper bound of each bucket in nanoseconds; the last bucket has none.
    public static let upperBounds: [Int64] = (0..<(bucketCount - 1)).map { index in
        Int64((50_000.0 * Double(1 << (index / 2)) * (index % 2 == 0 ? 1 : 2.0.squareRoot())).rounded())
    }

    /// The bucket a duration falls in: a walk over 23 bounds, no allocation.
    public static func bucket(nanoseconds: Int64) -> Int {
        var index = 0
        while index < upperBounds.count, nanoseconds > upperBounds[index] { index += 1 }
        return index
    }

    /// The median in milliseconds, interpolated inside the bucket that holds it; nil without samples.
    public static func medianMilliseconds(_ counts: some Collection<UInt32>) -> Double? {
        let total = counts.reduce(UInt64(0)) { $0 + UInt64($1) }
        guard total > 0 else { return nil }
        let half = Double(total) / 2
        var seen = 0.0
        for (index, count) in counts.enumerated() where count > 0 {
            if seen + Double(count) >= half {
                let lower = index == 0 ? 0 : Double(upperBounds[index - 1])
                let upper = index < upperBounds.count ? Double(upperBounds[index]) : lower * 2
                let fraction = (half - seen) / Double(count)
                return (lower + (upper - lower) * fraction) / 1_000_000
            }
            seen += Double(count)
        }
        return nil
    }
}
