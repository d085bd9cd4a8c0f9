-- Import, identity and history: owners and do-not-contact flags, deal values on
-- outcomes, external ids from other systems, the record of what imports changed,
-- and import jobs.
ALTER TABLE contacts ADD COLUMN owner TEXT;
ALTER TABLE contacts ADD COLUMN do_not_email BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN do_not_call BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE stage_changes ADD COLUMN value INTEGER;

-- A contact as another system knows it: (system, id) names exactly one contact.
CREATE TABLE external_ids (
    system       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    contact_id   BLOB NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (system, external_id)
) WITHOUT ROWID;
CREATE INDEX external_ids_contact ON external_ids (contact_id);

-- What changed on a contact, when, and why: {"field": {"from": …, "to": …}}.
CREATE TABLE contact_changes (
    id          INTEGER PRIMARY KEY,
    contact_id  BLOB NOT NULL REFERENCES contacts (id),
    at          INTEGER NOT NULL,
    cause       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    changes     TEXT NOT NULL
);
CREATE INDEX contact_changes_contact ON contact_changes (contact_id, at);

CREATE TABLE imports (
    id           BLOB PRIMARY KEY NOT NULL,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    status       TEXT NOT NULL,
    file_name    TEXT,
    mapping      TEXT NOT NULL,
    dry_run      BOOLEAN NOT NULL,
    actor        TEXT NOT NULL,
    counts       TEXT NOT NULL DEFAULT '{}',
    errors       TEXT NOT NULL DEFAULT '[]',
    error_count  INTEGER NOT NULL DEFAULT 0,
    failure      TEXT
);
CREATE INDEX imports_created ON imports (created_at);
