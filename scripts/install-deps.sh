#!/usr/bin/env bash
# Installs the Debian packages a target needs, only when something is missing.
# Usage: scripts/install-deps.sh run|test|loadtest
set -euo pipefail

case "${1:-run}" in
  # The binary links SQLite, MariaDB Connector/C and hiredis (enterprise mode is in the same binary).
  run)  packages=(pkg-config libsqlite3-dev libmariadb-dev libhiredis-dev) ;;
  # Tests also start private redis-server and mariadbd instances, and run the openai SDK in a virtualenv.
  # The load-test smoke run is part of the suite: nginx is its reference proxy and load balancer, wrk drives its
  # closed loops; openssl makes the TLS tests' certificates; curl drives the admin API contract check; the admin
  # page's browser test drives Debian's headless Chromium through chromedriver (a CJK font for 中文).
  test) packages=(pkg-config libsqlite3-dev libmariadb-dev libhiredis-dev redis-server mariadb-server python3-venv nginx-light wrk openssl curl chromium chromium-driver fonts-wqy-microhei) ;;
  loadtest) packages=(pkg-config libsqlite3-dev libmariadb-dev libhiredis-dev redis-server mariadb-server python3-venv nginx-light wrk openssl) ;;
  *) echo "usage: $0 run|test|loadtest" >&2; exit 2 ;;
esac
# The deploy checks resolve the compose files with Debian's docker-compose (`config` needs no engine). Installed
# without its recommended docker.io: no engine runs here.
bare_packages=()
[ "${1:-run}" = test ] && bare_packages=(docker-compose)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done
missing_bare=()
for package in "${bare_packages[@]}"; do
  installed "$package" || missing_bare+=("$package")
done

if ! command -v swift >/dev/null 2>&1; then
  echo "swift is not on PATH: install the Swift 6.3 toolchain (https://www.swift.org/install/linux/) and retry" >&2
  exit 1
fi

if [ ${#missing[@]} -gt 0 ] || [ ${#missing_bare[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  echo "installing Debian packages: ${missing[*]} ${missing_bare[*]}"
  $sudo apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#missing_bare[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing_bare[@]}" >/dev/null
  fi
fi
