import Foundation

/// What to run and how long; parsed from the command line, every mistake named.
struct RunnerOptions {
    enum Mode: String {
        /// About two minutes: every scenario, short windows.
        case quick
        /// Longer windows, and the 10-minute soak.
        case full
        /// CI: every scenario with one-second windows, to prove they run and write their tables.
        case smoke
    }

    var mode = Mode.quick
    /// Seconds measured per load run (scenarios scale from it); nil takes the mode's default.
    var duration: Double?
    /// Where `rotator`, `mock-upstream` live (a SwiftPM build folder).
    var binaries = ".build/release"
    /// Where `bare-relay` is: the Benchmarks package's build folder, beside this runner (`--bench-bin` for another).
    var benchmarkBinaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
    /// A folder holding another build's `rotator` (say, a release build of `main`): scenario 1 measures a default node
    /// of it beside the default node of `binaries`, in the same run.
    var baselineBinaries: String?
    var output = "loadtest/results"
    var scenarios = RunnerOptions.allScenarios
    static let allScenarios = Set(1...10)
    /// nginx binary.
    var nginx = "/usr/sbin/nginx"
    /// Python with matplotlib, for the charts (none: the report has no charts and says so).
    var python: String?

    static let usage = """
        usage: rotator-loadtest [--quick | --full | --smoke] [--duration S] [--scenarios 1,2,...] [--bin DIR]
                                [--out DIR] [--nginx PATH] [--python PATH] [--baseline-bin DIR] [--bench-bin DIR]

          --quick        every scenario with short windows, about 2 minutes (default)
          --full         longer windows and the 10-minute soak (scenario 8)
          --smoke        one-second windows: proves every scenario runs and writes its table (CI)
          --duration S   seconds per measured load run (default: quick 3, full 20, smoke 1)
          --scenarios    which scenarios to run (1 overhead, 2 quota, 3 revoked keys, 4 streaming, 5 chaos,
                         6 429 storm, 7 big pools, 8 soak, 9 format conversion, 10 tenants)
          --bin DIR      folder holding the rotator and mock-upstream binaries (default .build/release)
          --bench-bin DIR  folder holding bare-relay (default: this runner's own folder, Benchmarks/.build/...)
          --out DIR      results go to DIR/<date>/ (default loadtest/results)
          --python PATH  a python3 with matplotlib, for the PNG charts
          --baseline-bin DIR  another build's rotator (e.g. main's): scenario 1 measures a default node of it beside
                         this build's, for the same small answers and for 200 KB answers of a generic config
        """

    init(arguments: [String]) throws {
        var remaining = arguments[...]
        while let flag = remaining.popFirst() {
            switch flag {
            case "--quick": mode = .quick
            case "--full": mode = .full
            case "--smoke": mode = .smoke
            case "--help", "-h":
                say(Self.usage)
                exit(0)
            default:
                guard let value = remaining.popFirst() else { throw RunnerError("\(flag) needs a value") }
                switch flag {
                case "--duration":
                    guard let seconds = Double(value), seconds > 0 else { throw RunnerError("--duration wants positive seconds, got '\(value)'") }
                    duration = seconds
                case "--scenarios":
                    let numbers = value.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                    guard !numbers.isEmpty, numbers.allSatisfy({ $0.map { Self.allScenarios.contains($0) } ?? false }) else {
                        throw RunnerError("--scenarios wants numbers from 1 to \(Self.allScenarios.max()!), e.g. 1,2,5; got '\(value)'")
                    }
                    scenarios = Set(numbers.compactMap { $0 })
                case "--bin": binaries = value
                case "--bench-bin": benchmarkBinaries = value
                case "--baseline-bin": baselineBinaries = value
                case "--out": output = value
                case "--nginx": nginx = value
                case "--python": python = value
                default: throw RunnerError("unknown flag \(flag)")
                }
            }
        }
    }

    /// Seconds of one measured run.
    var window: Double {
        duration ?? [.quick: 3, .full: 20, .smoke: 1][mode]!
    }

    /// Seconds of warm-up before each measured run.
    var warmup: Double {
        mode == .smoke ? 0.3 : 1
    }
}

struct RunnerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
