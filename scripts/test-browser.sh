#!/usr/bin/env bash
# The admin page's browser test alone: headless Chromium (Debian's chromium + chromium-driver) through selenium,
# against the debug `rotator` and `mock-upstream` binaries; the page's SDK examples run with the official openai,
# anthropic and google-genai packages. Screenshots go to .build/browser-screenshots.
# Expects scripts/test.sh to have prepared the venv and built the binaries; does both if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.build/test-venv
# The official SDKs run the page's examples as shown.
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import selenium, pytest, openai, anthropic, google.genai" 2>/dev/null; then
  scripts/install-deps.sh test
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check selenium pytest openai anthropic google-genai
fi
if [ ! -x .build/debug/rotator ] || [ ! -x .build/debug/mock-upstream ]; then
  swift build --product rotator
  swift build --product mock-upstream
fi
for tool in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$tool" ] || { echo "$tool is missing: run scripts/install-deps.sh test" >&2; exit 1; }
done
exec "$venv/bin/python" -m pytest Tests/BrowserTests -q -p no:cacheprovider "$@"
