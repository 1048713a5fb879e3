import Foundation
import Hummingbird
import ServiceLifecycle

extension RotatorNode {
    /// Serves until SIGTERM/SIGINT, then drains in-flight requests (streams included) for up to
    /// `SHUTDOWN_GRACE_SECONDS` before cancelling what is left.
    public func run() async throws {
        let settings = self.settings
        let secrets = self.secrets
        let app = await application { _ in
            Self.printBanner(settings: settings, secrets: secrets)
        }
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(settings.shutdownGraceSeconds * 1000))
        try await ServiceGroup(configuration: configuration).run()
    }

    /// Printed to stdout once the port is open: where to go, and any secret generated just now.
    static func printBanner(settings: Settings, secrets: NodeSecrets) {
        var lines = [
            "",
            "API Key Rotator listening on \(settings.host):\(settings.port)",
            "  admin page:  \(settings.publicBaseURL)/  (user '\(settings.adminUsername)')",
            "  admin API:   \(settings.publicBaseURL)/admin  (OpenAPI: /admin/openapi.json)",
            "  proxy:       \(settings.publicBaseURL)/llm/<slug>/...  and  \(settings.publicBaseURL)/proxy/<slug>/...",
            "  data:        \(settings.databasePath)",
        ]
        if !secrets.announcements.isEmpty {
            lines.append("  generated on this start (shown once):")
            lines += secrets.announcements.map { "    " + $0 }
        }
        lines.append("")
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
