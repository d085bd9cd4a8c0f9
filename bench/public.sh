#!/usr/bin/env bash
# The public surface and personal data under load: inquiries from new and from known
# emails (public, at 64 connections, beside GET /healthz in the same run), exports
# (spreadsheet-safe and raw), and erasing contacts one at a time on a large database.
#
#   bench/public.sh                        # SQLite, 1,000,000 contacts
#   CONTACTS=100000 bench/public.sh        # smaller
#   DATABASE_URL=postgres://postgres@127.0.0.1/lgbench bench/public.sh   # PostgreSQL (empty database)
#   BIN=/path/to/other/leadgate bench/public.sh   # another build, for a side-by-side run
#
# Needs: wrk, curl, python3 (psql for PostgreSQL). Prints figures only; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS="${CONTACTS:-1000000}"
DURATION="${DURATION:-15s}"
ERASE="${ERASE:-300}"
CONNS=64
PORT="${PORT:-18081}"
WORK="$(mktemp -d)"
# Only a server this script started: `kill 0` would stop the caller's whole process group.
trap 'if [ -n "${SERVER:-}" ]; then kill "$SERVER" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

if [ -z "${BIN:-}" ]; then
    cargo build --release -q
    BIN=target/release/leadgate
fi
export LEADGATE_LOG=warn LEADGATE_INQUIRIES_PER_MINUTE=100000000
if [ -n "${DATABASE_URL:-}" ]; then
    export LEADGATE_DATABASE_URL="$DATABASE_URL"
    BACKEND=postgres
else
    export LEADGATE_DATA_DIR="$WORK/data"
    BACKEND=sqlite
fi
BASE="http://127.0.0.1:$PORT"

echo "backend: $BACKEND, contacts: $CONTACTS, binary: $BIN, load: wrk -t2 -c$CONNS -d$DURATION"
"$BIN" demo --contacts "$CONTACTS" | tail -1
sync
sleep 5
KEY=$("$BIN" apikey create --name bench --role admin | tail -1)
FORM=$("$BIN" form create --name bench --channel paid_search | tail -1)
"$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.2; done

# Emails of known contacts, and contact ids to erase (other contacts than those).
curl -sf -H "Authorization: Bearer $KEY" "$BASE/v1/exports/contacts.csv" -o "$WORK/contacts.csv"
python3 - "$WORK" "$ERASE" <<'PY'
import csv, random, sys
work, erase = sys.argv[1], int(sys.argv[2])
rows = [r for r in csv.DictReader(open(f"{work}/contacts.csv")) if r["email"]]
random.seed(7)
random.shuffle(rows)
with open(f"{work}/known", "w") as f:
    f.writelines(r["email"] + "\n" for r in rows[:20000])
# Contacts the known-email inquiries reach first: each has an inquiry as received, a
# response and changes to erase beside its demo history.
with open(f"{work}/erase", "w") as f:
    f.writelines(r["id"] + "\n" for r in rows[:erase])
PY

inquiries() { # file of emails (or "new"), lua file
    cat > "$2" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local reqs = {}
init = function(args)
  local n = 0
  if "$1" == "new" then
    for i = 1, 20000 do
      reqs[i] = wrk.format(nil, "/v1/inquiries", nil,
        '{"form_key":"$FORM","email":"new' .. i .. '@inquiries.example","first_name":"Ann","company":"Acme","message":"We need 40 seats."}')
    end
  else
    for email in io.lines("$1") do
      n = n + 1
      reqs[n] = wrk.format(nil, "/v1/inquiries", nil,
        '{"form_key":"$FORM","email":"' .. email .. '","first_name":"Mallory","company":"Evil Corp","message":"Again."}')
    end
  end
end
local i = 0
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
LUA
}
inquiries new "$WORK/new.lua"
inquiries "$WORK/known" "$WORK/known.lua"

run() { # name, script-or-empty, path
    local out
    if [ -n "$2" ]; then out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$2" "$BASE$3"); else
        out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$BASE$3"); fi
    local rps p50 p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" | tr '\n' ' ' || true)
    printf '%-28s %12s req/s   p50 %8s   p99 %8s   %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
    echo "$rps" > "$WORK/$1.rps"
}

echo "== inquiries"
run healthz "" /healthz
run inquiry-new-email "$WORK/new.lua" /v1/inquiries
run inquiry-known-email "$WORK/known.lua" /v1/inquiries
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
r = lambda n: float(open(f"{w}/{n}.rps").read())
print(f"inquiries vs healthz: new {100 * r('inquiry-new-email') / r('healthz'):.1f} %, known {100 * r('inquiry-known-email') / r('healthz'):.1f} %")
PY

echo "== exports (seconds, bytes)"
for what in "contacts.csv" "contacts.csv?raw=true" "events.csv"; do
    curl -s -o /dev/null -w "$what %{time_total} s, %{size_download} bytes\n" -H "Authorization: Bearer $KEY" \
        "$BASE/v1/exports/$what"
done

echo "== erasing $ERASE contacts one at a time (DELETE /v1/contacts/{id})"
status=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $KEY" "$BASE/v1/contacts/$(head -1 "$WORK/erase")?reason=bench")
if [ "$status" != 200 ]; then
    echo "this build does not erase (HTTP $status)"
    exit 0
fi
tail -n +2 "$WORK/erase" | while read -r id; do
    curl -s -o /dev/null -w '%{time_total}\n' -X DELETE -H "Authorization: Bearer $KEY" \
        "$BASE/v1/contacts/$id?reason=bench"
done > "$WORK/erase.times"
python3 - "$WORK/erase.times" <<'PY'
import sys
t = sorted(float(x) * 1000 for x in open(sys.argv[1]))
q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
print(f"erase: {len(t)} contacts, p50 {q(0.5):.1f} ms, p95 {q(0.95):.1f} ms, p99 {q(0.99):.1f} ms, max {t[-1]:.1f} ms")
PY
