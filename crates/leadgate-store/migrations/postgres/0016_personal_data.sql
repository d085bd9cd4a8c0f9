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

-- A response judged junk says nothing of the person it names: it stays in the
-- timeline, but not in the contact's responses in brief, which assessments read.
UPDATE contacts SET responses_brief = COALESCE((
    SELECT string_agg(
            int8send(at) || uuid_send(id)
                || int4send(octet_length(direction)) || convert_to(direction, 'UTF8')
                || int4send(octet_length(action)) || convert_to(action, 'UTF8')
                || CASE WHEN channel IS NULL THEN decode('ffffffff', 'hex') ELSE int4send(octet_length(channel)) || convert_to(channel, 'UTF8') END,
            ''::bytea ORDER BY at, id)
    FROM responses r WHERE r.contact_id = contacts.id AND r.junk IS NULL), ''::bytea)
WHERE id IN (SELECT contact_id FROM responses WHERE junk IS NOT NULL);

-- Erasure deletes a contact's visitor ids.
CREATE INDEX visitors_contact ON visitors (contact_id);
