"""docker-compose.yml, docker-compose.enterprise.yml, .env.example and the nginx balancer config: Debian's
docker-compose resolves them (`config` needs no engine), yamllint and `nginx -t` accept them, and what they
resolve to is what the issue asks for."""
import re
import shutil
import subprocess

import pytest
import yaml

from deploy_support import ROOT, SETTINGS_VARIABLES, tool

COMPOSE_FILES = ["docker-compose.yml", "docker-compose.enterprise.yml"]
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 120}, document-start: disable, truthy: {check-keys: false}}}"
# Values a user would put in .env for enterprise mode (test values, not secrets of any deployment).
ENTERPRISE_SECRETS = {
    "ADMIN_PASSWORD": "a-long-admin-passphrase",
    "JWT_SECRET": "0123456789abcdef0123456789abcdef",
    "ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "GLOBAL_PROXY_KEYS": "rk-team-a-4f9c2e71d0b3,rk-team-b-8a6d5c3e1f07",
    "DB_PASSWORD": "pa/ss@wo#rd",
}
# Variables of the compose files themselves, not of the rotator.
COMPOSE_VARIABLES = {"ROTATOR_PUBLISH_PORT"}


def env_example_entries():
    """name -> (value or None when commented out, the comment lines right above it)."""
    entries, comments = {}, []
    for line in (ROOT / ".env.example").read_text().splitlines():
        active = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
        commented = re.fullmatch(r"# ([A-Z][A-Z0-9_]*)=(.*)", line)
        if active or commented:
            name = (active or commented).group(1)
            assert name not in entries, f".env.example lists {name} twice"
            entries[name] = (active.group(2) if active else None, list(comments))
        elif line.startswith("#"):
            comments.append(line)
        else:
            comments = []
    return entries


def project(tmp_path, values):
    """A copy of the files compose reads, with .env made from .env.example with the given values filled in
    (commented lines included)."""
    for name in COMPOSE_FILES + ["Dockerfile", "Dockerfile.enterprise", "nginx.enterprise.conf"]:
        shutil.copy(ROOT / name, tmp_path / name)
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.removeprefix("# ").split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    return tmp_path


def compose_config(directory, name):
    return subprocess.run([tool("docker-compose"), "-f", name, "config"], cwd=directory, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})


def resolved(tmp_path, name, values=ENTERPRISE_SECRETS):
    result = compose_config(project(tmp_path, values), name)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return yaml.safe_load(result.stdout)


def duration_seconds(text):
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(text))
    assert match and text, f"not a duration: {text}"
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


