#!/usr/bin/env bash
# Qualification benchmark of leadgate: a full rescore with a 20-rule scoring model,
# a backtest of a 5-clause definition, training the likelihood model, and the latency
# of POST /v1/events for known contacts beside unknown ones, on demo data. Their
# contacts are scored after, by the change feed's consumer: how long it took to assess
# them is read from /metrics (leadgate_assessing_seconds), and bench/known.sh measures
# how long after the commit it was done.
#
#   bench/qualify.sh                  # SQLite, 100,000 demo contacts
#   CONTACTS=1000000 bench/qualify.sh
#   CONTACTS=1000000 ACTIVITY=5 bench/qualify.sh
#                                     # five times the demo's activity: about ten events a contact
#   CONTACTS=1000000 TRAIN=0 bench/qualify.sh    # without the (long) training step
#   BIN=target/release/leadgate bench/qualify.sh # a build of your own
#   LEADGATE_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test bench/qualify.sh
#                                     # PostgreSQL instead, in a fresh schema dropped afterwards
#
# Targets (issue: 1,000,000 contacts, 10,000,000 events): backtest <= 2 s, full rescore
# with a 20-rule model <= 10 s, scoring in the event path <= 1 ms p99; training on
# 100,000 contacts <= 30 s.
# Prints figures only; it asserts nothing. Results go in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS="${CONTACTS:-100000}"
ACTIVITY="${ACTIVITY:-1}"
TRAIN="${TRAIN:-1}"
WORK="$(mktemp -d)"
PORT="${PORT:-18090}"
PG_URL="${LEADGATE_BENCH_PG_URL:-}"
SCHEMA="bench_qualify_$$"
cleanup() {
    # Only a server this script started: `kill 0` would stop the caller's whole
    # process group (a pipe into `tee`, say).
    if [ -n "${SERVER:-}" ]; then kill "$SERVER" 2>/dev/null || true; fi
    if [ -n "$PG_URL" ]; then
        psql "$PG_URL" -qAtc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
# The build leadgate is deployed with (Cargo.toml's `production` profile), unless BIN
# names another.
if [ -z "${BIN:-}" ]; then
    cargo build --profile production -q -p leadgate
    BIN=target/production/leadgate
fi
export LEADGATE_LOG=warn LEADGATE_DATA_DIR="$WORK/data"
unset LEADGATE_DATABASE_URL
if [ -n "$PG_URL" ]; then
    psql "$PG_URL" -qAtc "CREATE SCHEMA $SCHEMA" >/dev/null
    sep='?'; case "$PG_URL" in *'?'*) sep='&' ;; esac
    # The same way the tests reach a fresh schema (crates/leadgate-store/src/testing.rs).
    export LEADGATE_DATABASE_URL="$PG_URL${sep}options=-c%20search_path%3D$SCHEMA&application_name=$SCHEMA"
    echo "== PostgreSQL, schema $SCHEMA"
fi

echo "== demo --contacts $CONTACTS --activity $ACTIVITY"
"$BIN" demo --contacts "$CONTACTS" --activity "$ACTIVITY" | tail -1

MODEL="$WORK/model.toml"
bench/lib/model20.sh > "$MODEL"

echo "== rescore, built-in rules only (what reading and writing every contact costs)"
/usr/bin/time -f "   wall %e s, peak RSS %M KB" "$BIN" rescore 2>&1 | tail -2

KEY=$("$BIN" apikey create --name bench --role admin | tail -1)
"$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
auth=(-H "Authorization: Bearer $KEY")
curl -sf "${auth[@]}" -X PUT -H 'Content-Type: application/toml' --data-binary @"$MODEL" \
    "http://127.0.0.1:$PORT/v1/scoring/bench" > /dev/null
DEF='{"kind": "mql", "expression": "scores.fit >= 20 && engagement.visits_30d >= 2 && contact.direction == '"'"'inbound'"'"' && !contact.free_mail && size(responses) > 0"}'
curl -sf "${auth[@]}" -X PUT -H 'Content-Type: application/json' -d "$DEF" "http://127.0.0.1:$PORT/v1/definitions/bench" > /dev/null
# The server rescores in the background after the model is activated; stop it first so
# that the timed rescore below has the machine to itself.
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=

