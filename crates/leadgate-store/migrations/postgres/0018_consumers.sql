-- The consumers inside leadgate that follow the change feed (scoring first): how far
-- each has handled it, which server holds it now and until when, and how many entries
-- it has handled in all. The position advances in the same transaction as what the
-- consumer did, so after a crash it starts again exactly where its last commit left it.
CREATE TABLE consumers (
    name            TEXT PRIMARY KEY NOT NULL,
    position_major  BIGINT NOT NULL DEFAULT 0,
    position_minor  BIGINT NOT NULL DEFAULT 0,
    holder          TEXT,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    handled         BIGINT NOT NULL DEFAULT 0
);
