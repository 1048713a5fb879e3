#!/usr/bin/env bash
# The usage tap's cost per whole answer and per stream event: the tap and the JSON parser compiled with -O beside a
# small driver (Benchmarks/usage-tap/main.swift), no build of the whole package needed.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/usage-tap-bench"
swiftc -O -wmo -D USAGE_TAP_BENCH -module-name UsageTapBench -o "$out" \
    Sources/RotatorProxy/Answers/UsageTap.swift Sources/FormatConversion/Model/TokenUsage.swift \
    Sources/FormatConversion/JSON/JSONParser.swift Sources/FormatConversion/JSON/JSONValue.swift Sources/FormatConversion/JSON/JSONObject.swift \
    Benchmarks/usage-tap/main.swift 2>&1 | grep -v warning || true
"$out"
