"""Dockerfile and Dockerfile.enterprise: hadolint, the shape the issue asks for, and the two kept in step."""
import json
import re
import subprocess

import pytest

from deploy_support import ROOT, SETTINGS_VARIABLES, tool

DOCKERFILES = ["Dockerfile", "Dockerfile.enterprise"]


def instructions(name):
    """(instruction, argument) pairs with continuation lines joined and comments dropped."""
    text = (ROOT / name).read_text()
    text = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    pairs = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, argument = line.strip().partition(" ")
            pairs.append((keyword.upper(), argument.strip()))
    return pairs


def stages(name):
    """The instructions of each stage, keyed by stage order."""
    result = []
    for keyword, argument in instructions(name):
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, argument))
    return result


def env_of(name):
    variables = {}
    for keyword, argument in stages(name)[-1]:
        if keyword == "ENV":
            variables.update(dict(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", argument)))
    return variables


def run_hadolint(*paths):
    return subprocess.run([tool("hadolint"), "--config", str(ROOT / ".hadolint.yaml"), *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_passes(name):
    result = run_hadolint(ROOT / name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_a_careless_dockerfile(tmp_path):
    # The same settings reject the usual mistakes: an untagged base, apt without --no-install-recommends, root.
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM debian\nRUN apt-get update && apt-get install -y curl\nCMD curl http://example.com\n")
    result = run_hadolint(careless)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3015", "DL3009"):
        assert rule in result.stdout, result.stdout


def test_every_ignored_rule_is_explained():
    lines = (ROOT / ".hadolint.yaml").read_text().splitlines()
    for index, line in enumerate(lines):
        rule = re.match(r"\s*-\s*(DL\d+|SC\d+)", line)
        if rule:
            assert any(rule.group(1) in previous for previous in lines[:index] if previous.lstrip().startswith("#")), \
                f"{rule.group(1)} is ignored without a comment that names it and says why"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_multi_stage_with_static_swift_runtime_on_slim_debian(name):
    build, run = stages(name)
    assert re.fullmatch(r"swift:\d+\.\d+\.\d+-bookworm AS build", build[0][1]), build[0]
    assert run[0][1] == "debian:bookworm-slim", "the run stage must be slim Debian of the build stage's release"
    swift_build = [argument for keyword, argument in build if keyword == "RUN" and "swift build -c release" in argument]
    assert swift_build and "--static-swift-stdlib" in swift_build[0] and "--product rotator" in swift_build[0]
    assert ("COPY", "--from=build /out/ /app/") in run
    run_installs = [argument for keyword, argument in run if keyword == "RUN" and "apt-get install" in argument]
    assert run_installs and "--no-install-recommends" in run_installs[0]
    assert "swift" not in " ".join(run_installs), "no Swift runtime package in the run stage"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_runs_as_numeric_non_root_user_on_8000_with_exec_healthcheck(name):
    run = dict((keyword, argument) for keyword, argument in stages(name)[-1] if keyword != "RUN")
    user = re.fullmatch(r"(\d+)(?::(\d+))?", run["USER"])
    assert user and int(user.group(1)) != 0, f"USER must be a numeric uid other than 0, got {run['USER']}"
    assert run["EXPOSE"] == "8000"
    # Exec form, and the binary probes itself: no curl or shell in the check.
    check = re.fullmatch(r"(--\S+\s+)*CMD\s+(\[.*\])", run["HEALTHCHECK"])
    assert check, run["HEALTHCHECK"]
    assert json.loads(check.group(2)) == ["/app/rotator", "healthcheck"]
    assert "--start-period=" in run["HEALTHCHECK"]
    assert json.loads(run["ENTRYPOINT"]) == ["/app/rotator"]
    assert run["WORKDIR"] == "/app"
    assert json.loads(run["VOLUME"]) == ["/app/data"]
    assert env_of(name)["DATABASE_PATH"].startswith("/app/data/")
    assert env_of(name)["BACKEND_PORT"] == "8000"
    setup = " ".join(argument for keyword, argument in stages(name)[-1] if keyword == "RUN")
    assert f"--uid {user.group(1)}" in setup and f"chown {user.group(1)}" in setup and "/app/data" in setup
    assert "curl" not in setup and "wget" not in setup


@pytest.mark.parametrize("name", DOCKERFILES)
def test_sets_only_variables_the_rotator_reads(name):
    unknown = set(env_of(name)) - SETTINGS_VARIABLES
    assert not unknown, f"{name} sets {sorted(unknown)}, which Settings.swift does not read"


def test_enterprise_defaults_are_mysql_and_redis():
    lightweight, enterprise = env_of("Dockerfile"), env_of("Dockerfile.enterprise")
    assert "DB_TYPE" not in lightweight and "CACHE_TYPE" not in lightweight
    assert enterprise["DB_TYPE"] == "mysql" and enterprise["CACHE_TYPE"] == "redis"
    assert enterprise["DB_HOST"] and enterprise["REDIS_HOST"]


def test_the_two_dockerfiles_differ_only_in_their_defaults():
    def without_env(name):
        return [(keyword, argument) for keyword, argument in instructions(name) if keyword != "ENV"]
    assert without_env("Dockerfile") == without_env("Dockerfile.enterprise"), \
        "keep the stages of Dockerfile and Dockerfile.enterprise the same: only ENV may differ"
    shared = set(env_of("Dockerfile").items())
    assert shared <= set(env_of("Dockerfile.enterprise").items())


@pytest.mark.parametrize("name", DOCKERFILES)
def test_build_stage_has_the_headers_package_swift_links(name):
    package = (ROOT / "Package.swift").read_text()
    build = " ".join(argument for keyword, argument in stages(name)[0] if keyword == "RUN")
    for dev_package in re.findall(r'\.apt\(\["([^"]+)"\]\)', package):
        assert dev_package in build, f"{name} does not install {dev_package}, which Package.swift links"


def test_build_context_holds_what_the_build_copies():
    """.dockerignore keeps out everything but what COPY needs (and the local build folders and secrets)."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: ignore everything, then let the sources back in"
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    for name in DOCKERFILES:
        for keyword, argument in instructions(name):
            if keyword == "COPY" and not argument.startswith("--from"):
                *sources, _ = argument.split()
                for source in sources:
                    assert (ROOT / source).exists(), f"{name} copies {source}, which does not exist"
                    assert source.rstrip("/") in allowed, f"{name} copies {source}, which .dockerignore leaves out"
    for kept_out in ("**/.build", "**/.env", "**/*.db"):
        assert kept_out in patterns