@pytest.mark.parametrize("name", COMPOSE_FILES + ["helm/api-key-rotator/Chart.yaml", "helm/api-key-rotator/values.yaml"])
def test_yamllint(name):
    result = subprocess.run([tool("yamllint"), "--strict", "-d", YAMLLINT_CONFIG, name], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_catches_a_broken_file(tmp_path):
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  a:\n    image: x\n  a:\n    image: y\n")
    result = subprocess.run([tool("yamllint"), "--strict", "-d", YAMLLINT_CONFIG, str(broken)], capture_output=True, text=True)
    assert result.returncode != 0 and "duplication" in result.stdout


def mounts(service):
    """target -> source of a service's volumes, from the long or the short syntax."""
    result = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            result[volume["target"]] = volume["source"]
        else:
            source, target = volume.split(":")[:2]
            result[target] = source
    return result


def published(service):
    return [(int(port["target"]), str(port["published"])) for port in service.get("ports", [])]


def test_lightweight_compose(tmp_path):
    # A setting written in .env reaches the node (env_file: .env), as docker-compose resolves it.
    config = resolved(tmp_path, "docker-compose.yml", values={"LOG_LEVEL": "debug", "ADMIN_PASSWORD": "from-dot-env"})
    assert set(config["services"]) == {"rotator"}
    rotator = config["services"]["rotator"]
    assert rotator["build"]["dockerfile"] == "Dockerfile"
    assert rotator["image"] == "api-key-rotator:latest"
    assert rotator["environment"]["LOG_LEVEL"] == "debug" and rotator["environment"]["ADMIN_PASSWORD"] == "from-dot-env"
    assert "env_file: .env" in (ROOT / "docker-compose.yml").read_text()
    assert published(rotator) == [(8000, "8000")]
    assert mounts(rotator)["/app/data"] == "rotator-data" and "rotator-data" in config["volumes"]
    assert duration_seconds(rotator["stop_grace_period"]) > 30, "docker's 10 s default would cut the 30 s drain short"
    # The image's own HEALTHCHECK (rotator healthcheck) applies: nothing switches it off.
    assert "healthcheck" not in rotator


def test_lightweight_compose_runs_without_any_secret(tmp_path):
    # Every secret may stay empty in lightweight mode: the node generates them.
    assert compose_config(project(tmp_path, {}), "docker-compose.yml").returncode == 0


def test_enterprise_compose(tmp_path):
    config = resolved(tmp_path, "docker-compose.enterprise.yml")
    services = config["services"]
    assert set(services) == {"rotator", "balancer", "mariadb", "redis"}

    rotator = services["rotator"]
    assert [name for name, service in services.items() if "build" in service] == ["rotator"], "one image, built once"
    assert rotator["build"]["dockerfile"] == "Dockerfile.enterprise"
    assert rotator["deploy"]["replicas"] == 3
    assert rotator["depends_on"] == {"mariadb": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    assert "healthcheck" not in rotator, "the image's HEALTHCHECK is what the balancer waits for"
    assert duration_seconds(rotator["stop_grace_period"]) > 30
    environment = rotator["environment"]
    assert environment["DB_HOST"] == "mariadb" and environment["REDIS_HOST"] == "redis"
    assert environment["DB_TYPE"] == "mysql" and environment["CACHE_TYPE"] == "redis"
    for name, value in ENTERPRISE_SECRETS.items():
        assert environment[name] == value, f"{name} does not reach the rotator as written in .env"
    assert "env_file: .env" in (ROOT / "docker-compose.enterprise.yml").read_text()
    unknown = set(environment) - SETTINGS_VARIABLES
    assert not unknown, f"the rotator gets {sorted(unknown)}, which Settings.swift does not read"

    mariadb = services["mariadb"]
    assert re.fullmatch(r"mariadb:1\d\.\d+", mariadb["image"]) or re.fullmatch(r"mysql:8(\.\d+)*", mariadb["image"])
    # The rotator's password is the one MariaDB creates the user with, special characters and all.
    assert mariadb["environment"]["MARIADB_PASSWORD"] == ENTERPRISE_SECRETS["DB_PASSWORD"]
    assert mariadb["environment"]["MARIADB_USER"] == environment["DB_USER"]
    assert mariadb["environment"]["MARIADB_DATABASE"] == environment["DB_NAME"]
    assert mounts(mariadb)["/var/lib/mysql"] == "mariadb-data"
    assert mariadb["healthcheck"]["test"][0] == "CMD"

    redis = services["redis"]
    assert re.fullmatch(r"redis:7(\.\d+)*(-alpine)?", redis["image"])
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert mounts(redis)["/data"] == "redis-data"

    balancer = services["balancer"]
    assert balancer["depends_on"] == {"rotator": {"condition": "service_healthy"}}
    assert published(balancer) == [(8000, "8000")]
    assert mounts(balancer)["/etc/nginx/nginx.conf"].endswith("/nginx.enterprise.conf")
    assert "ports" not in rotator, "clients reach the nodes through the balancer only"
    assert set(config["volumes"]) == {"mariadb-data", "redis-data"}


@pytest.mark.parametrize("variable", sorted(ENTERPRISE_SECRETS))
def test_enterprise_compose_refuses_to_start_without_each_secret(tmp_path, variable):
    secrets = {name: value for name, value in ENTERPRISE_SECRETS.items() if name != variable}
    result = compose_config(project(tmp_path, secrets), "docker-compose.enterprise.yml")
    assert result.returncode != 0
    assert f"set {variable} in .env" in result.stderr, result.stderr


def test_env_example_lists_every_variable_with_a_comment():
    entries = env_example_entries()
    assert SETTINGS_VARIABLES - set(entries) == set(), f".env.example misses {sorted(SETTINGS_VARIABLES - set(entries))}"
    assert set(entries) - SETTINGS_VARIABLES <= COMPOSE_VARIABLES, \
        f".env.example lists {sorted(set(entries) - SETTINGS_VARIABLES - COMPOSE_VARIABLES)}, which nothing reads"
    for name, (_, comments) in entries.items():
        assert comments, f".env.example: {name} has no comment above it"
    # Secrets are the only active lines, and they are empty: nothing in the example works as a real secret.
    active = {name: value for name, (value, _) in entries.items() if value is not None}
    assert active == {name: "" for name in ENTERPRISE_SECRETS}


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_interpolated_variable_is_in_env_example(name):
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / name).read_text()))
    assert used <= set(env_example_entries()), f"{name} reads {sorted(used - set(env_example_entries()))} from .env"


def nginx_config():
    return (ROOT / "nginx.enterprise.conf").read_text()


def test_balancer_logs_no_query_string():
    text = nginx_config()
    formats = re.findall(r"log_format\s+(\w+)\s+((?:'[^']*'\s*)+);", text)
    assert formats, "the balancer defines its own access log format"
    for variable in ("$request ", "$request\"", "$request_uri", "$args", "$query_string", "$arg_", "$http_"):
        assert variable not in "".join(body for _, body in formats), f"the access log format holds {variable.strip()}"
    access_logs = re.findall(r"^\s*access_log\s+(\S+)\s+(\w+);", text, re.M)
    assert access_logs and all(fmt in dict(formats) for _, fmt in access_logs), "every access_log uses a format of ours"
    assert re.search(r"^error_log\s+\S+\s+crit;", text, re.M), "error lines quote the request line: critical only"


def test_balancer_serves_the_compose_service_on_8000():
    text = nginx_config()
    assert re.search(r"^\s*listen\s+8000;", text, re.M)
    servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)\b([^;]*);", text, re.M)
    assert [(host, port) for host, port, _ in servers] == [("rotator", "8000")]
    assert "resolve" in servers[0][2], "replicas come and go: the balancer re-resolves the service name"
    assert re.search(r"^\s*resolver\s+127\.0\.0\.11\b", text, re.M), "Docker's embedded DNS"
    assert re.search(r"proxy_buffering\s+off;", text), "streams pass through unbuffered"


def test_nginx_accepts_the_balancer_config(tmp_path):
    nginx = tool("nginx")
    text = nginx_config()
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
    release = tuple(int(part) for part in re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version).groups())
    # The image's nginx (1.28) re-resolves upstream names (`resolve`, 1.27.3+); Debian bookworm's 1.22 predates it,
    # so for an older local nginx only that parameter goes. Compose's names resolve only inside its network.
    if release < (1, 27, 3):
        text = re.sub(r"(server\s+rotator:8000)\s+resolve\b", r"\1", text)
    text = text.replace("server rotator:8000", "server 127.0.0.1:8000")
    text = text.replace("resolver 127.0.0.11", "resolver 127.0.0.1")
    paths = " ".join(f"{kind}_temp_path {tmp_path}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = text.replace("http {", f"http {{\n    {paths}", 1)
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(config), "-g", f"pid {tmp_path}/nginx.pid;"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
