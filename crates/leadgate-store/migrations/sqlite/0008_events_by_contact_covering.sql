-- What assessments and backtests read of a contact's events (kind, time, page) is
-- kept in the index of events by contact, so that reading them needs no look-up of
-- each event in the table, where a contact's events lie scattered in the order they
-- arrived. Properties are read from the table, only when a rule reads them.
DROP INDEX events_contact;
CREATE INDEX events_contact ON events (contact_id, at, kind, url) WHERE contact_id IS NOT NULL;
