-- Spend: what was paid to bring contacts in, over a period, against a channel,
-- vendor, campaign or offer; amounts in minor units of the workspace's currency, with
-- what was given (currency, amount, rate) beside them.
CREATE TABLE spend (
    id              BLOB PRIMARY KEY NOT NULL,
    amount          BIGINT NOT NULL,
    currency_given  TEXT NOT NULL,
    amount_given    BIGINT NOT NULL,
    rate            REAL,
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    direction       TEXT,
    channel         TEXT,
    vendor          TEXT,
    campaign        TEXT,
    offer           TEXT,
    note            TEXT,
    recorded_at     BIGINT NOT NULL,
    recorded_by     TEXT NOT NULL
);

-- The workspace's settings (its currency), each with who set it and when.
CREATE TABLE settings (
    name    TEXT PRIMARY KEY NOT NULL,
    value   TEXT NOT NULL,
    set_at  BIGINT NOT NULL,
    set_by  TEXT NOT NULL
);
