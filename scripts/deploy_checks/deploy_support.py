"""Shared facts for the deploy checks: where the repository and the tools are, and what the rotator reads.

The deploy files are written, not run, here (no Docker engine or cluster): these checks run the real tools that
work offline (hadolint, docker-compose config, yamllint, Helm's engine, kubernetes-validate, nginx -t, ldd) and
assert what each artifact must say. scripts/test.sh installs the tools and runs this folder with pytest."""
import os
import pathlib
import re
import shutil
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "api-key-rotator"
IN_CI = os.environ.get("CI") == "true"


def settings_variables():
    """Every environment variable the node's settings read (Settings.swift and its Settings+*.swift parts)."""
    text = "".join(path.read_text() for path in sorted((ROOT / "Sources/RotatorApp").glob("Settings*.swift")))
    names = set(re.findall(r'reader\.\w+\("([A-Z][A-Z0-9_]+)"', text))
    assert len(names) > 20, f"found only {sorted(names)} in Settings*.swift: has the reader changed?"
    return names


SETTINGS_VARIABLES = settings_variables()


def tool(name):
    """A tool from this virtualenv (pip-installed) or the system (apt-installed)."""
    beside_python = pathlib.Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name) or (f"/usr/sbin/{name}" if pathlib.Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        missing(f"{name} is not installed (scripts/test.sh installs it)")
    return found


def missing(reason):
    """A missing prerequisite fails in CI (where scripts/test.sh installs everything) and skips elsewhere."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)
