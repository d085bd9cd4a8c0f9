#!/usr/bin/env bash
# Hand-off at scale: demo contacts (its teams, people and routing rules in force), the
# server routing the demo's backlog as it starts (outbound list entries and contacts at
# mql: the open queue items), then
#   - the first page of each queue's work, asked again and again (p50, p99);
#   - the SLA sweep over every open item, as each server runs it every 5 s (from
#     `leadgate_sla_sweep_seconds` in /metrics);
#   - a contact moved to mql by hand until it is assigned and visible (its contact
#     shows its queue), one after another, while events of known contacts arrive at
#     EVENTS_PER_SECOND (5,000 by default) from 8 senders: p50, p99;
#   - routing decisions inside the server (`leadgate_routing_decision_seconds`): the p99
#     bucket;
#   - an import of 100,000 new contacts at mql (`IMPORT`), until routing has handed
#     every one over;
#   - the same again, routed to a team whose SLA is one second: every clock runs out at
#     once, and the sweeps mark them all breached (their time, from /metrics).
#
#   bench/handoff.sh                                  # SQLite, 1,000,000 contacts
#   CONTACTS=100000 bench/handoff.sh                  # smaller
#   LEADGATE_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test bench/handoff.sh
#
# Needs: python3; psql for PostgreSQL. Prints figures only; it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS="${CONTACTS:-1000000}"
IMPORT="${IMPORT:-100000}"
PORT="${PORT:-18094}"
NAME=handoff
. bench/lib/setup.sh

echo "== demo --contacts $CONTACTS"
"$BIN" demo --contacts "$CONTACTS" | tail -2
KEY=$("$BIN" apikey create --name bench --role admin | tail -1)
# Prospects to qualify by hand, and known contacts for the events meanwhile.
if [ -n "$PG_URL" ]; then
    q() { psql "$LEADGATE_DATABASE_URL" -Atc "$1"; }
else
    q() { python3 -c 'import sqlite3,sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
for row in db.execute(sys.argv[2]): print(row[0])' "$WORK/data/leadgate.db" "$1"; }
fi
# Ids as hex on either database (SQLite keeps them as bytes), made UUIDs below.
ID="lower(hex(id))"; [ -n "$PG_URL" ] && ID="replace(id::text, '-', '')"
q "SELECT $ID FROM contacts WHERE stage = 'prospect' AND merged_into IS NULL ORDER BY random() LIMIT 300" > "$WORK/prospects"
q "SELECT email FROM contacts WHERE email IS NOT NULL AND merged_into IS NULL ORDER BY random() LIMIT 10000" > "$WORK/emails"
python3 - "$WORK/import.csv" "$IMPORT" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("Email,First Name,Country\n")
    for i in range(int(sys.argv[2])):
        f.write(f"lead{i}@imported{i % 5000}.example,Lead{i},{['DE','FR','GB','US','NL'][i % 5]}\n")
PY
cat > "$WORK/mapping.toml" <<'TOML'
[contact]
email = "Email"
first_name = "First Name"
country = "Country"
direction = { value = "inbound" }

[[stage]]
stage = { value = "mql" }
TOML

started=$(date +%s.%N)
start_server
python3 - "$PORT" "$KEY" "$started" "$WORK" "${EVENTS_PER_SECOND:-5000}" <<'PY'
import http.client, json, random, re, sys, threading, time, urllib.parse, uuid
port, key, started, work, rate = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
H = {"Authorization": "Bearer " + key}
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
def call(method, path, body=None, headers=None):
    global c
    h = dict(H, **(headers or {}))
    t = time.perf_counter()
    try:
        c.request(method, path, body, h)
        r = c.getresponse()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        # The server closed the idle connection: a new one.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t = time.perf_counter()
        c.request(method, path, body, h)
        r = c.getresponse()
    data = r.read()
    assert r.status < 300, (path, r.status, data[:300])
    return (time.perf_counter() - t) * 1000, data
def get(path):
    return json.loads(call("GET", path)[1])
def caught_up():
    while True:
        consumers = get("/v1/consumers")["consumers"]
        if len(consumers) == 2 and all(c["caught_up"] for c in consumers):
            return
        time.sleep(0.05)
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1)]
def metric(text, name):
    return {m.group(1): float(m.group(2)) for m in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M)}, \
        float(re.search(rf"^{name}_count (\S+)$", text, re.M).group(1)), float(re.search(rf"^{name}_sum (\S+)$", text, re.M).group(1))
def p99_bucket(name, q=0.99):
    buckets, count, total = metric(call("GET", "/metrics")[1].decode(), name)
    bound = next(le for le, n in buckets.items() if n >= q * count)
    return bound, count, total

caught_up()
print(f"   {'routing the backlog as the server starts':52s} {time.time() - started:8.1f} s")
queues = get("/v1/queues")["queues"]
print("   open items: " + ", ".join(f"{q['name']} {q['open']:,} ({q['breached']:,} breached)" for q in queues)
      + f"; {sum(q['open'] for q in queues):,} in all")

for q in sorted(queues, key=lambda q: -q["open"]):
    times = [call("GET", f"/v1/queues/{q['id']}/items")[0] for _ in range(300)]
    print(f"   {'first page of ' + q['name'] + ' (50 items), 300 times':52s} p50 {pct(times, 50):6.1f} ms   p99 {pct(times, 99):6.1f} ms")

