-- Qualification: what qualifiers record, scoring models, lead definitions, and the
-- scores each contact carries.

-- BANT fields as a qualifier or seller recorded them: {"budget": …, "authority": …}.
ALTER TABLE contacts ADD COLUMN qualification TEXT NOT NULL DEFAULT '{}';

-- Every version of every scoring model: `spec` is the model as JSON, `source` as it
-- was written (TOML or JSON).
CREATE TABLE scoring_models (
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    spec        TEXT NOT NULL,
    source      TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

-- Every version of every lead definition.
CREATE TABLE definitions (
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    expression  TEXT NOT NULL,
    note        TEXT,
    author      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

-- What is active: the scoring model (kind 'scoring', name ''), and each definition
-- that is live (kind 'definition'). Every activation is also logged.
CREATE TABLE activations (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    target      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE activation_log (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    version     INTEGER,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL
);

-- The scores of each contact: `assessment` is everything behind them (the rules that
-- held, each engagement rule's sum as of `as_of`, the grades and their reasons).
CREATE TABLE contact_scores (
    contact_id          BLOB PRIMARY KEY NOT NULL REFERENCES contacts (id),
    model               TEXT NOT NULL,
    fit                 INTEGER NOT NULL,
    engagement          REAL NOT NULL,
    funnel_position     TEXT NOT NULL,
    pain                TEXT NOT NULL,
    assessment          TEXT NOT NULL,
    as_of               INTEGER NOT NULL,
    likelihood          REAL,
    likelihood_factors  TEXT
) WITHOUT ROWID;
