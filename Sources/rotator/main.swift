import Foundation
import Logging
import RotatorApp
import ServiceLifecycle

let settings: Settings
do {
    settings = try Settings.fromEnvironment()
} catch {
    FileHandle.standardError.write(Data("configuration error: \(error)\n".utf8))
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
