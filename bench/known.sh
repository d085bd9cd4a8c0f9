#!/usr/bin/env bash
# Events of known contacts, the path that matters: demo contacts, a 20-rule scoring
# model and an MQL definition in force, and events for contacts leadgate knows, beside
# GET /healthz with the same load tool in the same run:
#   - single events and batches of 100, for 10,000 random known contacts (uniform), and
#     for the same contacts Zipf-skewed (a few get most of the events, as in real traffic);
#   - a hot contact: 200,000 events for one contact (a bot), in batches of 100 sent one
#     after another; the rate of its first 10,000 events beside that of its last 10,000.
#
#   bench/known.sh                       # SQLite, 1,000,000 contacts
#   CONTACTS=100000 bench/known.sh       # smaller
#   DATABASE_URL=postgres://postgres@127.0.0.1/lgbench bench/known.sh   # PostgreSQL (an empty database)
#   BIN=/path/to/other/leadgate bench/known.sh   # another build, for a side-by-side run
#   TRAIN=1 bench/known.sh               # a likelihood model trained and in force as well
#
# Each load is followed by the time the scoring consumer took to catch up after it, and
# the feed lag of the entries it handled (commit to scored, from /metrics).
#
# Needs: wrk, python3; psql for PostgreSQL. Prints figures only; it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS="${CONTACTS:-1000000}"
DURATION="${DURATION:-15s}"
HOT="${HOT:-200000}"
TRAIN="${TRAIN:-0}"
CONNS=64
PORT="${PORT:-18081}"
WORK="$(mktemp -d)"
trap 'if [ -n "${SERVER:-}" ]; then kill "$SERVER" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

if [ -z "${BIN:-}" ]; then
    cargo build --release -q
    BIN=target/release/leadgate
fi
export LEADGATE_LOG=warn
if [ -n "${DATABASE_URL:-}" ]; then
    export LEADGATE_DATABASE_URL="$DATABASE_URL"
    BACKEND=postgres
else
    export LEADGATE_DATA_DIR="$WORK/data"
    BACKEND=sqlite
fi

echo "backend: $BACKEND, contacts: $CONTACTS, load: wrk -t2 -c$CONNS -d$DURATION"
"$BIN" demo --contacts "$CONTACTS" | tail -1
sync
sleep 5

KEY=$("$BIN" apikey create --name bench --role admin | tail -1)
bench/lib/model20.sh > "$WORK/model.toml"
"$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
auth=(-H "Authorization: Bearer $KEY")
curl -sf "${auth[@]}" -X PUT -H 'Content-Type: application/toml' --data-binary @"$WORK/model.toml" \
    "http://127.0.0.1:$PORT/v1/scoring/bench" > /dev/null
DEF='{"kind": "mql", "expression": "scores.fit >= 20 && engagement.visits_30d >= 2 && contact.direction == '"'"'inbound'"'"' && !contact.free_mail && size(responses) > 0"}'
curl -sf "${auth[@]}" -X PUT -H 'Content-Type: application/json' -d "$DEF" \
    "http://127.0.0.1:$PORT/v1/definitions/bench" > /dev/null
# Activating them rescores every contact in the background: stop the server, rescore
# in the foreground, and start it again, so that the load meets a settled database.
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
"$BIN" rescore | tail -1
if [ "$TRAIN" = 1 ]; then
    # A likelihood model in force too: each event's contact is then predicted as well.
    "$BIN" model train 2>&1 | grep -E "ROC AUC|s in all"
fi
"$BIN" serve --listen "127.0.0.1:$PORT" >> "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
# The scoring consumer goes through what the demo load wrote to the change feed.
echo -n "start-up: "; python3 bench/lib/lag.py "$PORT" "$KEY" wait

# 10,000 random known contacts' emails.
if [ "$BACKEND" = postgres ]; then
    psql "$DATABASE_URL" -Atc "SELECT email FROM contacts WHERE email IS NOT NULL AND merged_into IS NULL ORDER BY random() LIMIT 10000" > "$WORK/emails"
else
    python3 - "$WORK/data/leadgate.db" > "$WORK/emails" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
for (e,) in db.execute("SELECT email FROM contacts WHERE email IS NOT NULL AND merged_into IS NULL ORDER BY random() LIMIT 10000"):
    print(e)
