#!/usr/bin/env bash
# End to end: `relance serve` as deployed. Learners and activity arrive over
# the HTTP API, the scheduler opens a case by itself, a sign of life over the
# API closes it, the register shows both, and SIGTERM stops it cleanly.
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d /tmp/relance-serve-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- log:"; cat "$work/log" 2>/dev/null; exit 1; }

cat >"$work/relance.toml" <<TOML
[organisation]
name = "Test"
[store]
path = "relance.db"
[http]
listen = "127.0.0.1"
port = 0
[roles]
secretariat = "Secrétariat"
[[staff]]
id = "marie"
roles = ["secretariat"]
[[plan]]
id = "p"
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "secretariat"
  template = "ladder_1"
[[policy]]
id = "inactifs"
days = 30
plan = "p"
TOML

"$bin" --config "$work/relance.toml" migrate >/dev/null
RELANCE_API_TOKEN=t0ken "$bin" --config "$work/relance.toml" --log-format json serve 2>"$work/log" &
pid=$!

# Wait (bounded) for the port in the JSON log line.
port=""
for _ in $(seq 1 100); do
  port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/log" 2>/dev/null | head -1 | cut -d: -f2 || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "serve did not start listening"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$work/log" || fail "log lines are not JSON"
base="http://127.0.0.1:$port"

curl -fsS "$base/healthz" | grep -q '"status":"ok"' || fail "healthz"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/learners" -d '{}')
[ "$code" = 401 ] || fail "no token must give 401, got $code"

old=$(date -u -d '40 days ago' +%Y-%m-%dT%H:%M:%SZ)
curl -fsS -X POST "$base/api/v1/learners" -H 'Authorization: Bearer t0ken' -H 'Content-Type: application/json' \
  -d '{"learners":[{"id":"A-1","first_name":"Jeanne","last_name":"Serveur","phone":"06 12 34 56 78","cohort":"c"}]}' \
  | grep -q '"inserted":1' || fail "learner upsert"
curl -fsS -X POST "$base/api/v1/activity" -H 'Authorization: Bearer t0ken' \
  -d "{\"events\":[{\"learner\":\"A-1\",\"source\":\"lms\",\"at\":\"$old\",\"id\":\"ev-1\"}]}" | grep -q '"applied":1' \
  || fail "activity"

# The scheduler is poked by the change and opens the case by itself.
for _ in $(seq 1 100); do
  grep -q 'cases opened' "$work/log" && break
  sleep 0.1
done
grep -q '1 cases opened' "$work/log" || fail "the scheduler did not open the case"

# A sign of life over the API closes it as resumed; a retried event applies once.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for _ in 1 2; do
  curl -fsS -X POST "$base/api/v1/activity" -H 'Authorization: Bearer t0ken' \
    -d "{\"events\":[{\"learner\":\"A-1\",\"source\":\"lesson\",\"at\":\"$now\",\"id\":\"ev-2\"}]}" >"$work/ans"
done
grep -q '"duplicates":1' "$work/ans" || fail "a retried event must be a duplicate: $(cat "$work/ans")"

"$bin" --config "$work/relance.toml" export register --format csv -o "$work/reg.csv" >/dev/null
grep -q "Serveur" "$work/reg.csv" || fail "register lacks the learner"
grep -qi "reprise" "$work/reg.csv" || fail "register lacks the resumed outcome: $(cat "$work/reg.csv")"

kill -TERM "$pid"
wait "$pid" || fail "serve did not exit 0 on SIGTERM"
pid=""
echo "PASS: serve + HTTP API + scheduler"
