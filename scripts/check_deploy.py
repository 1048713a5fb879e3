#!/usr/bin/env python3
"""Static checks of deploy/ (no Docker engine or Kubernetes here): the files parse, every path they copy exists,
every environment variable they set is one the rotator reads, every Helm value a template uses is declared, and the
nginx configs pass `nginx -t`. Exits 1 with one line per problem."""
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "api-key-rotator"
problems = []


def known_variables():
    settings = (ROOT / "Sources/RotatorApp/Settings.swift").read_text()
    return set(re.findall(r'"([A-Z][A-Z0-9_]+)"', settings))


KNOWN = known_variables()


def check_dockerfile():
    text = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        if not (ROOT / source).exists():
            problems.append(f"Dockerfile copies {source}, which does not exist")
    package = (ROOT / "Package.swift").read_text()
    for dev in re.findall(r'\.apt\(\["([^"]+)"\]\)', package):
        if dev not in text:
            problems.append(f"Dockerfile build stage does not install {dev}, which Package.swift links")
    for variable in re.findall(r"^ENV (.*)$", text, re.M):
        for name in re.findall(r"([A-Z_]+)=", variable):
            if name not in KNOWN:
                problems.append(f"Dockerfile sets {name}, which the rotator does not read")


def check_compose(name):
    document = yaml.safe_load((DEPLOY / name).read_text())
    for service, spec in document.get("services", {}).items():
        if "build" in spec:
            build = spec["build"]
            context = (DEPLOY / build["context"]).resolve()
            if not (context / build["dockerfile"]).exists():
                problems.append(f"{name}: {service} builds from a missing {build['dockerfile']}")
            for variable in spec.get("environment", {}):
                if variable not in KNOWN:
                    problems.append(f"{name}: {service} sets {variable}, which the rotator does not read")
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and not (DEPLOY / source).exists():
                problems.append(f"{name}: {service} mounts a missing {source}")


def flatten(values, prefix=""):
    keys = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        keys.add(path)
        if isinstance(value, dict):
            keys |= flatten(value, path + ".")
    return keys


def check_chart():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    for field in ("apiVersion", "name", "version"):
        if field not in chart:
            problems.append(f"Chart.yaml has no {field}")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    declared = flatten(values)
    for variable in values.get("env", {}):
        if variable not in KNOWN:
            problems.append(f"values.yaml env sets {variable}, which the rotator does not read")
    for template in sorted((CHART / "templates").iterdir()):
        text = template.read_text()
        for used in set(re.findall(r"\.Values\.([A-Za-z0-9_.]+)", text)):
            if used.rstrip(".") not in declared:
                problems.append(f"{template.name} uses .Values.{used}, which values.yaml does not declare")
        if text.count("{{") != text.count("}}"):
            problems.append(f"{template.name}: unbalanced {{{{ }}}}")
        openers = len(re.findall(r"\{\{-?\s*(if|range|define|with)\b", text))
        enders = len(re.findall(r"\{\{-?\s*end\b", text))
        if openers != enders:
            problems.append(f"{template.name}: {openers} if/range/define/with blocks but {enders} ends")
        for variable in re.findall(r"- name: ([A-Z][A-Z0-9_]+)", text):
            if variable not in KNOWN:
                problems.append(f"{template.name} sets {variable}, which the rotator does not read")
        for variable in re.findall(r'dict ((?:"[^"]+" ?)+)', text):
            names = re.findall(r'"([^"]+)"', variable)[0::2]
            for name in names:
                if name not in KNOWN:
                    problems.append(f"{template.name} sets {name}, which the rotator does not read")


def check_nginx():
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not pathlib.Path(nginx).exists():
        problems.append("nginx not found: cannot check deploy/nginx-balancer.conf")
        return
    with tempfile.TemporaryDirectory() as folder:
        text = (DEPLOY / "nginx-balancer.conf").read_text()
        # Compose service names resolve only inside compose's network.
        text = re.sub(r"rotator-(\d):8000", r"127.0.0.1:800\1", text)
        # Logs and temp files inside the folder, so the check needs no root.
        paths = " ".join(f"{kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        text = text.replace("http {", f"http {{\n    access_log off;\n    {paths}", 1)
        config = pathlib.Path(folder) / "nginx.conf"
        config.write_text(text)
        result = subprocess.run(
            [nginx, "-t", "-p", folder, "-c", str(config), "-g", f"pid {folder}/nginx.pid; error_log {folder}/error.log;"],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            problems.append(f"nginx -t rejects deploy/nginx-balancer.conf: {result.stderr.strip()}")


check_dockerfile()
check_compose("compose.yaml")
check_compose("compose.enterprise.yaml")
check_chart()
check_nginx()
if problems:
    for problem in problems:
        print(f"deploy check: {problem}")
    sys.exit(1)
print("deploy check: Dockerfile, compose files, Helm chart and nginx config are consistent")
