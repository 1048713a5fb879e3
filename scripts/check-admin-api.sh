#!/usr/bin/env bash
# The admin API against its own OpenAPI document: schemathesis with every check, on a real `rotator` process
# over a temporary SQLite file. Fails (non-zero) on any finding. Bounded: a fixed number of examples per
# operation, a time budget for the whole run, and `timeout` around it. One worker: hypothesis is not thread-safe, and
# with two worker threads a run sometimes ended in a SystemError inside hypothesis (schemathesis #860), not a finding.
#   scripts/check-admin-api.sh [path/to/rotator]   (needs schemathesis in $SCHEMATHESIS or .build/test-venv)
set -euo pipefail
cd "$(dirname "$0")/.."

rotator=${1:-.build/debug/rotator}
schemathesis=${SCHEMATHESIS:-.build/test-venv/bin/schemathesis}
examples=${ADMIN_API_MAX_EXAMPLES:-30}

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
base="http://127.0.0.1:$port"

cleanup() {
  if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

BIND_HOST=127.0.0.1 BACKEND_PORT=$port DATABASE_PATH="$work/rotator.db" ADMIN_PASSWORD="$password" \
  LOG_LEVEL=warning "$rotator" > "$work/rotator.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -fsS "$base/readyz" > /dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "rotator exited:"; cat "$work/rotator.log"; exit 1; }
  sleep 0.2
done
curl -fsS "$base/readyz" > /dev/null || { echo "rotator not ready"; cat "$work/rotator.log"; exit 1; }

token=$(curl -fsS "$base/admin/login" -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" | python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])')
# One config with a key, so that operations on existing ids are exercised too (schemathesis also creates its own).
curl -fsS "$base/admin/proxy-configs" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name":"Seed","slug":"seed","target_base_url":"https://api.example.com/v1"}' > /dev/null

status=0
timeout 900 "$schemathesis" --config-file scripts/schemathesis.toml run Sources/RotatorAdmin/Resources/openapi.json --url "$base" \
  --checks all --max-examples "$examples" --seed 1 --workers 1 --no-color --exclude-path /admin/logout \
  --header "Authorization: Bearer $token" --request-timeout 20 \
  --generation-database none || status=$?
if ! kill -0 "$pid" 2>/dev/null; then
  echo "rotator died during the run:"; tail -50 "$work/rotator.log"; exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis found problems (exit $status); rotator log tail:"; tail -30 "$work/rotator.log"
  exit "$status"
fi
# Logout ends the run's one token, so schemathesis leaves it alone; it is checked here, last: 204, then 401.
logout=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/admin/logout" -H "Authorization: Bearer $token")
after=$(curl -sS -o /dev/null -w '%{http_code}' "$base/admin/proxy-configs" -H "Authorization: Bearer $token")
[ "$logout" = 204 ] && [ "$after" = 401 ] || { echo "logout answered $logout, then the ended token got $after (want 204, 401)"; exit 1; }
echo "admin API: schemathesis passed every check ($examples examples per operation)"
