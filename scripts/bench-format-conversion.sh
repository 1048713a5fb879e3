#!/usr/bin/env bash
# CPU time of format conversion per ~1 KB request + answer pair (release build). A figure, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
# The bench lives in the Benchmarks package (its own build folder, Benchmarks/.build).
nice -n 10 swift build --package-path Benchmarks -c release --product format-conversion-bench
"$(swift build --package-path Benchmarks -c release --show-bin-path)/format-conversion-bench" "$@"
