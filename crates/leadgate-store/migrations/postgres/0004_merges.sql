-- Merging duplicates, and import progress.

-- When an import's counts last moved: a running import that stopped moving was
-- interrupted.
ALTER TABLE imports ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

-- A contact merged into another stays, hidden, so that its email still leads to the
-- contact it became and the merge can be undone.
ALTER TABLE contacts ADD COLUMN merged_into UUID REFERENCES contacts (id);
CREATE INDEX contacts_merged_into ON contacts (merged_into) WHERE merged_into IS NOT NULL;

-- One merge: both contacts as they were (`before`, JSON), and the ids of every record
-- moved from one to the other (`moved`, JSON), which is what undoing needs.
CREATE TABLE merges (
    id          UUID PRIMARY KEY,
    contact_id  UUID NOT NULL REFERENCES contacts (id),
    other_id    UUID NOT NULL REFERENCES contacts (id),
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    before      JSONB NOT NULL,
    moved       JSONB NOT NULL,
    undone_at   BIGINT,
    undone_by   TEXT
);
CREATE INDEX merges_contact ON merges (contact_id, at);
CREATE INDEX merges_other ON merges (other_id, at);
