-- Each contact's events packed together (kind, time, page), a few rows a contact,
-- for reads of many contacts' events at once (rescores, backtests): see
-- `src/packs.rs` for the format. Filled here from the events already stored, with
-- the same expression the store repacks a contact with (`PACK_EVENTS` in
-- `src/sqlite.rs`).
CREATE TABLE event_packs (
    contact_id  BLOB NOT NULL REFERENCES contacts (id),
    seq         INTEGER NOT NULL,
    events      BLOB NOT NULL,
    PRIMARY KEY (contact_id, seq)
) WITHOUT ROWID;

INSERT INTO event_packs (contact_id, seq, events)
SELECT contact_id, 0, unhex(group_concat(
        printf('%016x%08x', at, length(CAST(kind AS BLOB))) || hex(kind)
            || CASE WHEN url IS NULL THEN 'FFFFFFFF' ELSE printf('%08x', length(CAST(url AS BLOB))) || hex(url) END,
        '' ORDER BY at, id))
FROM events WHERE contact_id IS NOT NULL GROUP BY contact_id;

-- What the index of events by contact kept of each event for those reads (its kind
-- and page, since 0008) the packs keep now: it goes back to finding a contact's
-- events, which costs every event written less.
DROP INDEX events_contact;
CREATE INDEX events_contact ON events (contact_id, at) WHERE contact_id IS NOT NULL;
