"""What SQLite's one writer spends on each event of a known contact, statement by
statement, and what it would spend if the event path wrote less.

    python3 bench/lib/event_writes.py DATABASE [BATCHES] [SHAPE,SHAPE…]

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
  they arrive and gathered by contact later;
- gather 20k, gather 100k: the same, and every 20,000 (or 100,000) events those not
  yet gathered are read in the order they came, appended to their contacts' packs and
  put in the index by contact (a partial index of the events marked gathered), in a
  transaction of their own: what the whole path costs when each contact's pages are
  changed once for all the events it had meanwhile;
- log + state, log + state 2k: log only, and each contact's scoring state (a row of
  120 bytes per contact, as incremental scoring would keep: each rule's decayed sum,
  counts by day) rewritten for the contacts of each transaction, or once every 2,000
  events (a page of the scoring consumer) for the contacts those had: what the
  writer would spend if scoring updated a small state from a log written in arrival
  order instead of reading each contact's history.

Python's own SQLite, not the one leadgate is built with: figures to compare with each
other, not with the server's. Prints figures only; it asserts nothing.
"""
import os, random, shutil, sqlite3, struct, sys, tempfile, time

SHAPES = {
    "today": dict(index="now", keys=True, packs=True, gather=None),
    "no packs": dict(index="now", keys=True, packs=False, gather=None),
    "log only": dict(index=None, keys=False, packs=False, gather=None),
    "gather 20k": dict(index="later", keys=False, packs=False, gather=20_000),
    "gather 100k": dict(index="later", keys=False, packs=False, gather=100_000),
    "log + state": dict(index=None, keys=False, packs=False, gather=None, state=100),
    "log + state 2k": dict(index=None, keys=False, packs=False, gather=None, state=2_000),
}
STEPS = ("look-up", "insert", "last pack row", "pack append", "feed", "commit", "checkpoint", "gather", "state")
STATE_BYTES = 120
ROW_BYTES = 960  # crate::packs::ROW_BYTES


def record(kind, at, url):
    k, u = kind.encode(), url.encode()
    return struct.pack(">qI", at, len(k)) + k + struct.pack(">I", len(u)) + u


def last_pack_rows(db, contacts):
    sql = ("SELECT v.column1, (SELECT seq FROM event_packs WHERE contact_id = v.column1 ORDER BY seq DESC LIMIT 1), "
           "(SELECT length(events) FROM event_packs WHERE contact_id = v.column1 ORDER BY seq DESC LIMIT 1) "
           f"FROM (VALUES {','.join(['(?)'] * len(contacts))}) AS v")
    return {c: (s, n) for c, s, n in db.execute(sql, contacts).fetchall()}


def append_to_packs(db, events, last=None):
    """Appends `events` (contact, kind, at, url) to their contacts' packs, as the store
    does: each contact's to its last row while it has room, the rest in a new row.
    `last`: where each contact's pack ends, when found already."""
    by_contact = {}
    for c, kind, at, url in events:
        by_contact.setdefault(c, []).append(record(kind, at, url))
    contacts = sorted(by_contact)
    if last is None:
        last = {}
        for i in range(0, len(contacts), 500):
            last.update(last_pack_rows(db, contacts[i:i + 500]))
    appends, new_rows = [], []
    for c in contacts:
        packed = b"".join(by_contact[c])
        seq, length = last.get(c, (None, None))
        if seq is not None and length + len(packed) <= ROW_BYTES:
            appends.append((c, seq, packed))
        else:
            new_rows.append((c, 0 if seq is None else seq + 1, packed))
    for i in range(0, len(appends), 300):
        chunk = appends[i:i + 300]
        db.execute("UPDATE event_packs SET events = event_packs.events || v.column3 FROM (VALUES "
                   + ",".join(["(?,?,?)"] * len(chunk))
                   + ") AS v WHERE event_packs.contact_id = v.column1 AND event_packs.seq = v.column2",
                   [x for r in chunk for x in r])
    for i in range(0, len(new_rows), 300):
        chunk = new_rows[i:i + 300]
        db.execute("INSERT INTO event_packs (contact_id, seq, events) VALUES "
                   + ",".join(["(?,?,?)"] * len(chunk)) + " ON CONFLICT (contact_id, seq) DO UPDATE "
                   "SET events = event_packs.events || excluded.events", [x for r in chunk for x in r])


