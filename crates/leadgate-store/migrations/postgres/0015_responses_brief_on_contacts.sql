-- Each contact's responses in brief (when, which, their direction, action and
-- channel: what the index of responses by contact holds) packed on its own row, so
-- that a read of many contacts with their responses (a rescore, a backtest) reads one
-- row a contact: see `src/responses_brief.rs` for the format. Filled here from the
-- responses already stored, with the same expression the store packs a contact's
-- responses anew with (`PACK_RESPONSES` in `src/postgres.rs`).
ALTER TABLE contacts ADD COLUMN responses_brief BYTEA NOT NULL DEFAULT ''::bytea;

UPDATE contacts SET responses_brief = packed.responses
FROM (
    SELECT contact_id, string_agg(
            int8send(at) || uuid_send(id)
                || int4send(octet_length(direction)) || convert_to(direction, 'UTF8')
                || int4send(octet_length(action)) || convert_to(action, 'UTF8')
                || CASE WHEN channel IS NULL THEN decode('ffffffff', 'hex') ELSE int4send(octet_length(channel)) || convert_to(channel, 'UTF8') END,
            ''::bytea ORDER BY at, id) AS responses
    FROM responses GROUP BY contact_id
) AS packed
WHERE packed.contact_id = contacts.id;
