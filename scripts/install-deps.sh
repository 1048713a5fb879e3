#!/usr/bin/env bash
# Installs the Debian packages a target needs, only when something is missing.
# Usage: scripts/install-deps.sh run|test|loadtest
set -euo pipefail

case "${1:-run}" in
  # The binary links SQLite, MariaDB Connector/C and hiredis (enterprise mode is in the same binary).
  run)  packages=(pkg-config libsqlite3-dev libmariadb-dev libhiredis-dev) ;;
  # Tests also start private redis-server and mariadbd instances, and run the openai SDK in a virtualenv.
  # The load-test smoke run is part of the suite: nginx is its reference proxy and load balancer.
  # The admin page's browser test drives Debian's headless Chromium through chromedriver (a CJK font for 中文).
  test) packages=(pkg-config libsqlite3-dev libmariadb-dev libhiredis-dev redis-server mariadb-server python3-venv nginx-light wrk openssl chromium chromium-driver fonts-wqy-microhei) ;;
  loadtest) packages=(pkg-config libsqlite3-dev libmariadb-dev libhiredis-dev redis-server mariadb-server python3-venv nginx-light wrk openssl) ;;
  *) echo "usage: $0 run|test|loadtest" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ! command -v swift >/dev/null 2>&1; then
  echo "swift is not on PATH: install the Swift 6.3 toolchain (https://www.swift.org/install/linux/) and retry" >&2
  exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
