-- The change feed: one entry per contact per transaction that changed it.
--
-- Numbers from a sequence are not handed out in commit order, so an entry's position is
-- (the id of the transaction that wrote it, or a later one: see change_heads; its
-- number): readers read only entries whose first part is older than every transaction
-- still running, so no entry can appear behind their cursor.
CREATE TABLE changes (
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    contact_id  UUID NOT NULL,
    kinds       INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (xid, seq)
);

-- The first part of the position of each contact's last entry. A transaction whose id
-- is older than that (it got its id first but commits after) takes that part instead of
-- its own, so that one contact's entries are in the order their changes committed.
CREATE TABLE change_heads (
    contact_id  UUID PRIMARY KEY NOT NULL,
    xid         xid8 NOT NULL
);

-- This database's feed: a number that every cursor names (so that a cursor of another
-- database is refused), and the position up to which old entries were pruned.
CREATE TABLE change_feed (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    feed          BIGINT NOT NULL,
    pruned_major  BIGINT NOT NULL DEFAULT 0,
    pruned_minor  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO change_feed (id, feed) VALUES (1, floor(random() * 4503599627370496)::bigint);
