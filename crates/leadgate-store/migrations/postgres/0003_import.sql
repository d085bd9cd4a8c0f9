-- Import, identity and history: owners and do-not-contact flags, deal values on
-- outcomes, external ids from other systems, the record of what imports changed,
-- and import jobs.
ALTER TABLE contacts ADD COLUMN owner TEXT;
ALTER TABLE contacts ADD COLUMN do_not_email BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE contacts ADD COLUMN do_not_call BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE stage_changes ADD COLUMN value BIGINT;

-- A contact as another system knows it: (system, id) names exactly one contact.
CREATE TABLE external_ids (
    system       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    contact_id   UUID NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (system, external_id)
);
CREATE INDEX external_ids_contact ON external_ids (contact_id);

-- What changed on a contact, when, and why: {"field": {"from": …, "to": …}}.
CREATE TABLE contact_changes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id  UUID NOT NULL REFERENCES contacts (id),
    at          BIGINT NOT NULL,
    cause       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    changes     JSONB NOT NULL
);
CREATE INDEX contact_changes_contact ON contact_changes (contact_id, at);

CREATE TABLE imports (
    id           UUID PRIMARY KEY,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    status       TEXT NOT NULL,
    file_name    TEXT,
    mapping      TEXT NOT NULL,
    dry_run      BOOLEAN NOT NULL,
    actor        TEXT NOT NULL,
    counts       JSONB NOT NULL DEFAULT '{}',
    errors       JSONB NOT NULL DEFAULT '[]',
    error_count  BIGINT NOT NULL DEFAULT 0,
    failure      TEXT
);
CREATE INDEX imports_created ON imports (created_at);
