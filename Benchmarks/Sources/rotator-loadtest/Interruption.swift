import Dispatch
import Foundation
import Synchronization

/// Ctrl-C or SIGTERM (a `timeout` around the run) stops every process the run started before exiting. The
/// servers run in their own process groups, so a signal to the runner alone would leave them behind.
enum Interruption {
    private static let fleet = Mutex<Fleet?>(nil)
    /// Written only by `install()`, once, on the main thread before any task runs; kept so the sources stay alive.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Call once, before starting anything.
    static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\nrotator-loadtest: interrupted; stopping every process it started\n".utf8))
                let running = fleet.withLock { $0 }
                Task {
                    await running?.stop()
                    exit(128 + number)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The fleet to stop on a signal (nil once it has been stopped).
    static func track(_ running: Fleet?) {
        fleet.withLock { $0 = running }
    }
}
