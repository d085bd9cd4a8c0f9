-- The change feed: one entry per contact per transaction that changed it. SQLite has one
-- writer, so positions (the rowid, never reused) are handed out in commit order.
CREATE TABLE changes (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id  BLOB NOT NULL,
    kinds       INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    at          INTEGER NOT NULL
);

-- This database's feed: a number that every cursor names (so that a cursor of another
-- database is refused), and the position up to which old entries were pruned.
CREATE TABLE change_feed (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    feed          INTEGER NOT NULL,
    pruned_major  INTEGER NOT NULL DEFAULT 0,
    pruned_minor  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO change_feed (id, feed) VALUES (1, abs(random() % 4503599627370496));
