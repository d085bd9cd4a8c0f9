"""What SQLite's one writer spends on each event of a known contact, statement by
statement, and what it would spend if the event path wrote less.

    python3 bench/lib/event_writes.py DATABASE [BATCHES]

DATABASE is a leadgate SQLite database (`leadgate demo --contacts N` makes one, in the
data directory as `leadgate.db`); it is copied, and each shape of the write path runs
on a fresh copy. Each shape commits BATCHES (default 1,500) transactions of 100 events
for 10,000 random known contacts, chosen uniformly, with the pragmas the server's writer
uses and a passive checkpoint every 100 transactions (about what the server's
background checkpoint does every 100 ms under this load), and prints the writer's time
per event in each step:

- today: the contacts looked up by email, the events inserted (with the index of
  events by contact and the key of their contact checked), appended to each contact's
  last row of packed events, a change-feed entry per contact;
- no packs: the same without the appends to packed events;
- log only: events appended to a table with no index by contact and no key checked,
  and the feed entries: what the writer would do if events were written in the order
  they arrive and gathered by contact later, many at a time.

Python's own SQLite, not the one leadgate is built with: figures to compare with each
other, not with the server's. Prints figures only; it asserts nothing.
"""
import os, random, shutil, sqlite3, struct, sys, tempfile, time

SHAPES = {
    "today": dict(index=True, keys=True, packs=True),
    "no packs": dict(index=True, keys=True, packs=False),
    "log only": dict(index=False, keys=False, packs=False),
}
STEPS = ("look-up", "insert", "last pack row", "pack append", "feed", "commit", "checkpoint")
ROW_BYTES = 960  # crate::packs::ROW_BYTES


def record(kind, at, url):
    k, u = kind.encode(), url.encode()
    return struct.pack(">qI", at, len(k)) + k + struct.pack(">I", len(u)) + u


def run(path, shape, batches, emails):
    db = sqlite3.connect(path, isolation_level=None)
    for p in ("journal_mode=WAL", "synchronous=FULL", f"foreign_keys={int(shape['keys'])}",
              "temp_store=memory", "secure_delete=on", "cache_size=-65536",
              "wal_autocheckpoint=0"):
        db.execute("PRAGMA " + p)
    if not shape["index"]:
        # Its pages are zeroed (secure_delete) and checkpointed before the clock starts.
        db.execute("DROP INDEX events_contact")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rng = random.Random(7)
    spent = dict.fromkeys(STEPS, 0.0)
    now = int(time.time() * 1e6)
    started = time.perf_counter()

    def step(name, since):
        t = time.perf_counter()
        spent[name] += t - since
        return t

    for b in range(batches):
        batch = [rng.choice(emails) for _ in range(100)]
        t = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        wanted = sorted(set(batch))
        sql = f"SELECT email, COALESCE(merged_into, id) FROM contacts WHERE email IN ({','.join('?' * len(wanted))})"
        ids = dict(db.execute(sql, wanted).fetchall())
        t = step("look-up", t)
        rows = [(ids[e], e, None, "page_view", now + b * 100 + i, "https://www.bench.example/pricing", "{}", now)
                for i, e in enumerate(batch)]
        db.execute("INSERT INTO events (contact_id, email, visitor_id, kind, at, url, props, received_at) VALUES "
                   + ",".join(["(?,?,?,?,?,?,?,?)"] * len(rows)), [x for r in rows for x in r])
        t = step("insert", t)
        contacts = sorted(set(r[0] for r in rows))
        if shape["packs"]:
            sql = ("SELECT v.column1, (SELECT seq FROM event_packs WHERE contact_id = v.column1 ORDER BY seq DESC LIMIT 1), "
                   "(SELECT length(events) FROM event_packs WHERE contact_id = v.column1 ORDER BY seq DESC LIMIT 1) "
                   f"FROM (VALUES {','.join(['(?)'] * len(contacts))}) AS v")
            last = {c: (s, n) for c, s, n in db.execute(sql, contacts).fetchall()}
            t = step("last pack row", t)
            appends, new_rows = [], []
            for c in contacts:
                packed = b"".join(record(r[3], r[4], r[5]) for r in rows if r[0] == c)
                seq, length = last.get(c, (None, None))
                if seq is not None and length + len(packed) <= ROW_BYTES:
                    appends.append((c, seq, packed))
                else:
                    new_rows.append((c, 0 if seq is None else seq + 1, packed))
            if appends:
                db.execute("UPDATE event_packs SET events = event_packs.events || v.column3 FROM (VALUES "
                           + ",".join(["(?,?,?)"] * len(appends))
                           + ") AS v WHERE event_packs.contact_id = v.column1 AND event_packs.seq = v.column2",
                           [x for r in appends for x in r])
            if new_rows:
                db.execute("INSERT INTO event_packs (contact_id, seq, events) VALUES "
                           + ",".join(["(?,?,?)"] * len(new_rows)), [x for r in new_rows for x in r])
            t = step("pack append", t)
        db.execute("INSERT INTO changes (contact_id, kinds, detail, at) VALUES " + ",".join(["(?,?,?,?)"] * len(contacts)),
                   [x for c in contacts for x in (c, 16, '{"events":1}', now)])
        t = step("feed", t)
        db.execute("COMMIT")
        t = step("commit", t)
        if (b + 1) % 100 == 0:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            step("checkpoint", t)
    elapsed = time.perf_counter() - started
    db.close()
    return batches * 100 / elapsed, {k: v / (batches * 100) * 1e6 for k, v in spent.items()}


def main():
    source, batches = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    random.seed(7)
    emails = [e for (e,) in db.execute(
        "SELECT email FROM contacts WHERE email IS NOT NULL AND merged_into IS NULL ORDER BY random() LIMIT 10000")]
    db.close()
    work = tempfile.mkdtemp()
    try:
        print(f"{batches} transactions of 100 events, 10,000 known contacts, uniform; writer µs per event")
        print(f"{'shape':10} {'events/s':>10} {'µs/event':>9}  " + "  ".join(f"{s:>13}" for s in STEPS))
        for name, shape in SHAPES.items():
            copy = os.path.join(work, "copy.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(copy + suffix):
                    os.remove(copy + suffix)
            shutil.copyfile(source, copy)
            rate, steps = run(copy, shape, batches, emails)
            print(f"{name:10} {rate:>10,.0f} {1e6 / rate:>9.1f}  " + "  ".join(f"{steps[s]:>13.1f}" for s in STEPS))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
