# API Key Rotator: the two commands of the quick start, and a few more.
# Each target is a thin call to a script in scripts/, which work without make too.
.PHONY: run test test-cluster test-browser loadtest loadtest-full build clean

## Install what is missing, build a release binary, run on SQLite + in-memory state (port 8000).
run:
	scripts/run.sh

## Install what the tests need and run the whole suite.
test:
	scripts/test.sh

## Only the multi-node suite (3 rotator processes, Redis, MariaDB); `make test` runs it too.
test-cluster:
	scripts/test.sh --filter ClusterTests

## Only the admin page in headless Chromium (after a build); `make test` runs it too.
test-browser:
	scripts/test-browser.sh

## The load-test scenarios on release builds, about 2 minutes of load; the report goes to loadtest/results/<date>/.
loadtest:
	loadtest/run --quick

## Longer windows and the 10-minute soak.
loadtest-full:
	loadtest/run --full

build:
	swift build

clean:
	rm -rf .build
