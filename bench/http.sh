#!/usr/bin/env bash
# HTTP benchmark of leadgate: demo-data load time, GET /healthz vs single-event
# POST /v1/events at 64 connections (same tool, same run), batched events (100 per
# request), and GET /v1/contacts/{id} latency on a large database.
#
#   bench/http.sh                       # SQLite, 1,000,000 contacts
#   CONTACTS=100000 bench/http.sh       # smaller
#   DATABASE_URL=postgres://postgres@127.0.0.1/lgbench bench/http.sh   # PostgreSQL
#   BIN=/path/to/other/leadgate bench/http.sh   # another build, for a side-by-side run
#
# Needs: wrk (apt-get install wrk), python3; psql for PostgreSQL. Prints figures only;
# it asserts nothing. Results and the machine they came from go in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS="${CONTACTS:-1000000}"
DURATION="${DURATION:-15s}"
CONNS=64
PORT="${PORT:-18080}"
WORK="$(mktemp -d)"
# Only a server this script started: `kill 0` would stop the caller's whole process group.
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
echo "== demo --contacts $CONTACTS"
"$BIN" demo --contacts "$CONTACTS" | tail -1
# Let the kernel finish writing the freshly loaded database before measuring.
sync
sleep 5

KEY=$("$BIN" apikey create --name bench --role admin | tail -1)
"$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

# 2,000 random contact ids for the read benchmark.
if [ "$BACKEND" = postgres ]; then
    psql "$DATABASE_URL" -Atc "SELECT id FROM contacts ORDER BY random() LIMIT 2000" > "$WORK/ids"
else
    python3 - "$WORK/data/leadgate.db" > "$WORK/ids" <<'PY'
import sqlite3, sys, uuid
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
for (b,) in db.execute("SELECT id FROM contacts ORDER BY random() LIMIT 2000"):
    print(uuid.UUID(bytes=b))
PY
fi

# Requests are built once in init(): building them per request in Lua would make the
# load generator, not the server, the bottleneck.
cat > "$WORK/event.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
local reqs = {}
init = function(args)
  for n = 1, 20000 do
    reqs[n] = wrk.format(nil, "/v1/events", nil,
      '{"email":"visitor' .. n .. '@bench.example","kind":"page_view","url":"https://www.bench.example/pricing"}')
  end
end
local i = 0
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
LUA
cat > "$WORK/batch.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
local reqs = {}
init = function(args)
  local n = 0
  for r = 1, 1000 do
    local parts = {}
    for k = 1, 100 do
      n = n + 1
      parts[k] = '{"visitor_id":"v' .. n .. '","kind":"page_view","url":"https://www.bench.example/blog/' .. (n % 997) .. '"}'
    end
    reqs[r] = wrk.format(nil, "/v1/events", nil, '{"events":[' .. table.concat(parts, ",") .. ']}')
  end
end
local i = 0
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
LUA
cat > "$WORK/contact.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $KEY"
local ids = {}
for line in io.lines("$WORK/ids") do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/contacts/" .. ids[(n % #ids) + 1])
end
LUA

run() { # name, script-or-empty, path [, connections]
    local out conns="${4:-$CONNS}"
    if [ -n "$2" ]; then out=$(wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$2" "http://127.0.0.1:$PORT$3"); else
        out=$(wrk -t2 -c"$conns" -d"$DURATION" --latency "http://127.0.0.1:$PORT$3"); fi
    local rps p50 p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" | tr '\n' ' ' || true)
    printf '%-34s %12s req/s   p50 %8s   p99 %8s   %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
    echo "$rps" > "$WORK/$1.rps"
}

echo "== HTTP"
run healthz "" /healthz
run single-event "$WORK/event.lua" /v1/events
run batched-events-x100 "$WORK/batch.lua" /v1/events
run get-contact "$WORK/contact.lua" /v1/contacts
# Latency without queueing: the same reads from 8 connections.
run get-contact-8-connections "$WORK/contact.lua" /v1/contacts 8
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
r = lambda n: float(open(f"{w}/{n}.rps").read())
print(f"single events vs healthz: {100 * r('single-event') / r('healthz'):.1f} %")
print(f"batched events: {100 * r('batched-events-x100'):,.0f} events/s")
PY
