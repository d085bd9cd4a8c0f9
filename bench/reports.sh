#!/usr/bin/env bash
# Reports benchmark: every report over demo data, as JSON and as its chart, through the API
# (five runs of each, the server warm), on SQLite or PostgreSQL.
#
#   bench/reports.sh                          # SQLite, 1,000,000 demo contacts
#   CONTACTS=100000 bench/reports.sh
#   LEADGATE_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test bench/reports.sh
#                                             # PostgreSQL, in a fresh schema dropped afterwards
#   BIN=target/release/leadgate bench/reports.sh   # a build of your own
#   EVENTS_PER_SECOND=5000 bench/reports.sh   # while events of known contacts arrive
#                                             # (batches of 100, paced), as reports must
#   ONLY=summaries bench/reports.sh           # only the reports counted from the summaries
#                                             # (not inflow, "rejected, then won")
#   RUNS=20 bench/reports.sh                  # each report asked 20 times, not 5
#
# Targets (issue: 1,000,000 contacts, 10,000,000 events): the waterfall for 12 months by
# channel <= 500 ms; cohorts for 12 months <= 1 s; rendering any chart <= 50 ms.
# Needs: python3; psql for PostgreSQL. Prints figures only; it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS="${CONTACTS:-1000000}"
PORT="${PORT:-18092}"
NAME=reports
. bench/lib/setup.sh

echo "== demo --contacts $CONTACTS"
"$BIN" demo --contacts "$CONTACTS" | tail -1
KEY=$("$BIN" apikey create --name bench --role readonly | tail -1)
WRITER=$("$BIN" apikey create --name bench-events --role admin | tail -1)
# 10,000 known contacts' emails, for events while the reports run.
if [ -n "$PG_URL" ]; then
    psql "$LEADGATE_DATABASE_URL" -Atc "SELECT email FROM contacts WHERE email IS NOT NULL AND merged_into IS NULL ORDER BY random() LIMIT 10000" > "$WORK/emails"
else
    python3 - "$WORK/data/leadgate.db" > "$WORK/emails" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
for (e,) in db.execute("SELECT email FROM contacts WHERE email IS NOT NULL AND merged_into IS NULL ORDER BY random() LIMIT 10000"):
    print(e)
PY
fi
start_server
# Twelve months to the day the demo's data ends (today).
FROM=$(date -u -d '12 months ago' +%Y-%m-%d)
TO=$(date -u -d 'tomorrow' +%Y-%m-%d)
python3 - "$PORT" "$KEY" "$FROM" "$TO" "$WRITER" "$WORK/emails" "${EVENTS_PER_SECOND:-0}" "${ONLY:-}" "${RUNS:-5}" <<'PY'
import http.client, json, random, sys, threading, time
port, key, frm, to = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
writer, emails, rate = sys.argv[5], open(sys.argv[6]).read().split(), int(sys.argv[7])
only_summaries, rounds = sys.argv[8] == "summaries", int(sys.argv[9])
stop, lock, sent, failed = threading.Event(), threading.Lock(), [0], [0]
SENDERS = 8
def events(seed):
    # Batches of 100 events of known contacts; the senders together paced to `rate` a second.
    w = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    rng = random.Random(seed)
    while not stop.is_set():
        with lock:
            due = load_started + sent[0] / rate
            go = time.perf_counter() >= due
            if go:
                sent[0] += 100
        if not go:
            time.sleep(0.002)
            continue
        body = json.dumps({"events": [{"email": rng.choice(emails), "kind": "page_view",
                                       "url": f"https://www.bench.example/blog/{rng.randrange(997)}"} for _ in range(100)]})
        w.request("POST", "/v1/events", body, {"Authorization": "Bearer " + writer, "Content-Type": "application/json"})
        r = w.getresponse(); r.read()
        if r.status >= 300:
            with lock:
                failed[0] += 100
load_started = time.perf_counter()
loaders = [threading.Thread(target=events, args=(k,), daemon=True) for k in range(SENDERS)]
if rate > 0 and emails:
    print(f"   (while {rate} events/s of known contacts arrive, {SENDERS} senders)")
    for l in loaders:
        l.start()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
def get(path):
    t = time.perf_counter()
    c.request("GET", path, headers={"Authorization": "Bearer " + key})
    r = c.getresponse(); body = r.read()
    assert r.status == 200, (path, r.status, body[:300])
    return (time.perf_counter() - t) * 1000, len(body)
period = f"from={frm}&to={to}"
# The server builds its reports' summaries as it starts; the first report waits for them.
built, _ = get(f"/v1/reports/waterfall?{period}")
print(f"   {'first report after start (summaries built)':46s} {built:7.0f} ms")
# Each chart is the same computation as its JSON, then drawn: the difference between the
# two is what drawing costs.
for label, path in [
    ("waterfall, 12 months, by channel", f"/v1/reports/waterfall?group_by=channel&{period}"),
    ("waterfall, 12 months, by channel, CSV", f"/v1/reports/waterfall?group_by=channel&{period}&format=csv"),
    ("waterfall, 12 months, by channel, SVG", f"/v1/reports/waterfall?group_by=channel&{period}&format=svg"),
    ("waterfall, 12 months, by vendor,direction", f"/v1/reports/waterfall?group_by=vendor,direction&{period}"),
    ("cohorts, 12 months", f"/v1/reports/cohorts?{period}"),
    ("cohorts, 12 months, SVG", f"/v1/reports/cohorts?{period}&format=svg"),
    ("cost, 12 months, by channel", f"/v1/reports/cost?group_by=channel&{period}"),
    ("cost, 12 months, by channel, SVG", f"/v1/reports/cost?group_by=channel&{period}&format=svg"),
    ("inflow, 26 weeks, by channel", "/v1/reports/inflow?group_by=channel"),
    ("inflow, 26 weeks, by channel, SVG", "/v1/reports/inflow?group_by=channel&format=svg"),
    ("funnel mix, 12 months", "/v1/reports/funnel-mix"),
    ("funnel mix, 12 months, SVG", "/v1/reports/funnel-mix?format=svg"),
    ("rejected, then won, 12 months", f"/v1/reports/rejected-then-won?{period}"),
    ("rejected, then won, 12 months, SVG", f"/v1/reports/rejected-then-won?{period}&format=svg"),
    ("forecast, 3 months", "/v1/reports/forecast"),
    ("forecast, 3 months, SVG", "/v1/reports/forecast?format=svg"),
]:
    if only_summaries and ("inflow" in label or "rejected" in label):
        continue
    runs = [get(path) for _ in range(rounds)]
    ms = sorted(t for t, _ in runs)
    print(f"   {label:46s} min {ms[0]:7.0f} ms   median {ms[len(ms) // 2]:7.0f} ms   max {ms[-1]:7.0f} ms   ({runs[0][1]} bytes)")
if any(l.is_alive() for l in loaders):
    stop.set()
    for l in loaders:
        l.join()
    took = time.perf_counter() - load_started
    print(f"   events: {sent[0]} sent in {took:.0f} s ({sent[0] / took:.0f}/s), {failed[0]} refused")
PY
echo
echo "reproduce: CONTACTS=$CONTACTS${PG_URL:+ LEADGATE_BENCH_PG_URL=$PG_URL} bench/reports.sh"
