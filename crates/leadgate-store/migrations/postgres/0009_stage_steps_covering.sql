-- What reading a contact's history needs of its stage changes (where it went, when,
-- for what value, and the row's id that orders changes at one moment) is kept in the
-- index of stage changes by contact, so that a backtest or training can read it with
-- an index-only scan.
DROP INDEX stage_changes_contact;
CREATE INDEX stage_changes_contact ON stage_changes (contact_id, at, to_stage) INCLUDE (value, id);
