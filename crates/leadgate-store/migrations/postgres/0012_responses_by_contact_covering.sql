-- What an assessment or a backtest reads of a contact's responses, when its rules read
-- no more of them than their time, action, channel and direction, is kept in the index
-- of responses by contact, so that a batch of contacts' responses is read from the
-- index alone, without a look-up of each response in the table.
DROP INDEX responses_contact;
CREATE INDEX responses_contact ON responses (contact_id, at, action, channel, direction, id);
