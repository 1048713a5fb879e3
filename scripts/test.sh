#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests against real servers started on loopback,
# the official openai Python SDK against a live node, and the deploy checks.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test

# The openai, anthropic and google-genai packages (SDK tests), schemathesis (admin API check), selenium (browser
# test) and the deploy checks' tools (pinned in scripts/deploy_checks/requirements.txt, pytest among them) live in a
# private virtualenv, never in the system Python.
venv=.build/test-venv
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import openai, anthropic, google.genai, schemathesis, selenium" 2>/dev/null; then
  echo "preparing $venv with the openai, anthropic, google-genai, schemathesis and selenium packages"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check openai anthropic google-genai schemathesis==4.32.5 selenium
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/deploy_checks/requirements.txt
export ROTATOR_TEST_PYTHON="$PWD/$venv/bin/python"

echo "building tests"
swift build --build-tests

# The deploy files are written, not run (no Docker engine or cluster here): the real tools check them offline.
# `rotator healthcheck` and the shared libraries are checked on a binary built with the image's own command, in a
# build folder of its own: SwiftPM does not recompile when --static-swift-stdlib is toggled, and objects compiled
# without it fail to link statically. About 8 minutes of CI's 90, the step of the image build that can run here.
# Skipped when a filter picks particular tests.
if [ $# -eq 0 ]; then
  echo "deploy checks: release build with --static-swift-stdlib, as in the Dockerfiles"
  swift build -c release --product rotator --static-swift-stdlib --scratch-path .build/static
  static_rotator="$PWD/.build/static/release/rotator"
  ROTATOR_BINARY="$static_rotator" ROTATOR_STATIC_BINARY="$static_rotator" \
    "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs scripts/deploy_checks
fi
echo "running tests"
# A crashed test process must not hang the run in the backtracer.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=yes,interactive=no,timeout=10s}"
timeout 1800 swift test --skip-build "$@"

# The admin API against its own OpenAPI document: schemathesis, every check, on a real node (a temp SQLite
# file). Skipped when a filter picks particular tests.
if [ $# -eq 0 ]; then
  echo "admin API contract check (schemathesis)"
  SCHEMATHESIS="$venv/bin/schemathesis" scripts/check-admin-api.sh .build/debug/rotator
fi

# The admin page in headless Chromium against a real rotator and mock-upstream (built above). Skipped only when a
# filter picks particular tests.
if [ $# -eq 0 ]; then
  echo "browser test of the admin page"
  timeout 600 scripts/test-browser.sh
fi

# The load-test suite in smoke mode (one-second windows on the debug build): every scenario must run and write
# its table. Skipped when a filter picks particular tests.
if [ $# -eq 0 ]; then
  # The load driver's own tests live with it in the Benchmarks package.
  echo "load driver tests (Benchmarks package)"
  timeout 1800 swift test --package-path Benchmarks
  echo "load-test smoke run"
  smoke=.build/loadtest-smoke
  rm -rf "$smoke"
  timeout 900 loadtest/run --smoke --out "$smoke"
  report=$(ls -d "$smoke"/*/report.md | tail -1)
  for scenario in 1 2 3 4 5 6 7 9 10; do
    grep -q "^## $scenario\. " "$report" || { echo "load-test smoke: scenario $scenario missing from $report" >&2; exit 1; }
    awk "/^## /{if (found) exit} /^## $scenario\. /{found=1} found && /^\| /{print; exit}" "$report" | grep -q . \
      || { echo "load-test smoke: scenario $scenario has no table in $report" >&2; exit 1; }
  done
  echo "load-test smoke: all scenarios ran and wrote their tables ($report)"
fi
