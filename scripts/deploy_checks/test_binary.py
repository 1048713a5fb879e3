"""The binary the images run: `rotator healthcheck` (the images' HEALTHCHECK) against a real node, and the shared
libraries of a binary linked like the image's (--static-swift-stdlib) against what the run stage installs.

scripts/test.sh builds both binaries before it runs this file and names them in ROTATOR_BINARY and
ROTATOR_STATIC_BINARY; without them (a local run) the tests look in .build and skip what they cannot find.
.build/static is where scripts/test.sh builds the image's binary: `swift build -c release --product rotator
--static-swift-stdlib --scratch-path .build/static`."""
import os
import pathlib
import re
import signal
import socket
import subprocess
import time

import pytest

from deploy_support import ROOT, missing
from test_dockerfiles import stages


def binary(variable, candidates, accept=lambda path: True):
    named = os.environ.get(variable)
    if named:
        assert pathlib.Path(named).is_file(), f"{variable}={named} does not exist"
        return named
    for candidate in candidates:
        path = ROOT / candidate
        if path.is_file() and accept(path):
            return str(path)
    missing(f"no rotator binary: set {variable} or build one ({', '.join(candidates)})")


# --- rotator healthcheck ------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthcheck(rotator, environment):
    return subprocess.run([rotator, "healthcheck"], env=environment, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def rotator():
    return binary("ROTATOR_BINARY", [".build/static/release/rotator", ".build/debug/rotator", ".build/release/rotator"])


def test_healthcheck_follows_the_node_it_probes(rotator, tmp_path):
    port = free_port()
    environment = {"PATH": "/usr/bin:/bin", "BIND_HOST": "127.0.0.1", "BACKEND_PORT": str(port),
                   "DATABASE_PATH": str(tmp_path / "data" / "rotator.db"), "LOG_LEVEL": "warning"}
    # Nothing listens yet.
    before = healthcheck(rotator, environment)
    assert before.returncode == 1 and "unhealthy" in before.stderr

    with open(tmp_path / "node.log", "w") as log:
        node = subprocess.Popen([rotator], env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        # Bounded by attempts, generous in time: the first start runs the migrations on a shared, busy machine.
        for _ in range(300):
            result = healthcheck(rotator, environment)
            if result.returncode == 0 or node.poll() is not None:
                break
            time.sleep(1)
        assert node.poll() is None, f"the node stopped: {(tmp_path / 'node.log').read_text()}"
        assert result.returncode == 0, result.stderr
        # Inside a container BIND_HOST is 0.0.0.0: the probe then asks over loopback.
        assert healthcheck(rotator, {**environment, "BIND_HOST": "0.0.0.0"}).returncode == 0
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=120)
    after = healthcheck(rotator, environment)
    assert after.returncode == 1 and f"127.0.0.1:{port}/healthz" in after.stderr


def test_healthcheck_never_exits_with_dockers_reserved_code(rotator):
    # Docker reserves exit code 2: a configuration the node would refuse is plain "unhealthy".
    result = healthcheck(rotator, {"PATH": "/usr/bin:/bin", "BACKEND_PORT": "eighty"})
    assert result.returncode == 1 and "BACKEND_PORT" in result.stderr


def test_unknown_arguments_are_refused(rotator):
    result = subprocess.run([rotator, "--healthcheck"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "rotator healthcheck" in result.stderr


# --- the image's shared libraries ---------------------------------------------------------------------------


def shared_libraries(path):
    """(name, resolved path or None) of each library ldd lists, the kernel's vDSO left out."""
    output = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    libraries = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("linux-vdso"):
            continue
        linked = re.match(r"(\S+) => (not found|(\S+) \(0x[0-9a-f]+\))", line)
        if linked:
            libraries.append((linked.group(1), linked.group(3)))
        elif re.match(r"/\S+ \(0x[0-9a-f]+\)", line):
            libraries.append((line.split()[0], line.split()[0]))
    return libraries


def links_swift_statically(path):
    return not any(name.startswith("libswift") or name.startswith("libFoundation") for name, _ in shared_libraries(path))


def owning_package(path):
    """The Debian package that ships a library file (usr-merged paths tried both ways)."""
    resolved = os.path.realpath(path)
    candidates = {path, resolved}
    for candidate in list(candidates):
        candidates.add(candidate[4:] if candidate.startswith("/usr/") else "/usr" + candidate)
    for candidate in candidates:
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0].split(",")[0].strip()
    raise AssertionError(f"no Debian package ships {path}")


def run_stage_packages(name="Dockerfile"):
    [install] = [argument for keyword, argument in stages(name)[-1] if keyword == "RUN" and "apt-get install" in argument]
    words = install.split("--no-install-recommends", 1)[1].split("&&")[0].split()
    return [word for word in words if not word.startswith("-")]


def dependency_closure(packages):
    """Every package apt installs with these: Depends and Pre-Depends, first alternative of each choice (what apt
    picks when none is installed), recursively, from this machine's Debian release (the run stage's)."""
    seen, frontier = set(), set(packages)
    while frontier:
        seen |= frontier
        output = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
                                 "--no-replaces", "--no-enhances", *sorted(frontier)], capture_output=True, text=True, check=True).stdout
        found, in_choice = set(), False
        lines = output.splitlines()
        for index, line in enumerate(lines):
            dependency = re.match(r"\s*(\|?)(?:Pre)?Depends: (\S+)", line)
            if not dependency:
                continue
            if not in_choice:
                target = dependency.group(2)
                if target.startswith("<"):
                    # A virtual package: its first provider, listed below it.
                    provider = lines[index + 1].strip() if index + 1 < len(lines) else ""
                    target = provider if provider and ":" not in provider else ""
                if target:
                    found.add(target.split(":")[0])
            in_choice = dependency.group(1) == "|"
        frontier = found - seen
    return seen


