-- Rig schema v7 (sqlite): the trust hierarchy (docs/SECURITY.md). Operators belong to teams; a grant gives a team verbs
-- (allowed or denied) on a scope over the model; operator tokens are named, expire and belong to one operator.
-- Grants are never updated in place: a change revokes the row and adds a new one, so who/when/why stays readable.
-- Every operator of a gateway made before v7 becomes a member of the team "admins", which may do everything, so an
-- upgrade locks nobody out. Keep in step with postgres/0007.
CREATE TABLE operators (
    name        TEXT    PRIMARY KEY,
    created_at  INTEGER  NOT NULL,
    created_by  TEXT    NOT NULL
);

CREATE TABLE teams (
    name        TEXT    PRIMARY KEY,
    description TEXT    NULL,
    created_at  INTEGER  NOT NULL,
    created_by  TEXT    NOT NULL
);

CREATE TABLE team_members (
    team        TEXT    NOT NULL,
    operator    TEXT    NOT NULL,
    added_at    INTEGER  NOT NULL,
    added_by    TEXT    NOT NULL,
    PRIMARY KEY (team, operator)
);
CREATE INDEX ix_team_members_operator ON team_members (operator);

CREATE TABLE grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team          TEXT    NOT NULL,
    deny          INTEGER  NOT NULL,   -- 1: the verbs are denied on the scope (a deny wins over every allow)
    verbs         TEXT    NOT NULL,   -- JSON array of verb names
    scope         TEXT    NOT NULL,   -- JSON {customers, sites, kinds, devices}; {} = everything
    reason        TEXT    NOT NULL,
    created_at    INTEGER  NOT NULL,
    created_by    TEXT    NOT NULL,
    revoked_at    INTEGER  NULL,
    revoked_by    TEXT    NULL,
    revoke_reason TEXT    NULL
);
CREATE INDEX ix_grants_team ON grants (team, revoked_at);

-- operator_tokens.name stays the operator's name; token_name names the token (unique among live tokens).
ALTER TABLE operator_tokens ADD COLUMN token_name TEXT NULL;
ALTER TABLE operator_tokens ADD COLUMN expires_at INTEGER NULL;
ALTER TABLE operator_tokens ADD COLUMN created_by TEXT NULL;
UPDATE operator_tokens SET token_name = name || '-' || substr(token_hash, 1, 8), created_by = name;
CREATE UNIQUE INDEX ux_operator_tokens_live_name ON operator_tokens (token_name) WHERE revoked_at IS NULL;

INSERT INTO operators (name, created_at, created_by) SELECT name, MIN(created_at), 'migration' FROM operator_tokens GROUP BY name;
INSERT INTO teams (name, description, created_at, created_by)
    SELECT 'admins', 'The provider''s administrators: every verb on everything.', COALESCE(MIN(created_at), 0), 'migration' FROM operator_tokens;
INSERT INTO team_members (team, operator, added_at, added_by) SELECT 'admins', name, created_at, 'migration' FROM operators;
INSERT INTO grants (team, deny, verbs, scope, reason, created_at, created_by, revoked_at, revoked_by, revoke_reason)
    SELECT 'admins', 0, '["*"]', '{}', 'every operator before the trust hierarchy could do everything', COALESCE(MIN(created_at), 0), 'migration', NULL, NULL, NULL FROM operator_tokens;
