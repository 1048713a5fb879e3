import Foundation
import Logging
import RotatorApp
import ServiceLifecycle

// `rotator healthcheck` (a container's HEALTHCHECK): exit 0 when this machine's node answers GET /healthz with 200,
// else 1. Docker reserves exit code 2, so a configuration error is plain "unhealthy" here.
let healthcheck = CommandLine.arguments.dropFirst().first == "healthcheck"

let settings: Settings
do {
    settings = try Settings.fromEnvironment()
} catch {
    FileHandle.standardError.write(Data("configuration error: \(error)\n".utf8))
    exit(healthcheck ? 1 : 2)
}
if healthcheck {
    let probe = HealthProbe(settings: settings)
    let healthy = await probe.isHealthy()
    if !healthy { FileHandle.standardError.write(Data("unhealthy: no 200 from \(probe.url)\n".utf8)) }
    exit(healthy ? 0 : 1)
}
if let argument = CommandLine.arguments.dropFirst().first {
    FileHandle.standardError.write(Data("unknown argument '\(argument)': run `rotator` (configured by environment variables) or `rotator healthcheck`\n".utf8))
    exit(2)
}
LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: settings.logLevel) }
let logger = Logger(label: "rotator")
do {
    let node = try await RotatorNode.make(settings: settings, logger: logger)
    try await node.run()
} catch let error as SettingsError {
    FileHandle.standardError.write(Data("configuration error: \(error)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("rotator stopped: \(error)\n".utf8))
    exit(1)
}
