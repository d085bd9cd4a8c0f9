-- Each contact's events packed together (kind, time, page), a few rows a contact,
-- for reads of many contacts' events at once (rescores, backtests): see
-- `src/packs.rs` for the format. Filled here from the events already stored, with
-- the same expression the store repacks a contact with (`PACK_EVENTS` in
-- `src/postgres.rs`).
CREATE TABLE event_packs (
    contact_id  UUID NOT NULL REFERENCES contacts (id),
    seq         INTEGER NOT NULL,
    events      BYTEA NOT NULL,
    PRIMARY KEY (contact_id, seq)
);

INSERT INTO event_packs (contact_id, seq, events)
SELECT contact_id, 0, string_agg(
        int8send(at) || int4send(octet_length(kind)) || convert_to(kind, 'UTF8')
            || CASE WHEN url IS NULL THEN decode('ffffffff', 'hex')
                    ELSE int4send(octet_length(url)) || convert_to(url, 'UTF8') END,
        ''::bytea ORDER BY at, id)
FROM events WHERE contact_id IS NOT NULL GROUP BY contact_id;

-- What the index of events by contact kept of each event for those reads (its kind
-- and page, since 0008) the packs keep now: it goes back to finding a contact's
-- events, which costs every event written less.
DROP INDEX events_contact;
CREATE INDEX events_contact ON events (contact_id, at) WHERE contact_id IS NOT NULL;
