-- What a large import costs: indexes shaped by it, and fingerprints of imported rows.
--
-- No query reads these two, and their keys arrive in random order: every imported row
-- landed on a random page of each, so that a large import rewrote most of their pages
-- at every commit (more than half of what a 1,000,000-row import wrote). An index
-- comes back with the query that needs it.
DROP INDEX stage_changes_to;
DROP INDEX contacts_account;
-- Half of all contacts have either direction: a list filtered by direction finds a
-- page of them by walking the contacts newest first about as fast as through an index.
DROP INDEX contacts_direction;
-- An import recognises history it already holds by these columns: kept in the index,
-- they are read without visiting the rows (a re-import reads every contact's history).
DROP INDEX responses_contact;
CREATE INDEX responses_contact ON responses (contact_id, at, action, channel);
DROP INDEX stage_changes_contact;
CREATE INDEX stage_changes_contact ON stage_changes (contact_id, at, to_stage);
-- The fingerprint of the imported row last applied to the contact: a re-import skips
-- a row whose contact already holds its fingerprint, without reading the contact.
ALTER TABLE contacts ADD COLUMN import_fingerprint INTEGER;
