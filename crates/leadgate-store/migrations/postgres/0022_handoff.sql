-- Hand-off: teams and their queues, users in teams, the accounts they own, the
-- routing rules by version, and the items of work in queues.
CREATE TABLE teams (
    id          UUID PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    -- The name in lower case: two teams are never named alike.
    name_key    TEXT NOT NULL UNIQUE,
    direction   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE queues (
    id          UUID PRIMARY KEY NOT NULL,
    team_id     UUID NOT NULL UNIQUE REFERENCES teams (id),
    sla         JSONB NOT NULL,
    calendar    JSONB NOT NULL,
    escalation  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id          UUID PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    team_id     UUID REFERENCES teams (id),
    capacity    BIGINT NOT NULL,
    -- The weight of the open items assigned to them, kept with each assignment.
    load        BIGINT NOT NULL DEFAULT 0,
    territories JSONB NOT NULL,
    away_until  BIGINT,
    -- The turn they last took in their team's rotation.
    turn        BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);
CREATE INDEX users_team ON users (team_id);

-- Who owns which account, by its email domain: a contact there goes to them.
CREATE TABLE account_owners (
    domain   TEXT PRIMARY KEY NOT NULL,
    user_id  UUID NOT NULL REFERENCES users (id)
);
CREATE INDEX account_owners_user ON account_owners (user_id);

ALTER TABLE api_keys ADD COLUMN user_id UUID REFERENCES users (id);

-- Every version of the routing rules; the latest is in force.
CREATE TABLE routing_rules (
    version     BIGINT PRIMARY KEY NOT NULL,
    spec        JSONB NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);

-- A contact handed to a queue: open until Sales accepts or rejects it (or it moves on).
-- The order of the work is kept in ascending columns, so that one index serves it and
-- a page starts after a key: due first, then the highest pain, the highest score, the
-- latest interest (negated), then id.
CREATE TABLE queue_items (
    id                   UUID PRIMARY KEY NOT NULL,
    contact_id           UUID NOT NULL,
    queue_id             UUID NOT NULL REFERENCES queues (id),
    assignee_id          UUID REFERENCES users (id),
    rule                 TEXT,
    rules_version        BIGINT NOT NULL,
    reason               TEXT NOT NULL,
    weight               BIGINT NOT NULL,
    queued_at            BIGINT NOT NULL,
    sla_due_at           BIGINT NOT NULL,
    first_action_at      BIGINT,
    first_action_by      TEXT,
    first_action_seconds BIGINT,
    breached_at          BIGINT,
    escalations          BIGINT NOT NULL DEFAULT 0,
    closed_at            BIGINT,
    outcome              TEXT,
    pain_order           BIGINT NOT NULL,
    score_order          DOUBLE PRECISION NOT NULL,
    interest_order       BIGINT NOT NULL
);
-- A contact is in one queue at a time.
CREATE UNIQUE INDEX queue_items_open_contact ON queue_items (contact_id) WHERE closed_at IS NULL;
CREATE INDEX queue_items_contact ON queue_items (contact_id, queued_at);
CREATE INDEX queue_items_work ON queue_items (queue_id, sla_due_at, pain_order, score_order, interest_order, id)
    WHERE closed_at IS NULL;
-- What the SLA sweep looks at: open items not acted on, not yet breached, by due time.
CREATE INDEX queue_items_due ON queue_items (sla_due_at)
    WHERE closed_at IS NULL AND first_action_at IS NULL AND breached_at IS NULL;
CREATE INDEX queue_items_assignee ON queue_items (assignee_id) WHERE closed_at IS NULL;
CREATE INDEX queue_items_queued ON queue_items (queue_id, queued_at);

-- The audit log is read by actor and by time too.
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_at ON audit_log (at, id);
