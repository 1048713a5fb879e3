// Runs the load-test scenarios against a fleet started on 127.0.0.1 and writes a report a person can read.
import Foundation
import LoadDriver

let options: RunnerOptions
do {
    options = try RunnerOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("rotator-loadtest: \(error)\n\n\(RunnerOptions.usage)\n".utf8))
    exit(2)
}

let stamp = { () -> String in
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd-HHmm"
    return formatter.string(from: Date())
}()
let resultsDirectory = "\(options.output)/\(stamp)"
let workDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-loadtest-\(stamp)-\(getpid())").path
try FileManager.default.createDirectory(atPath: resultsDirectory, withIntermediateDirectories: true)
try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)

let scenarios: [(number: Int, name: String, run: @Sendable (ScenarioContext) async throws -> ScenarioReport)] = [
    (1, "overhead", OverheadScenario.run), (2, "quota", QuotaScenario.run), (3, "revoked keys", RevokedKeysScenario.run),
    (4, "streaming", StreamingScenario.run), (5, "chaos", ChaosScenario.run), (6, "429 storm", StormScenario.run),
    (7, "big pools", BigPoolScenario.run), (8, "soak", SoakScenario.run), (9, "format conversion", ConversionScenario.run),
    (10, "tenants", TenantsScenario.run),
]
let selected = scenarios.filter { scenario in
    // The soak runs in full mode, or when asked for by number.
    options.scenarios.contains(scenario.number) && (scenario.number != 8 || options.mode == .full || options.scenarios != RunnerOptions.allScenarios)
}

say("rotator-loadtest: \(options.mode.rawValue) mode, \(options.window) s windows, scenarios \(selected.map(\.number)); "
    + "processes and logs in \(workDirectory)")
let runStarted = Date()
Interruption.install()
let fleet: Fleet
do {
    fleet = try await Fleet.start(options: options, directory: workDirectory) { say($0) }
} catch {
    FileHandle.standardError.write(Data("rotator-loadtest: could not start the fleet: \(error)\n".utf8))
    exit(1)
}
Interruption.track(fleet)
let context = ScenarioContext(fleet: fleet, options: options)
var reports: [ScenarioReport] = []
var failures: [String] = []
for scenario in selected {
    say("\n== \(scenario.number). \(scenario.name)")
    do {
        let report = try await scenario.run(context)
        if report.tables.isEmpty { failures.append("scenario \(scenario.number) produced no table") }
        reports.append(report)
    } catch {
        failures.append("scenario \(scenario.number) (\(scenario.name)) failed: \(error)")
        reports.append(ScenarioReport(number: scenario.number, title: scenario.name, setup: "**Did not complete:** \(error)"))
        say("scenario \(scenario.number) failed: \(error)")
        await fleet.repair()
    }
}
Interruption.track(nil)
await fleet.stop()
try? await HTTP.shared.client.shutdown().get()

let writer = ReportWriter(directory: resultsDirectory, options: options, started: runStarted, reports: reports, results: context.results,
                          failures: failures)
let chartsDrawn = writer.drawCharts()
try writer.write(chartsDrawn: chartsDrawn)
say("\nreport: \(resultsDirectory)/report.md")
if !failures.isEmpty {
    for failure in failures { FileHandle.standardError.write(Data("rotator-loadtest: \(failure)\n".utf8)) }
    exit(1)
}
try? FileManager.default.removeItem(atPath: workDirectory)
