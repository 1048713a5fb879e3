#!/usr/bin/env bash
# CPU time of one in-memory client-quota admit + settle, every limit set (a figure, not a test). The quota's files
# are compiled with -O into a small program, linked against SwiftNIO's objects from the debug build (run
# `swift build` first): the hot path is this module's code and the standard library, none of it in NIOCore.
# The Redis script's cost: QUOTA_COST=1 swift test --skip-build --filter ClientQuotaCostTests/redisScript
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
debug=$(swift build --show-bin-path)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/main.swift" <<'SWIFT'
import Foundation

let every = ClientKeyLimits(
    rpm: 1_000_000, tpm: 1_000_000_000, maxConcurrent: 1000, dailyRequests: 100_000_000, monthlyRequests: 1_000_000_000,
    dailyTokens: 1_000_000_000_000, monthlyTokens: 1_000_000_000_000
)
let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 300_000
for (name, limits) in [("every limit", every), ("rpm only", ClientKeyLimits(rpm: 1_000_000))] {
    let quota = InMemoryClientQuota()
    let leases = (0..<count).map { "req-\($0)" }
    for round in 0..<3 {
        let started = ContinuousClock.now
        for (index, lease) in leases.enumerated() {
            let request = QuotaRequest(clientKey: Int64(index & 3), limits: limits, reservedTokens: 500, lease: lease)
            guard case .admitted(let ticket, _)? = quota.admitImmediately(request) else { fatalError("refused") }
            quota.settle(ticket, usedTokens: 300)
        }
        let elapsed = ContinuousClock.now - started
        let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print("\(name), round \(round): \(String(format: "%.0f", ns / Double(count))) ns per admit + settle")
    }
}
SWIFT
args=()
for map in "$debug"/C*.build/module.modulemap; do args+=(-Xcc "-fmodule-map-file=$map"); done
shims="$root/.build/checkouts/swift-atomics/Sources/_AtomicsShims/include"
args+=(-Xcc "-fmodule-map-file=$shims/module.modulemap" -Xcc "-I$shims")
for include in $(find "$root/.build/checkouts/swift-nio/Sources" -maxdepth 2 -name include); do args+=(-Xcc "-I$include"); done
while IFS= read -r -d '' object; do args+=("$object"); done < <(find "$debug"/{NIOCore,_NIODataStructures,_NIOBase64,NIOConcurrencyHelpers,Atomics,DequeModule,InternalCollectionsUtilities,ContainersPreview,CNIOAtomics,CNIOLinux,CNIODarwin,CNIOPosix,CNIOWindows,_AtomicsShims}.build -name '*.o' -print0 2>/dev/null)
sources="$root/Sources/ClientAccess"
swiftc -O -wmo -suppress-warnings "$work/main.swift" "$sources/ClientQuota.swift" "$sources/ClientKeyLimits.swift" "$sources/QuotaCalendar.swift" \
    "$sources/InMemoryClientQuota.swift" "$root/Sources/RotatorCore/CivilDate.swift" -I "$debug/Modules" "${args[@]}" -o "$work/client-quota-bench"
"$work/client-quota-bench" "$@"
