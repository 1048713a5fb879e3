#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests against real servers started on loopback,
# and the official openai Python SDK against a live node.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test

# The openai package (SDK test), PyYAML (deploy check), selenium and pytest (browser test) live in a private
# virtualenv, never in the system Python.
venv=.build/test-venv
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import openai, yaml, selenium, pytest" 2>/dev/null; then
  echo "preparing $venv with the openai, pyyaml, selenium and pytest packages"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check openai pyyaml selenium pytest
fi
export ROTATOR_TEST_PYTHON="$PWD/$venv/bin/python"

# deploy/ is written, not run (no Docker engine or cluster here): check it statically.
"$venv/bin/python" scripts/check_deploy.py

echo "building tests"
swift build --build-tests
echo "running tests"
# A crashed test process must not hang the run in the backtracer.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=yes,interactive=no,timeout=10s}"
timeout 1800 swift test --skip-build "$@"

# The admin page in headless Chromium against a real rotator and mock-upstream (built above). Skipped only when a
# filter picks particular tests.
if [ $# -eq 0 ]; then
  echo "browser test of the admin page"
  timeout 600 scripts/test-browser.sh
fi

# The load-test suite in smoke mode (one-second windows on the debug build): every scenario must run and write
# its table. Skipped when a filter picks particular tests.
if [ $# -eq 0 ]; then
  echo "load-test smoke run"
  smoke=.build/loadtest-smoke
  rm -rf "$smoke"
  timeout 900 loadtest/run --smoke --out "$smoke"
  report=$(ls -d "$smoke"/*/report.md | tail -1)
  for scenario in 1 2 3 4 5 6 7; do
    grep -q "^## $scenario\. " "$report" || { echo "load-test smoke: scenario $scenario missing from $report" >&2; exit 1; }
    awk "/^## /{if (found) exit} /^## $scenario\. /{found=1} found && /^\| /{print; exit}" "$report" | grep -q . \
      || { echo "load-test smoke: scenario $scenario has no table in $report" >&2; exit 1; }
  done
  echo "load-test smoke: all scenarios ran and wrote their tables ($report)"
fi
