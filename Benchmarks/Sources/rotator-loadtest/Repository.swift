import Foundation

/// The repository this runner was built from (Benchmarks/Sources/rotator-loadtest/ is three folders below it): where
/// the nginx templates, the charts script and the load-test virtualenv are.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // rotator-loadtest
        .deletingLastPathComponent()  // Sources
        .deletingLastPathComponent()  // Benchmarks
        .deletingLastPathComponent()
}
