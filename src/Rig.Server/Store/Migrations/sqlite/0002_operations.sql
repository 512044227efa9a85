-- Rig schema v2 (SQLite): rendered configuration contents (for plan diffs and as-of views), rollouts.
-- Keep in step with postgres/0002_operations.sql.
CREATE TABLE rendered_files (
    sha256   TEXT PRIMARY KEY,
    content  TEXT NOT NULL
);

CREATE TABLE rollouts (
    id            TEXT    PRIMARY KEY,
    rev           INTEGER NOT NULL,
    selector      TEXT    NOT NULL,
    canary        INTEGER NOT NULL,
    batch         TEXT    NOT NULL,
    max_parallel  INTEGER NOT NULL,
    max_failures  INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    purpose       TEXT    NULL,      -- e.g. decommission:web-3 (work to do when the rollout succeeds)
    created_by    TEXT    NOT NULL,
    error         TEXT    NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER NULL
);
CREATE INDEX ix_rollouts_status ON rollouts (status);

CREATE TABLE rollout_devices (
    rollout_id  TEXT    NOT NULL REFERENCES rollouts (id),
    device      TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    wave        INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    queue_id    TEXT    NULL,
    detail      TEXT    NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (rollout_id, device)
);
CREATE INDEX ix_rollout_devices_device ON rollout_devices (device, status);

CREATE TABLE scripts (
    name        TEXT    PRIMARY KEY,
    description TEXT    NOT NULL,
    commands    TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
