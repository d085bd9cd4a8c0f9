-- Foundation: accounts, contacts, responses, events, stage history, forms, keys, inbox.
-- Instants are microseconds since the Unix epoch (BIGINT); ids are UUIDv7 (UUID).

CREATE TABLE accounts (
    id          UUID PRIMARY KEY NOT NULL,
    domain      TEXT NOT NULL UNIQUE,
    name        TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE contacts (
    id          UUID PRIMARY KEY NOT NULL,
    email       TEXT UNIQUE,
    first_name  TEXT,
    last_name   TEXT,
    company     TEXT,
    title       TEXT,
    phone       TEXT,
    country     TEXT,
    account_id  UUID REFERENCES accounts (id),
    direction   TEXT NOT NULL,
    channel     TEXT,
    stage       TEXT NOT NULL,
    stage_at    BIGINT NOT NULL,
    custom      JSONB NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX contacts_stage ON contacts (stage, id);
CREATE INDEX contacts_direction ON contacts (direction, id);
CREATE INDEX contacts_channel ON contacts (channel, id);
CREATE INDEX contacts_account ON contacts (account_id);

CREATE TABLE visitors (
    visitor_id     TEXT PRIMARY KEY NOT NULL,
    contact_id     UUID NOT NULL REFERENCES contacts (id),
    identified_at  BIGINT NOT NULL
);

CREATE TABLE responses (
    id            UUID PRIMARY KEY NOT NULL,
    contact_id    UUID NOT NULL REFERENCES contacts (id),
    at            BIGINT NOT NULL,
    direction     TEXT NOT NULL,
    channel       TEXT,
    campaign      TEXT,
    placement     TEXT,
    referrer      TEXT,
    vendor        TEXT,
    action        TEXT NOT NULL,
    obtained_via  TEXT NOT NULL,
    offer         TEXT,
    form_id       UUID,
    message       TEXT,
    fields        JSONB NOT NULL DEFAULT '{}',
    junk          TEXT,
    inbox_id      UUID
);
CREATE INDEX responses_contact ON responses (contact_id, at);

CREATE TABLE events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id   UUID REFERENCES contacts (id),
    email        TEXT,
    visitor_id   TEXT,
    kind         TEXT NOT NULL,
    at           BIGINT NOT NULL,
    url          TEXT,
    props        JSONB NOT NULL DEFAULT '{}',
    received_at  BIGINT NOT NULL
);
CREATE INDEX events_contact ON events (contact_id, at) WHERE contact_id IS NOT NULL;
-- Events waiting for their visitor or email to become a known contact.
CREATE INDEX events_waiting_visitor ON events (visitor_id) WHERE contact_id IS NULL;
CREATE INDEX events_waiting_email ON events (email) WHERE contact_id IS NULL;

CREATE TABLE stage_changes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id  UUID NOT NULL REFERENCES contacts (id),
    from_stage  TEXT,
    to_stage    TEXT NOT NULL,
    at          BIGINT NOT NULL,
    cause       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    actor       TEXT NOT NULL
);
CREATE INDEX stage_changes_contact ON stage_changes (contact_id, at);
CREATE INDEX stage_changes_to ON stage_changes (to_stage, at);

CREATE TABLE forms (
    id               UUID PRIMARY KEY NOT NULL,
    key              TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    channel          TEXT,
    offer            TEXT,
    campaign         TEXT,
    allowed_origins  JSONB NOT NULL DEFAULT '[]',
    created_at       BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          UUID PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    key_hash    BYTEA NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE inbox (
    id            UUID PRIMARY KEY NOT NULL,
    received_at   BIGINT NOT NULL,
    form_key      TEXT,
    content_type  TEXT,
    query         TEXT,
    body          BYTEA NOT NULL,
    remote_ip     TEXT,
    user_agent    TEXT,
    status        TEXT NOT NULL,
    error         TEXT,
    contact_id    UUID,
    response_id   UUID,
    processed_at  BIGINT,
    attempts      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX inbox_status ON inbox (status, received_at);
