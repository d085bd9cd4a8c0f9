-- Qualification: what qualifiers record, scoring models, lead definitions, and the
-- scores each contact carries.

-- BANT fields as a qualifier or seller recorded them: {"budget": …, "authority": …}.
ALTER TABLE contacts ADD COLUMN qualification JSONB NOT NULL DEFAULT '{}';

-- Every version of every scoring model: `spec` is the model as JSON, `source` as it
-- was written (TOML or JSON).
CREATE TABLE scoring_models (
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    spec        JSONB NOT NULL,
    source      TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Every version of every lead definition.
CREATE TABLE definitions (
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    expression  TEXT NOT NULL,
    note        TEXT,
    author      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- What is active: the scoring model (kind 'scoring', name ''), and each definition
-- that is live (kind 'definition'). Every activation is also logged.
CREATE TABLE activations (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    target      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE activation_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    version     BIGINT,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL
);

-- The scores of each contact: `assessment` is everything behind them (the rules that
-- held, each engagement rule's sum as of `as_of`, the grades and their reasons).
CREATE TABLE contact_scores (
    contact_id          UUID PRIMARY KEY REFERENCES contacts (id),
    model               TEXT NOT NULL,
    fit                 BIGINT NOT NULL,
    engagement          DOUBLE PRECISION NOT NULL,
    funnel_position     TEXT NOT NULL,
    pain                TEXT NOT NULL,
    assessment          JSONB NOT NULL,
    as_of               BIGINT NOT NULL,
    likelihood          DOUBLE PRECISION,
    likelihood_factors  JSONB
);