def base_image_packages():
    """debian:*-slim: Debian's minimal base (the packages of priority required) plus apt."""
    output = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Priority}\n"], capture_output=True, text=True, check=True).stdout
    return {line.split("\t")[0] for line in output.splitlines() if line.endswith("\trequired")} | {"apt"}


@pytest.fixture(scope="module")
def static_rotator():
    return binary("ROTATOR_STATIC_BINARY", [".build/static/release/rotator", ".build/release/rotator"], accept=links_swift_statically)


def test_the_swift_runtime_is_linked_in(static_rotator):
    libraries = shared_libraries(static_rotator)
    assert not [name for name, path in libraries if path is None], f"unresolved: {libraries}"
    assert links_swift_statically(static_rotator), [name for name, _ in libraries]


def test_the_resource_bundles_the_image_copies_are_beside_the_binary(static_rotator):
    # The build stage copies "$bin"/*.resources next to /app/rotator: one bundle per target with resources.
    package = (ROOT / "Package.swift").read_text()
    declarations = list(re.finditer(r'\.(target|executableTarget|testTarget|systemLibrary)\(name: "(\w+)"', package))
    targets = [match.group(2) for match, following in zip(declarations, declarations[1:] + [None])
               if match.group(1) == "target" and "resources:" in package[match.end():following.start() if following else None]]
    bundles = {path.name for path in pathlib.Path(static_rotator).parent.glob("*.resources")}
    assert targets and all(any(bundle.endswith(f"_{target}.resources") for bundle in bundles) for target in targets), (targets, bundles)


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.enterprise"])
def test_the_run_stage_installs_every_library_the_binary_needs_and_no_other(static_rotator, name):
    installed = run_stage_packages(name)
    available = dependency_closure(set(installed) | base_image_packages())
    needed = {library: owning_package(path) for library, path in shared_libraries(static_rotator)}
    uncovered = {library: package for library, package in needed.items() if package not in available}
    assert not uncovered, f"{name}'s run stage lacks the packages of {uncovered}"
    # Only what the binary needs: each library package installed by name is one ldd asks for.
    unused = [package for package in installed if package.startswith("lib") and package not in needed.values()]
    assert not unused, f"{name} installs {unused}, which the binary does not link"