def run(path, shape, batches, emails):
    db = sqlite3.connect(path, isolation_level=None)
    for p in ("journal_mode=WAL", "synchronous=FULL", f"foreign_keys={int(shape['keys'])}",
              "temp_store=memory", "secure_delete=on", "cache_size=-65536",
              "wal_autocheckpoint=0"):
        db.execute("PRAGMA " + p)
    # Set up before the clock starts, and checkpointed (dropping an index zeroes its pages).
    if shape["index"] != "now":
        db.execute("DROP INDEX events_contact")
    if shape["index"] == "later":
        # Events gathered into the index by contact (and the packs) later, many at a time.
        db.execute("ALTER TABLE events ADD COLUMN gathered INTEGER NOT NULL DEFAULT 1")
        db.execute("CREATE INDEX events_contact ON events (contact_id, at) WHERE contact_id IS NOT NULL AND gathered")
    if shape.get("state"):
        # Every contact has its state already: a rewrite changes a row in place.
        db.execute("CREATE TABLE contact_state (contact_id BLOB PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID")
        db.execute("INSERT INTO contact_state SELECT id, zeroblob(?) FROM contacts ORDER BY id", (STATE_BYTES,))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    gathered = db.execute("SELECT max(id) FROM events").fetchone()[0]
    columns = "contact_id, email, visitor_id, kind, at, url, props, received_at"
    if shape["index"] == "later":
        columns += ", gathered"
    marks = "(" + ",".join("?" * len(columns.split(","))) + ")"
    rng = random.Random(7)
    spent = dict.fromkeys(STEPS, 0.0)
    now = int(time.time() * 1e6)
    started = time.perf_counter()

    def step(name, since):
        t = time.perf_counter()
        spent[name] += t - since
        return t

    def gather(t):
        nonlocal gathered
        db.execute("BEGIN IMMEDIATE")
        events = db.execute("SELECT id, contact_id, kind, at, url FROM events WHERE id > ? ORDER BY id",
                            (gathered,)).fetchall()
        if events:
            append_to_packs(db, [e[1:] for e in events])
            db.execute("UPDATE events SET gathered = 1 WHERE id > ? AND id <= ?", (gathered, events[-1][0]))
            gathered = events[-1][0]
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return step("gather", t)

    stale = set()

    def rewrite_state(t):
        db.execute("BEGIN IMMEDIATE")
        contacts = sorted(stale)
        for i in range(0, len(contacts), 300):
            chunk = contacts[i:i + 300]
            db.execute("UPDATE contact_state SET state = v.column2 FROM (VALUES "
                       + ",".join(["(?,?)"] * len(chunk)) + ") AS v WHERE contact_state.contact_id = v.column1",
                       [x for c in chunk for x in (c, os.urandom(STATE_BYTES))])
        db.execute("COMMIT")
        stale.clear()
        return step("state", t)

    for b in range(batches):
        batch = [rng.choice(emails) for _ in range(100)]
        t = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        wanted = sorted(set(batch))
        sql = f"SELECT email, COALESCE(merged_into, id) FROM contacts WHERE email IN ({','.join('?' * len(wanted))})"
        ids = dict(db.execute(sql, wanted).fetchall())
        t = step("look-up", t)
        rows = [(ids[e], e, None, "page_view", now + b * 100 + i, "https://www.bench.example/pricing", "{}", now)
                + ((0,) if shape["index"] == "later" else ())
                for i, e in enumerate(batch)]
        db.execute(f"INSERT INTO events ({columns}) VALUES " + ",".join([marks] * len(rows)),
                   [x for r in rows for x in r])
        t = step("insert", t)
        contacts = sorted(set(r[0] for r in rows))
        if shape["packs"]:
            # One step each, as the store takes them: where each contact's pack ends, then the append.
            last = last_pack_rows(db, contacts)
            t = step("last pack row", t)
            append_to_packs(db, [(r[0], r[3], r[4], r[5]) for r in rows], last)
            t = step("pack append", t)
        db.execute("INSERT INTO changes (contact_id, kinds, detail, at) VALUES " + ",".join(["(?,?,?,?)"] * len(contacts)),
                   [x for c in contacts for x in (c, 16, '{"events":1}', now)])
        t = step("feed", t)
        db.execute("COMMIT")
        t = step("commit", t)
        if (b + 1) % 100 == 0:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            t = step("checkpoint", t)
        if shape["gather"] and ((b + 1) * 100) % shape["gather"] == 0:
            t = gather(t)
        if shape.get("state"):
            stale.update(contacts)
            if ((b + 1) * 100) % shape["state"] == 0:
                t = rewrite_state(t)
    if shape["gather"]:
        gather(time.perf_counter())  # the rest, so that every event is gathered
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
    only = sys.argv[3].split(",") if len(sys.argv) > 3 else list(SHAPES)
    work = tempfile.mkdtemp()
    try:
        print(f"{batches} transactions of 100 events, 10,000 known contacts, uniform; writer µs per event")
        print(f"{'shape':12} {'events/s':>10} {'µs/event':>9}  " + "  ".join(f"{s:>13}" for s in STEPS))
        for name, shape in ((n, SHAPES[n]) for n in only):
            copy = os.path.join(work, "copy.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(copy + suffix):
                    os.remove(copy + suffix)
            shutil.copyfile(source, copy)
            rate, steps = run(copy, shape, batches, emails)
            print(f"{name:12} {rate:>10,.0f} {1e6 / rate:>9.1f}  " + "  ".join(f"{steps[s]:>13.1f}" for s in STEPS))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
