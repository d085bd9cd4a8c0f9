-- Safe on the open internet, personal data with a lifecycle.
--
-- What a response said of the contact's own fields (name, company, …), kept as sent:
-- a public inquiry no longer rewrites what is known of a contact.
ALTER TABLE responses ADD COLUMN contact_fields JSONB NOT NULL DEFAULT '{}';

-- Where a browser that posted a form is sent afterwards.
ALTER TABLE forms ADD COLUMN thank_you_url TEXT;

-- Consent, per purpose: each grant and withdrawal, the latest in force.
CREATE TABLE consents (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id  UUID NOT NULL REFERENCES contacts (id),
    purpose     TEXT NOT NULL,
    granted     BOOLEAN NOT NULL,
    source      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT
);
CREATE INDEX consents_contact ON consents (contact_id, at);

-- A contact's legal hold and erasure ({at, actor, reason}, or NULL).
CREATE TABLE contact_privacy (
    contact_id  UUID PRIMARY KEY NOT NULL REFERENCES contacts (id),
    legal_hold  JSONB,
    erased      JSONB
);

-- What was done to personal data, by whom and why.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    contact_id  UUID,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_contact ON audit_log (contact_id, id) WHERE contact_id IS NOT NULL;

-- Retention: raw bodies, addresses and browsers of inquiries are removed a while
-- after they were processed, oldest first, each kind up to where its sweep got.
ALTER TABLE inbox ADD COLUMN body_removed_at BIGINT;
CREATE INDEX inbox_processed ON inbox (processed_at) WHERE processed_at IS NOT NULL;
CREATE TABLE retention_sweeps (
    what   TEXT PRIMARY KEY NOT NULL,
    up_to  BIGINT NOT NULL
);
