#!/usr/bin/env bash
# The waterfall beside DuckDB: the same numbers (twelve months by channel) from leadgate's
# API and from DuckDB over the same data exported to Parquet and CSV, timed in one run on
# one machine (five runs each, the server warm), and checked to agree.
#
#   bench/duckdb.sh                           # SQLite, 1,000,000 demo contacts
#   CONTACTS=100000 bench/duckdb.sh
#   LEADGATE_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test bench/duckdb.sh
#   BIN=target/release/leadgate bench/duckdb.sh
#
# Target (issue): the waterfall within 2x of DuckDB. Needs python3 with duckdb
# (`pip install duckdb`); psql for PostgreSQL. Prints figures; exits non-zero only
# when the two disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS="${CONTACTS:-1000000}"
PORT="${PORT:-18093}"
python3 -c 'import duckdb' 2>/dev/null || { echo "needs DuckDB for Python: pip install duckdb" >&2; exit 2; }
NAME=duckdb
. bench/lib/setup.sh

echo "== demo --contacts $CONTACTS"
"$BIN" demo --contacts "$CONTACTS" | tail -1
echo "== export contacts, responses, stage_changes (CSV, raw)"
for kind in contacts responses stage_changes; do
    "$BIN" export "$kind" --raw --out "$WORK/$kind.csv"
done
KEY=$("$BIN" apikey create --name bench --role readonly | tail -1)
start_server
FROM=$(date -u -d '12 months ago' +%Y-%m-%d)
TO=$(date -u -d 'tomorrow' +%Y-%m-%d)
python3 - "$PORT" "$KEY" "$FROM" "$TO" "$WORK" <<'PY'
import duckdb, http.client, json, sys, time
port, key, frm, to, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

def timed(f, runs=5):
    ms, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = f()
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return ms, out

c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
def leadgate():
    c.request("GET", f"/v1/reports/waterfall?group_by=channel&from={frm}&to={to}",
              headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    body = r.read()
    assert r.status == 200, body[:300]
    return json.loads(body)

db = duckdb.connect()
# Parquet files with typed columns, written once (not timed): what an analyst would query.
db.execute(f"""
COPY (SELECT id, channel, stage, created_at::TIMESTAMPTZ AS created_at
      FROM read_csv('{work}/contacts.csv', all_varchar = true)) TO '{work}/contacts.parquet';
COPY (SELECT contact_id, "at"::TIMESTAMPTZ AS ts, channel, junk
      FROM read_csv('{work}/responses.csv', all_varchar = true)) TO '{work}/responses.parquet';
COPY (SELECT contact_id, to_stage, "at"::TIMESTAMPTZ AS ts
      FROM read_csv('{work}/stage_changes.csv', all_varchar = true)) TO '{work}/stage_changes.parquet';
""")

# leadgate's rules (docs/reports.md): a contact enters when created; its channel is its
# own, else its first response's (junk aside); a stage is reached at the first move to
# it or beyond; contacts disqualified now are left out.
def waterfall_sql(contacts, responses, steps):
    reach = ",\n".join(f"min(s.ts) FILTER (WHERE s.rank >= {k}) AS r{k}" for k in range(1, 7))
    legs = "\nUNION ALL ".join(f"SELECT channel, {k} AS k, r{k} AS reached, r{k-1} AS prev, r0 AS first FROM p"
                              for k in range(1, 7))
    return f"""
WITH c AS (SELECT id, channel, stage, created_at FROM {contacts}
           WHERE created_at >= TIMESTAMPTZ '{frm} 00:00:00+00' AND created_at < TIMESTAMPTZ '{to} 00:00:00+00'),
fr AS (SELECT contact_id, arg_min(channel, ts) AS channel FROM {responses}
       WHERE junk IS NULL OR junk = '' GROUP BY contact_id),
s AS (SELECT contact_id, ts, CASE to_stage WHEN 'suspect' THEN 0 WHEN 'prospect' THEN 1 WHEN 'mql' THEN 2
        WHEN 'sal' THEN 3 WHEN 'sql' THEN 4 WHEN 'opportunity' THEN 5 WHEN 'customer' THEN 6 END AS rank
      FROM {steps}),
p AS (SELECT c.id, coalesce(nullif(c.channel, ''), fr.channel) AS channel, c.created_at AS r0, {reach}
      FROM c LEFT JOIN s ON s.contact_id = c.id LEFT JOIN fr ON fr.contact_id = c.id
      WHERE c.stage <> 'disqualified' GROUP BY ALL),
l AS (SELECT channel, 0 AS k, r0 AS reached, NULL::TIMESTAMPTZ AS prev, r0 AS first FROM p UNION ALL {legs})
SELECT channel, k, count(reached) AS n,
       median(epoch(reached - prev) / 86400) AS median_prev,
       quantile_disc(epoch(reached - prev) / 86400, 0.9) AS p90_prev,
       median(epoch(reached - first) / 86400) AS median_first
FROM l GROUP BY channel, k ORDER BY channel, k"""

parquet = waterfall_sql(f"'{work}/contacts.parquet'", f"'{work}/responses.parquet'", f"'{work}/stage_changes.parquet'")
csv = waterfall_sql(
    f"(SELECT id, channel, stage, created_at::TIMESTAMPTZ AS created_at FROM read_csv('{work}/contacts.csv', all_varchar = true))",
    f"(SELECT contact_id, \"at\"::TIMESTAMPTZ AS ts, channel, junk FROM read_csv('{work}/responses.csv', all_varchar = true))",
    f"(SELECT contact_id, to_stage, \"at\"::TIMESTAMPTZ AS ts FROM read_csv('{work}/stage_changes.csv', all_varchar = true))")

lg_ms, lg = timed(leadgate)
pq_ms, pq = timed(lambda: db.execute(parquet).fetchall())
csv_ms, _ = timed(lambda: db.execute(csv).fetchall())

ours = {(g["group"]["channel"], k): s for g in lg["groups"] for k, s in enumerate(g["stages"])}
theirs = {(ch, k): (n, med, p90, medf) for ch, k, n, med, p90, medf in pq}
close = lambda a, b: (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-6)
wrong = []
for key_, (n, med, p90, medf) in theirs.items():
    s = ours.get(key_)
    if s is None or s["count"] != n or (key_[1] > 0 and not (close(s["median_days_from_previous"], med)
            and close(s["p90_days_from_previous"], p90) and close(s["median_days_from_first"], medf))):
        wrong.append((key_, s, (n, med, p90, medf)))
if len(theirs) != len(ours):
    wrong.append(("groups", len(ours), len(theirs)))
print(f"   waterfall, 12 months by channel: {sum(g['stages'][0]['count'] for g in lg['groups'])} contacts, "
      f"{len(lg['groups'])} channels; counts, medians and p90s "
      + ("agree" if not wrong else f"DISAGREE in {len(wrong)} places, e.g. {wrong[:3]}"))
for label, ms in [("leadgate, API", lg_ms), ("DuckDB over Parquet", pq_ms), ("DuckDB over CSV", csv_ms)]:
    print(f"   {label:24s} min {ms[0]:8.0f} ms   median {ms[2]:8.0f} ms   max {ms[-1]:8.0f} ms")
print(f"   ratio leadgate / DuckDB (Parquet), medians: {lg_ms[2] / pq_ms[2]:.2f}x; "
      f"to DuckDB over CSV: {lg_ms[2] / csv_ms[2]:.2f}x")
sys.exit(1 if wrong else 0)
PY
echo
echo "reproduce: CONTACTS=$CONTACTS${PG_URL:+ LEADGATE_BENCH_PG_URL=$PG_URL} bench/duckdb.sh"
