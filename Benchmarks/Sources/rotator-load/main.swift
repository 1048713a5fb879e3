// The load driver on its own: one plan, a live progress line on stderr, the result as JSON.
import Foundation
import LoadDriver

let usage = """
    usage: rotator-load --url URL [--mode closed|open] [--connections 16] [--rate R] [--duration 10] [--warmup 1]
                        [--method POST] [--header 'Name: value']... [--body JSON | --body-file FILE] [--stream]
                        [--timeout 30] [--label NAME] [--json FILE] [--quiet]

      --mode closed     N connections, each sending its next request when the previous one answered (max throughput)
      --mode open       --rate requests per second on a fixed schedule; latency counts from the intended start, and a
                        request due while --connections are in flight is counted as dropped
      --stream          read answers chunk by chunk: time to first byte and chunk gaps
      --json FILE       write the result as JSON ('-' for stdout, the summary then goes to stderr)
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("rotator-load: \(message)\n\n\(usage)\n".utf8))
    exit(2)
}

var plan = LoadPlan(label: "run", url: "")
var jsonPath: String?
var quiet = false
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    if flag == "--help" || flag == "-h" {
        print(usage)
        exit(0)
    }
    if flag == "--stream" { plan.stream = true; continue }
    if flag == "--quiet" { quiet = true; continue }
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
    func number() -> Double {
        guard let number = Double(value), number.isFinite else { fail("\(flag) wants a number, got '\(value)'") }
        return number
    }
    switch flag {
    case "--url": plan.url = value
    case "--label": plan.label = value
    case "--mode":
        guard let mode = LoadPlan.Mode(rawValue: value) else { fail("--mode is closed or open, got '\(value)'") }
        plan.mode = mode
    case "--connections": plan.connections = Int(number())
    case "--rate": plan.rate = number()
    case "--duration": plan.duration = number()
    case "--warmup": plan.warmup = number()
    case "--timeout": plan.timeout = number()
    case "--method": plan.method = value
    case "--header":
        guard let colon = value.firstIndex(of: ":") else { fail("--header wants 'Name: value', got '\(value)'") }
        plan.headers.append([String(value[..<colon]).trimmingCharacters(in: .whitespaces),
                             String(value[value.index(after: colon)...]).trimmingCharacters(in: .whitespaces)])
    case "--body": plan.body = value
    case "--body-file":
        guard let text = try? String(contentsOfFile: value, encoding: .utf8) else { fail("cannot read --body-file \(value)") }
        plan.body = text
    case "--json": jsonPath = value
    default: fail("unknown flag \(flag)")
    }
}
if plan.url.isEmpty { fail("--url is required") }
if let problem = plan.problem { fail(problem) }

let finalPlan = plan
let showProgress = !quiet
let result = try await LoadGenerator(plan: finalPlan).run { elapsed, recorder in
    guard showProgress else { return }
    ProgressLine.show(ProgressLine.render(plan: finalPlan, elapsed: elapsed, recorder: recorder), elapsed: elapsed)
}
if showProgress { ProgressLine.clear() }
if jsonPath == "-" {
    // Standard output carries only the JSON, so it can be piped into a parser.
    FileHandle.standardError.write(Data((ResultSummary.text(result) + "\n").utf8))
} else {
    print(ResultSummary.text(result))
}
if let jsonPath {
    let data = try ResultJSON.encode(result)
    if jsonPath == "-" {
        FileHandle.standardOutput.write(data)
        print()
    } else {
        try data.write(to: URL(fileURLWithPath: jsonPath))
    }
}
