-- The waiting-event indexes hold only events that carry the key they are searched by:
-- an event with a visitor id and no email has no place in the email index.
-- (PostgreSQL logs index changes as small records, not whole pages, so random keys do
-- not slow its commits down the way they do SQLite's; see the SQLite migration 0002.)
DROP INDEX events_waiting_visitor;
DROP INDEX events_waiting_email;
CREATE INDEX events_waiting_visitor ON events (visitor_id) WHERE contact_id IS NULL AND visitor_id IS NOT NULL;
CREATE INDEX events_waiting_email ON events (email) WHERE contact_id IS NULL AND email IS NOT NULL;
