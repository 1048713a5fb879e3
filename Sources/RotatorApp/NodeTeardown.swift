import Logging
import ServiceLifecycle

/// Closes what the node's other services use, in dependency order, once they have all stopped. Registered
/// first among the application's services, so the service group (which stops services in reverse order,
/// each after the previous one returned) reaches it last: after the server has drained and every loop has
/// ended, and before anything it closes could be needed again.
struct NodeTeardown: Service {
    struct Step: Sendable {
        let name: String
        let run: @Sendable () async throws -> Void

        init(_ name: String, _ run: @escaping @Sendable () async throws -> Void) {
            self.name = name
            self.run = run
        }
    }

    let logger: Logger
    let steps: [Step]

    func run() async throws {
        // Returns at graceful shutdown, or throws when the group is cancelled: tear down either way.
        try? await gracefulShutdown()
        let steps = self.steps
        let logger = self.logger
        // Its own task, awaited here: cancellation of the group (grace period over) must not abort the last
        // usage flush halfway, and nothing of it outlives this call.
        await Task {
            for step in steps {
                do {
                    try await step.run()
                } catch {
                    logger.warning("shutdown step failed", metadata: ["step": .string(step.name), "error": "\(error)"])
                }
            }
        }.value
    }
}
