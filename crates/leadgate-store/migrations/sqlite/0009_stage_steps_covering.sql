-- What reading a contact's history needs of its stage changes (where it went, when,
-- for what value) is kept in the index of stage changes by contact, so that a
-- backtest or training reads it without a look-up of each change in the table.
DROP INDEX stage_changes_contact;
CREATE INDEX stage_changes_contact ON stage_changes (contact_id, at, to_stage, value);
