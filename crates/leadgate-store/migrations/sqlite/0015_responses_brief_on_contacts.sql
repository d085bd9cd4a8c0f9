-- Each contact's responses in brief (when, which, their direction, action and
-- channel: what the index of responses by contact holds) packed on its own row, so
-- that a read of many contacts with their responses (a rescore, a backtest) reads one
-- row a contact: see `src/responses_brief.rs` for the format. Filled here from the
-- responses already stored, with the same expression the store packs a contact's
-- responses anew with (`PACK_RESPONSES` in `src/sqlite.rs`).
ALTER TABLE contacts ADD COLUMN responses_brief BLOB NOT NULL DEFAULT x'';

UPDATE contacts SET responses_brief = packed.responses
FROM (
    SELECT contact_id, unhex(group_concat(
            printf('%016x', at) || hex(id)
                || printf('%08x', length(CAST(direction AS BLOB))) || hex(direction)
                || printf('%08x', length(CAST(action AS BLOB))) || hex(action)
                || CASE WHEN channel IS NULL THEN 'FFFFFFFF' ELSE printf('%08x', length(CAST(channel AS BLOB))) || hex(channel) END,
            '' ORDER BY at, id)) AS responses
    FROM responses GROUP BY contact_id
) AS packed
WHERE packed.contact_id = contacts.id;
