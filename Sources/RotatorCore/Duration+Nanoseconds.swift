extension Duration {
    /// Whole nanoseconds, the unit swift-metrics timers record.
    public var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