time.sleep(11)  # two sweeps at least
bound, count, total = p99_bucket("leadgate_sla_sweep_seconds")
print(f"   {'SLA sweep of every open item':52s} mean {1000 * total / count:6.1f} ms   p99 <= {float(bound) * 1000:g} ms ({count:.0f} sweeps)")

# Qualified by hand, one after another, until routed: while events arrive.
emails = open(f"{work}/emails").read().split()
stop, lock, sent = threading.Event(), threading.Lock(), [0]
def events(seed):
    w = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    rng = random.Random(seed)
    while not stop.is_set():
        with lock:
            go = time.perf_counter() >= load_started + sent[0] / rate
            if go:
                sent[0] += 100
        if not go:
            time.sleep(0.002); continue
        body = json.dumps({"events": [{"email": rng.choice(emails), "kind": "page_view",
                                       "url": f"https://www.bench.example/blog/{rng.randrange(997)}"} for _ in range(100)]})
        w.request("POST", "/v1/events", body, dict(H, **{"Content-Type": "application/json"}))
        r = w.getresponse(); r.read()
        assert r.status < 300, r.status
load_started = time.perf_counter()
senders = [threading.Thread(target=events, args=(k,), daemon=True) for k in range(8)]
if rate > 0:
    for s in senders: s.start()
time.sleep(2)
latencies = []
for cid in [str(uuid.UUID(h)) for h in open(f"{work}/prospects").read().split()[:200]]:
    t = time.perf_counter()
    call("POST", f"/v1/contacts/{cid}/stage", json.dumps({"stage": "mql", "reason": "bench: asked for a demo"}),
         {"Content-Type": "application/json"})
    while get(f"/v1/contacts/{cid}")["queue"] is None:
        time.sleep(0.002)
    latencies.append((time.perf_counter() - t) * 1000)
stop.set()
elapsed = time.perf_counter() - load_started
print(f"   {'qualified by hand → assigned, visible (200)':52s} p50 {pct(latencies, 50):6.1f} ms   p99 {pct(latencies, 99):6.1f} ms"
      f"   (while {sent[0] / elapsed:,.0f} events/s of known contacts arrived)")
bound, count, total = p99_bucket("leadgate_routing_decision_seconds")
print(f"   {'routing decision inside the server':52s} mean {1e6 * total / count:6.1f} µs   p99 <= {float(bound) * 1e6:g} µs ({count:,.0f} decisions)")
caught_up()

# An import of new contacts at mql, until every one is handed over.
mapping = urllib.parse.quote(open(f"{work}/mapping.toml").read())
csv = open(f"{work}/import.csv", "rb").read()
before = sum(q["open"] for q in get("/v1/queues")["queues"])
t = time.perf_counter()
_, data = call("POST", f"/v1/imports?mapping={mapping}&file_name=bench.csv", csv, {"Content-Type": "text/csv"})
job = json.loads(data)["id"]
while get(f"/v1/imports/{job}")["status"] == "running":
    time.sleep(0.1)
imported = time.perf_counter() - t
caught_up()
routed = time.perf_counter() - t
after = sum(q["open"] for q in get("/v1/queues")["queues"])
rows = open(f"{work}/import.csv").read().count("\n") - 1
print(f"   {f'import of {rows:,} contacts at mql, until handed over':52s} {routed:8.1f} s   (imported in {imported:.1f} s; "
      f"routed {routed - imported:.1f} s after; {after - before:,} more open items)")

# The same number again, to a team with a second to act: every clock runs out at once.
hours = {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
team = {"name": "Bench", "sla": {"business_hours": 0.0003}, "escalation": "none", "calendar": {"time_zone": "UTC", "hours": hours}}
call("POST", "/v1/teams", json.dumps(team), {"Content-Type": "application/json"})
rules = {"rules": [{"name": "all", "when": "true", "queue": "Bench", "assign": ["queue"]}], "fallback_queue": "Bench"}
call("PUT", "/v1/routing", json.dumps(rules), {"Content-Type": "application/json"})
again = csv.replace(b"@imported", b"@again")
_, data = call("POST", f"/v1/imports?mapping={mapping}&file_name=again.csv", again, {"Content-Type": "text/csv"})
job = json.loads(data)["id"]
while get(f"/v1/imports/{job}")["status"] == "running":
    time.sleep(0.1)
caught_up()
_, count0, total0 = p99_bucket("leadgate_sla_sweep_seconds")
t = time.perf_counter()
while True:
    bench = next(q for q in get("/v1/queues")["queues"] if q["name"] == "Bench")
    if bench["breached"] >= rows:
        break
    time.sleep(0.2)
waited = time.perf_counter() - t
bound, count1, total1 = p99_bucket("leadgate_sla_sweep_seconds", 1.0)
print(f"   {f'sweeps marking {rows:,} clocks breached at once':52s} {total1 - total0:8.1f} s   ({count1 - count0:.0f} sweeps; "
      f"all breached {waited:.1f} s after routing ended; longest sweep <= {float(bound):g} s)")
PY
