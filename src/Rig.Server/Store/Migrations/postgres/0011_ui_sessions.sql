-- Rig schema v11 (postgres): web UI sessions (docs/UI.md, Sign-in). The browser holds a random session id in an HttpOnly
-- cookie; only its SHA-256 is kept here, with the hash of the operator token it was opened with, so revoking or
-- expiring that token ends the session on every gateway sharing this database. Keep in step with sqlite/0011.
CREATE TABLE ui_sessions (
    id_hash     TEXT      PRIMARY KEY,
    token_hash  TEXT      NOT NULL,
    operator    TEXT      NOT NULL,
    created_at  BIGINT    NOT NULL,
    expires_at  BIGINT    NOT NULL,   -- idle deadline, moved on by use, never past max_at
    max_at      BIGINT    NOT NULL,   -- absolute end: sign in again after it
    ended_at    BIGINT    NULL        -- signed out
);
CREATE INDEX ix_ui_sessions_expires ON ui_sessions (expires_at);