PY
fi
# The order in which events name them: uniform, and Zipf-skewed (s = 1.1).
python3 - "$WORK" <<'PY'
import random, sys
w = sys.argv[1]
emails = open(f"{w}/emails").read().split()
rng = random.Random(7)
n = 200_000
open(f"{w}/uniform", "w").write("\n".join(rng.choice(emails) for _ in range(n)) + "\n")
weights = [1 / (k ** 1.1) for k in range(1, len(emails) + 1)]
open(f"{w}/zipf", "w").write("\n".join(rng.choices(emails, weights, k=n)) + "\n")
PY

# Requests are built once in init(), from the file of emails in order.
for order in uniform zipf; do
cat > "$WORK/single-$order.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
local reqs = {}
init = function(args)
  local n = 0
  for e in io.lines("$WORK/$order") do
    n = n + 1
    if n > 20000 then break end
    reqs[n] = wrk.format(nil, "/v1/events", nil,
      '{"email":"' .. e .. '","kind":"page_view","url":"https://www.bench.example/pricing"}')
  end
end
local i = 0
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
LUA
cat > "$WORK/batch-$order.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
local reqs = {}
init = function(args)
  local parts, n = {}, 0
  for e in io.lines("$WORK/$order") do
    n = n + 1
    parts[#parts + 1] = '{"email":"' .. e .. '","kind":"page_view","url":"https://www.bench.example/blog/' .. (n % 997) .. '"}'
    if #parts == 100 then
      reqs[#reqs + 1] = wrk.format(nil, "/v1/events", nil, '{"events":[' .. table.concat(parts, ",") .. ']}')
      parts = {}
    end
  end
end
local i = 0
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
LUA
done

run() { # name, script-or-empty, path
    local out
    if [ -n "$2" ]; then out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$2" "http://127.0.0.1:$PORT$3"); else
        out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$PORT$3"); fi
    local rps p50 p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" | tr '\n' ' ' || true)
    printf '%-34s %12s req/s   p50 %8s   p99 %8s   %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
    echo "$rps" > "$WORK/$1.rps"
}

scored() { # runs "run" with its arguments, then tells the feed lag of what it sent
    python3 bench/lib/lag.py "$PORT" "$KEY" snapshot "$WORK/lag.json"
    run "$@"
    echo -n "    after the load, "; python3 bench/lib/lag.py "$PORT" "$KEY" wait
    echo -n "    "; python3 bench/lib/lag.py "$PORT" "$KEY" since "$WORK/lag.json"
}

echo "== known contacts, 20-rule model and an MQL definition in force"
run healthz "" /healthz
scored single-uniform "$WORK/single-uniform.lua" /v1/events
scored single-zipf "$WORK/single-zipf.lua" /v1/events
scored batched-x100-uniform "$WORK/batch-uniform.lua" /v1/events
scored batched-x100-zipf "$WORK/batch-zipf.lua" /v1/events
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
r = lambda n: float(open(f"{w}/{n}.rps").read())
for order in ("uniform", "zipf"):
    print(f"{order}: single events {100 * r('single-' + order) / r('healthz'):.1f} % of healthz, "
          f"batched {100 * r('batched-x100-' + order):,.0f} events/s")
PY

echo "== a hot contact: $HOT events for one contact, batches of 100, one after another"
python3 bench/lib/lag.py "$PORT" "$KEY" snapshot "$WORK/lag.json"
python3 - "$PORT" "$KEY" "$HOT" "$(head -1 "$WORK/emails")" <<'PY'
import http.client, json, sys, time
port, key, total, email = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", int(port))
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
body = json.dumps({"events": [{"email": email, "kind": "page_view", "url": f"https://www.bench.example/p/{i}"} for i in range(100)]})
stamps = []
for sent in range(0, total, 100):
    conn.request("POST", "/v1/events", body, headers)
    r = conn.getresponse(); r.read()
    if r.status != 202:
        sys.exit(f"HTTP {r.status} after {sent} events")
    stamps.append(time.monotonic())
first = 10_000 / (stamps[99] - (stamps[0] - (stamps[1] - stamps[0])))
last = 10_000 / (stamps[-1] - stamps[-101])
print(f"first 10,000 events: {first:,.0f} events/s; last 10,000: {last:,.0f} events/s ({100 * last / first:.0f} %)")
PY
echo -n "    after the load, "; python3 bench/lib/lag.py "$PORT" "$KEY" wait
echo -n "    "; python3 bench/lib/lag.py "$PORT" "$KEY" since "$WORK/lag.json"
