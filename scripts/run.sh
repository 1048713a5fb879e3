#!/usr/bin/env bash
# Installs what is missing, builds a release binary and runs one node on the embedded default
# (SQLite file + in-memory key state, port 8000). Environment variables configure it (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh run
swift build -c release --product rotator
exec .build/release/rotator
