#!/usr/bin/env bash
# CPU time of format conversion per ~1 KB request + answer pair (release build). A figure, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
nice -n 10 swift build -c release --product format-conversion-bench
.build/release/format-conversion-bench "$@"