echo "== rescore, 20-rule model"
/usr/bin/time -f "   wall %e s, peak RSS %M KB" "$BIN" rescore 2>&1 | tail -3

echo "== backtest, 5-clause definition, as of 90 days ago"
AS_OF=$(date -u -d '90 days ago' +%Y-%m-%d)
/usr/bin/time -f "   wall %e s, peak RSS %M KB" "$BIN" backtest bench --as-of "$AS_OF" 2>&1 | sed -n 1,4p | cut -c1-160

if [ "$TRAIN" != 0 ]; then
    echo "== model train (likelihood of becoming a customer), then scoring every contact with it"
    /usr/bin/time -f "   wall %e s, peak RSS %M KB" "$BIN" model train 2>&1 | tail -4
fi

echo "== event path: POST /v1/events for known contacts, one at a time"
"$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
IDS=$(curl -sf "${auth[@]}" "http://127.0.0.1:$PORT/v1/contacts?limit=200" | python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)["contacts"]))')
python3 - "$PORT" "$KEY" $IDS <<'PY'
import http.client, json, sys, time
port, key, ids = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
c = http.client.HTTPConnection("127.0.0.1", port)
auth = {"Authorization": "Bearer " + key}
def post(body):
    t = time.perf_counter()
    c.request("POST", "/v1/events", json.dumps(body), {**auth, "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    took = (time.perf_counter() - t) * 1000
    assert r.status == 202, r.status
    return took
def get(path):
    c.request("GET", path, headers=auth)
    r = c.getresponse(); body = r.read().decode()
    assert r.status == 200, (path, r.status)
    return body
def scored():
    # The scoring consumer assesses each event's contact after its commit.
    while not all(x["caught_up"] for x in json.loads(get("/v1/consumers"))["consumers"] if x["name"] == "scoring"):
        time.sleep(0.05)
def assessing():
    # leadgate_assessing_seconds by phase: cumulative counts by upper bound, and sums.
    buckets, sums = {}, {}
    for line in get("/metrics").splitlines():
        if line.startswith("leadgate_assessing_seconds_bucket{"):
            labels = dict(kv.split("=") for kv in line[line.index("{") + 1:line.index("}")].split(","))
            phase, le = labels["phase"].strip('"'), labels["le"].strip('"')
            buckets.setdefault(phase, {})[float("inf") if le == "+Inf" else float(le)] = int(line.split()[-1])
        elif line.startswith("leadgate_assessing_seconds_sum{"):
            sums[line.split('"')[1]] = float(line.split()[-1])
    return buckets, sums
def bound(before, after, q):
    # The upper bound of the bucket holding quantile q of the steps between two scrapes.
    n = after[float("inf")] - before.get(float("inf"), 0)
    return next(le for le in sorted(after) if after[le] - before.get(le, 0) >= q * n) * 1000, n
def p(ms, q): return sorted(ms)[int(len(ms) * q) - 1]
for label, make in [("known contact", lambda i: {"contact_id": ids[i % len(ids)], "kind": "page_view", "url": "https://x.example/pricing"}),
                    ("unknown email", lambda i: {"email": f"nobody{i}@nowhere.example", "kind": "page_view"})]:
    for i in range(50): post(make(i))
    scored(); (b0, s0) = assessing()
    ms = [post(make(i)) for i in range(2000)]
    print(f"   {label:36s} p50 {p(ms, .5):6.2f} ms   p99 {p(ms, .99):6.2f} ms")
    if label == "known contact":
        scored(); (b1, s1) = assessing()
        for phase in ["read", "evaluate", "write"]:
            (p50, n), (p99, _) = bound(b0.get(phase, {}), b1[phase], .5), bound(b0.get(phase, {}), b1[phase], .99)
            mean = (s1[phase] - s0.get(phase, 0)) / max(n, 1) * 1000
            print(f"   {'  assessing after commit: ' + phase:36s} p50 <= {p50:.2f} ms   p99 <= {p99:.2f} ms   mean {mean:.3f} ms ({n} steps)")
PY
echo
echo "reproduce: CONTACTS=$CONTACTS ACTIVITY=$ACTIVITY TRAIN=$TRAIN${PG_URL:+ LEADGATE_BENCH_PG_URL=$PG_URL} bench/qualify.sh"
