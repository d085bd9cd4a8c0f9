-- Events waiting for their visitor or email to become a known contact, indexed by
-- bucket (65,536 consecutive event ids) first and key second.
--
-- SQLite's WAL writes every page a commit touches in full. Keyed by visitor or email
-- alone, each anonymous event landed on a random page of an index that grows with
-- every anonymous event, so the pages written per commit, and with them the time a
-- commit takes, grew without bound (batched ingestion halved within 3 million waiting
-- events). With the bucket first, new entries only ever go into the newest bucket,
-- whose pages stay few and hot. Identifying a visitor costs one index search per
-- bucket instead of one in all (see WAITING_BUCKETS in src/sqlite.rs).
DROP INDEX events_waiting_visitor;
DROP INDEX events_waiting_email;
CREATE INDEX events_waiting_visitor ON events ((id >> 16), visitor_id)
    WHERE contact_id IS NULL AND visitor_id IS NOT NULL;
CREATE INDEX events_waiting_email ON events ((id >> 16), email)
    WHERE contact_id IS NULL AND email IS NOT NULL;
