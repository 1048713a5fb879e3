// swift-tools-version:6.1
import PackageDescription

// The load tools and benches, in a package of their own (as SwiftNIO keeps its benchmarks): the product's package
// builds only the rotator and what its tests need; this one adds the load driver (HDR histograms), the scenario
// runner, the bare SwiftNIO relay (the load test's Swift baseline) and the format-conversion bench.
//   swift build --package-path Benchmarks -c release --product rotator-loadtest
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let httpClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let rotator = { (name: String) in Target.Dependency.product(name: name, package: "api-key-rotator") }

let package = Package(
    name: "api-key-rotator-benchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rotator-load", targets: ["rotator-load"]),
        .executable(name: "rotator-loadtest", targets: ["rotator-loadtest"]),
        .executable(name: "bare-relay", targets: ["bare-relay"]),
        .executable(name: "format-conversion-bench", targets: ["format-conversion-bench"]),
    ],
    dependencies: [
        .package(name: "api-key-rotator", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // A driver: closed and open loops, HDR histograms.
        .target(name: "LoadDriver", dependencies: [
            nioCore, nioHTTP1, nioPosix, httpClient, .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        .executableTarget(name: "rotator-load", dependencies: ["LoadDriver"]),
        // The load test's Swift baseline: a minimal SwiftNIO relay with no rotator logic.
        .executableTarget(name: "bare-relay", dependencies: [nioCore, nioHTTP1, nioPosix]),
        // The scenarios against release builds of the rotator and the mock (built by the product's package).
        .executableTarget(name: "rotator-loadtest", dependencies: [
            "LoadDriver", rotator("LocalTestServers"), rotator("MockUpstream"), rotator("MockUpstreamClient"), nioCore, nioHTTP1, httpClient,
        ]),
        .executableTarget(name: "format-conversion-bench", dependencies: [rotator("FormatConversion"), rotator("RotatorCore")]),
        .testTarget(name: "LoadDriverTests", dependencies: [
            "LoadDriver", rotator("MockUpstream"), .product(name: "Hummingbird", package: "hummingbird"),
        ]),
    ]
)
