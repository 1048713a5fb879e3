#!/usr/bin/env bash
# CPU time per proxied request of a default node (SQLite + memory), and of a baseline build beside it in the same run.
#
#   scripts/bench-request-path.sh BIN_DIR [BASELINE_BIN_DIR]
#       BIN_DIR holds release `rotator` and `mock-upstream` (e.g. .build/release); BASELINE_BIN_DIR another build's
#       `rotator` (e.g. a copy of an earlier commit's). Runs alternate, so both see the same machine.
#   RUNS=3 SECONDS_PER_RUN=5 CONNECTIONS=32   environment knobs (defaults shown)
#   PERF=1                                    also records `perf record -e cpu-clock` of the last run of BIN_DIR
#   PERF_CALL_GRAPH=dwarf,16384               its call graphs (default fp; Swift release code keeps few frame pointers)
#   PERF_EVENT=sched:sched_switch             what to sample instead of cpu-clock (here: where threads go to sleep)
#   CLIENT_KEY='{"rpm":1000000000}'           BIN_DIR's runs call with a client key made with these limits (JSON;
#                                             `{}`: none) instead of the operator key: with BASELINE_BIN_DIR = BIN_DIR,
#                                             what a client key costs beside an operator key
#   BASELINE_CLIENT_KEY=1                     the baseline's runs call with that client key too (two builds compared
#                                             on the client key's path)
#
# Each run: a fresh node and the mock on free loopback ports, one pass-through config with 10 keys, a 1 s warm-up,
# then Debian's `wrk -t1 -cCONNECTIONS` POSTing a small chat completion for SECONDS_PER_RUN seconds. The node's
# utime + stime come from /proc/PID/stat before and after: CPU µs per request does not depend on how busy the
# shared machine is nearly as much as req/s does. Prints each run, the means and the ratio new / baseline.
set -euo pipefail
bin=${1:?usage: $0 BIN_DIR [BASELINE_BIN_DIR]}
baseline=${2:-}
runs=${RUNS:-3}
seconds=${SECONDS_PER_RUN:-5}
connections=${CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# One run against `rotator` in $1; prints "req/s cpu_us_per_request non2xx".
run_once() {
  # mpid and npid stay global: the EXIT trap reads them after this function has returned (a failed run included).
  local rotator=$1 record=${2:-} dir mport nport ppid="" token id url c0 c1 out
  dir=$(mktemp -d /tmp/bench-request-path.XXXXXX)
  mport=$(free_port); nport=$(free_port)
  "$bin/mock-upstream" --port "$mport" --record-limit 0 >"$dir/mock.log" 2>&1 & mpid=$!
  env BACKEND_PORT="$nport" BIND_HOST=127.0.0.1 LOG_LEVEL=warning ADMIN_PASSWORD=bench-admin-password-1 \
    JWT_SECRET=bench-jwt-secret-0123456789abcdef0123 ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
    GLOBAL_PROXY_KEYS=rk-bench-proxy-key-0123456789 DATABASE_PATH="$dir/node.db" "$rotator" >"$dir/node.log" 2>&1 & npid=$!
  trap 'kill ${mpid:-} ${npid:-} 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$nport/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  token=$(curl -sf -X POST "http://127.0.0.1:$nport/admin/login" -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"bench-admin-password-1"}' | python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])')
  id=$(curl -sf -X POST "http://127.0.0.1:$nport/admin/proxy-configs" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench\",\"slug\":\"bench\",\"target_base_url\":\"http://127.0.0.1:$mport/v1\"}" | python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])')
  curl -sf -X POST "http://127.0.0.1:$nport/admin/proxy-configs/$id/keys/batch" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "$(python3 -c 'import json; print(json.dumps({"keys": ["sk-bench-%02d-0123456789abcdef" % i for i in range(10)]}))')" >/dev/null
  local secret=rk-bench-proxy-key-0123456789
  if [ "${3:-}" = client ]; then
    secret=$(curl -sf -X POST "http://127.0.0.1:$nport/admin/client-keys" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d "$(python3 -c 'import json, sys; limits = json.loads(sys.argv[1]); limits["name"] = "bench"; print(json.dumps(limits))' "$CLIENT_KEY")" \
      | python3 -c 'import sys, json; print(json.load(sys.stdin)["key"])')
  fi
  cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"gpt-mock","messages":[{"role":"user","content":"hello"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $secret"
LUA
  url="http://127.0.0.1:$nport/llm/bench/v1/chat/completions"
  curl -sf -X POST "$url" -H "Authorization: Bearer $secret" -H 'Content-Type: application/json' \
    -d '{"model":"gpt-mock","messages":[{"role":"user","content":"hello"}]}' >/dev/null || { echo "the node did not serve: $dir/node.log" >&2; return 1; }
  wrk -t1 -c"$connections" -d1s -s "$dir/post.lua" "$url" >/dev/null
  c0=$(awk '{print $14 + $15}' "/proc/$npid/stat")
  s0=$(cat /proc/$npid/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n}')
  if [ -n "$record" ]; then perf record -e "${PERF_EVENT:-cpu-clock}" --call-graph "${PERF_CALL_GRAPH:-fp}" -p "$npid" -o "$record" -- sleep "$seconds" >/dev/null 2>&1 & ppid=$!; fi
  out=$(wrk -t1 -c"$connections" -d"${seconds}s" -s "$dir/post.lua" "$url")
  c1=$(awk '{print $14 + $15}' "/proc/$npid/stat")
  s1=$(cat /proc/$npid/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n}')
  if [ -n "$ppid" ]; then wait "$ppid"; fi
  python3 - "$out" "$c0" "$c1" "$(getconf CLK_TCK)" "$s0" "$s1" <<'PY'
import re, sys
out, c0, c1, tick, s0, s1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
requests = int(re.search(r"(\d+) requests in", out).group(1))
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
print(f"{rate:.0f} {(c1 - c0) / tick * 1e6 / requests:.1f} {non2xx.group(1) if non2xx else 0} {(s1 - s0) / requests:.2f}")
PY
  kill "$mpid" "$npid" 2>/dev/null || true
  wait "$mpid" "$npid" 2>/dev/null || true
  rm -rf "$dir"
}

declare -a new_rate new_cpu base_rate base_cpu
for run in $(seq "$runs"); do
  if [ -n "$baseline" ]; then
    read -r rate cpu errors switches < <(run_once "$baseline/rotator" "" "${BASELINE_CLIENT_KEY:+client}")
    base_rate+=("$rate"); base_cpu+=("$cpu")
    printf 'run %d  baseline  %6s req/s  %6s µs CPU/request  %s non-2xx  %s context switches/request\n' "$run" "$rate" "$cpu" "$errors" "$switches"
  fi
  record=""
  if [ "${PERF:-}" = 1 ] && [ "$run" = "$runs" ]; then record=/tmp/bench-request-path.perf.data; fi
  read -r rate cpu errors switches < <(run_once "$bin/rotator" "$record" "${CLIENT_KEY:+client}")
  new_rate+=("$rate"); new_cpu+=("$cpu")
  printf 'run %d  new       %6s req/s  %6s µs CPU/request  %s non-2xx  %s context switches/request\n' "$run" "$rate" "$cpu" "$errors" "$switches"
done
python3 - "${new_rate[*]}" "${new_cpu[*]}" "${base_rate[*]:-}" "${base_cpu[*]:-}" <<'PY'
import sys
mean = lambda text: sum(map(float, text.split())) / len(text.split())
rate, cpu = mean(sys.argv[1]), mean(sys.argv[2])
print(f"new       mean {rate:7.0f} req/s  {cpu:6.1f} µs CPU/request")
if sys.argv[3].strip():
    base_rate, base_cpu = mean(sys.argv[3]), mean(sys.argv[4])
    print(f"baseline  mean {base_rate:7.0f} req/s  {base_cpu:6.1f} µs CPU/request")
    print(f"new / baseline: throughput {rate / base_rate:.2f}x, CPU per request {cpu / base_cpu:.2f}x")
PY
[ "${PERF:-}" = 1 ] && echo "perf data: /tmp/bench-request-path.perf.data (perf report -i ... --no-children)"
exit 0
