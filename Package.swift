// swift-tools-version:6.1
import PackageDescription

let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let httpTypes = Target.Dependency.product(name: "HTTPTypes", package: "swift-http-types")
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")

let package = Package(
    name: "api-key-rotator",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rotator", targets: ["rotator"]),
        .executable(name: "mock-upstream", targets: ["mock-upstream"]),
        // For the load tools and benches in Benchmarks/, a package of their own (`swift build --package-path Benchmarks`).
        .library(name: "RotatorCore", targets: ["RotatorCore"]),
        .library(name: "FormatConversion", targets: ["FormatConversion"]),
        .library(name: "MockUpstream", targets: ["MockUpstream"]),
        .library(name: "MockUpstreamClient", targets: ["MockUpstreamClient"]),
        .library(name: "LocalTestServers", targets: ["LocalTestServers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // Values that hold secrets print without them (`SecretRedacting`): the bottom of the graph, below drivers and domain.
        .target(name: "SecretRedaction"),

        // Domain model: configs, keys, masking, constant-time comparison. No I/O.
        .target(name: "RotatorCore", dependencies: ["SecretRedaction"]),

        // Client keys: their model, secrets (keyed hashes), directory, and the quota protocol their limits are enforced through.
        .target(name: "ClientAccess", dependencies: ["RotatorCore", nioCore, .product(name: "Crypto", package: "swift-crypto")]),

        // Per-minute traffic counters and per-key history of the last hour, in bounded ring buffers (admin charts).
        .target(name: "TrafficStats", dependencies: ["RotatorCore"]),

        // SQL: one driver protocol, one C wrapper per database.
        .target(name: "RotatorSQL"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "SQLiteDriver", dependencies: [
            "RotatorSQL", "CSQLite",
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .target(name: "MariaDBDriver", dependencies: [
            "RotatorSQL", "CMariaDB", "SecretRedaction", logging,
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        // Redis: a non-blocking client on a SwiftNIO channel, replies parsed by hiredis' reader.
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .target(name: "RedisClient", dependencies: [
            "CHiredis", "SecretRedaction", logging, nioCore,
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
        ]),

        // Key coordination shared through Redis: one Lua script, local fallback while Redis is away.
        .target(name: "RedisCoordination", dependencies: ["KeyCoordination", "ClientAccess", "RotatorCore", "RedisClient", logging, metrics],
                resources: [.copy("Resources/key_coordinator.lua"), .copy("Resources/login_attempts.lua"), .copy("Resources/client_quota.lua")]),

        // Starts private redis-server / mariadbd instances on free loopback ports (tests, load tests).
        .target(name: "LocalTestServers"),

        // Source of truth for configs and keys, written once over the SQL driver protocol.
        .target(name: "RotatorStore", dependencies: [
            "RotatorCore", "RotatorSQL", "ClientAccess",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // Which key serves the next request: cooldowns, quarantine, pacing, usage counters.
        .target(name: "KeyCoordination", dependencies: ["RotatorCore", nioCore]),

        // The node's in-memory view of configs and keys, and the write path that keeps it fresh.
        .target(name: "ConfigCatalog", dependencies: ["RotatorCore", "ClientAccess", "RotatorStore", "KeyCoordination", logging, metrics]),

        // Client format <-> upstream format: requests, answers, streams, errors, model lists. Pure functions over
        // bytes, no HTTP server: the proxy's relay calls it.
        .target(name: "FormatConversion", dependencies: ["RotatorCore"]),

        // What the proxy knows of each upstream provider beside the bodies: one type per dialect (OpenAI-compatible,
        // Anthropic, Gemini, generic REST) for credentials, key placement, version header, error judging and reset hints,
        // the proxy's own error shapes, key-check paths; the upstream URL builder. Below both relay and admin.
        .target(name: "UpstreamProviders", dependencies: ["RotatorCore", "SecretRedaction", "FormatConversion", nioCore, nioHTTP1]),

        // Request ids and client addresses (trusted proxies, X-Forwarded-For): shared by relay and admin, no HTTP framework.
        .target(name: "RequestIdentity"),

        // HTTP plumbing of the admin side on Hummingbird: request context, JSON errors, the request-id middleware, access log.
        .target(name: "RotatorHTTP", dependencies: ["RotatorCore", "RequestIdentity", hummingbird, logging, httpTypes, nioCore]),

        // The proxy path, on SwiftNIO alone: channel handlers on the client connection's event loop (client auth from the
        // head, key choice, per-loop upstream pools with TLS, retries as a state machine, relay with back-pressure).
        .target(name: "RotatorProxy", dependencies: [
            "RotatorCore", "ClientAccess", "FormatConversion", "UpstreamProviders", "RequestIdentity", "ConfigCatalog", "KeyCoordination", "TrafficStats", logging, nioCore, nioHTTP1, metrics,
            httpTypes,
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            // Its vendored zlib (CNIOExtrasZlib) decodes gzip/deflate answers before they are scrubbed of keys.
            .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
        ]),

        // Admin JSON API: login, JWT, configs, keys, OpenAPI document.
        .target(name: "RotatorAdmin", dependencies: [
            "RotatorCore", "ClientAccess", "RotatorHTTP", "ConfigCatalog", "RotatorStore", "KeyCoordination", "TrafficStats", "UpstreamProviders", hummingbird, logging, httpTypes, nioCore,
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], resources: [.copy("Resources/openapi.json")]),

        // The embedded bilingual (English/Chinese) admin page.
        .target(name: "AdminWebUI", dependencies: ["RotatorHTTP", hummingbird, httpTypes], resources: [.copy("Resources")]),

        // Settings from the environment and the wiring of one node.
        .target(name: "RotatorApp", dependencies: [
            "RotatorCore", "ClientAccess", "RotatorSQL", "SQLiteDriver", "MariaDBDriver", "RotatorStore", "KeyCoordination", "ConfigCatalog",
            "RedisClient", "RedisCoordination", "RequestIdentity", "RotatorHTTP", "RotatorProxy", "RotatorAdmin", "AdminWebUI", "TrafficStats", hummingbird,
            logging, httpTypes, nioCore, .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"), .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            metrics, .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(name: "rotator", dependencies: [
            "RotatorApp", logging, .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // A scriptable fake upstream (OpenAI, Anthropic, Gemini shapes) for tests and load tests.
        .target(name: "MockUpstream", dependencies: [
            hummingbird, logging, httpTypes, nioCore, .product(name: "HummingbirdTLS", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            // Its vendored zlib (CNIOExtrasZlib) gzips error bodies as providers behind CDNs do.
            .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
        ]),
        .executableTarget(name: "mock-upstream", dependencies: ["MockUpstream", hummingbird]),
        // The mock as a separate process, scripted over its /__mock API (cluster tests, load tests).
        .target(name: "MockUpstreamClient", dependencies: [
            "MockUpstream", "LocalTestServers", nioCore, nioHTTP1, .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),


        .testTarget(name: "MockUpstreamTests", dependencies: ["MockUpstream", "FormatConversion", "RotatorCore", hummingbird, .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        .testTarget(name: "RotatorCoreTests", dependencies: ["RotatorCore"]),
        .testTarget(name: "ClientAccessTests", dependencies: ["ClientAccess", "RotatorCore"]),
        .testTarget(name: "FormatConversionTests", dependencies: ["FormatConversion", "RotatorCore"], exclude: ["Golden"]),  // read from the source folder
        .testTarget(name: "TrafficStatsTests", dependencies: ["TrafficStats"]),
        .testTarget(name: "RotatorStoreTests", dependencies: [
            "RotatorStore", "RotatorSQL", "SQLiteDriver", "MariaDBDriver", "LocalTestServers", "RotatorCore", "ClientAccess",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "MariaDBDriverTests", dependencies: ["MariaDBDriver", "RotatorSQL", "LocalTestServers"]),
        .testTarget(name: "RedisClientTests", dependencies: [
            "RedisClient", "LocalTestServers", nioCore, logging, .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "KeyCoordinationTests", dependencies: [
            "KeyCoordination", "ClientAccess", "RedisCoordination", "RedisClient", "LocalTestServers", "RotatorCore", logging, nioCore,
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "RotatorProxyTests", dependencies: [
            "RotatorProxy", "UpstreamProviders", "FormatConversion", "RotatorCore", "RequestIdentity", "ConfigCatalog", "KeyCoordination", logging,
            nioCore, nioHTTP1,
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "ConfigCatalogTests", dependencies: [
            "ConfigCatalog", "ClientAccess", "RotatorStore", "RotatorSQL", "SQLiteDriver", "KeyCoordination", "RotatorCore", logging,
        ]),
        .testTarget(name: "UpstreamProvidersTests", dependencies: ["UpstreamProviders", "FormatConversion", "RotatorCore", nioCore, nioHTTP1]),
        .testTarget(name: "RotatorAdminTests", dependencies: ["RotatorAdmin", "ClientAccess", "UpstreamProviders", "RotatorCore", "RotatorHTTP", "RequestIdentity", "RotatorStore", "TrafficStats", "KeyCoordination", nioHTTP1]),
        .testTarget(name: "AdminWebUITests", dependencies: [
            "AdminWebUI", "RotatorHTTP", hummingbird, httpTypes, .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "ClusterTests", dependencies: [
            "LocalTestServers", "MockUpstream", "MockUpstreamClient", "RedisClient", nioCore, nioHTTP1,
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .testTarget(name: "RotatorAppTests", dependencies: [
            "RotatorApp", "RotatorCore", "ClientAccess", "RedisCoordination", "MockUpstream", .product(name: "NIOSSL", package: "swift-nio-ssl"), "RotatorStore", "SQLiteDriver", "KeyCoordination", hummingbird, logging,
            "RotatorAdmin", "RotatorProxy", "ConfigCatalog", "RedisClient", "MariaDBDriver", "RotatorSQL", "LocalTestServers",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], exclude: ["Python"]),  // the openai SDK script the SDK test runs from its source folder
    ]
)
