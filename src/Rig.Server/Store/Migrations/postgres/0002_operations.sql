-- Rig schema v2 (PostgreSQL): rendered configuration contents (for plan diffs and as-of views), rollouts.
-- Keep in step with sqlite/0002_operations.sql.
CREATE TABLE rendered_files (
    sha256   TEXT PRIMARY KEY,
    content  TEXT NOT NULL
);

CREATE TABLE rollouts (
    id            TEXT    PRIMARY KEY,
    rev           BIGINT  NOT NULL,
    selector      TEXT    NOT NULL,
    canary        BIGINT  NOT NULL,
    batch         TEXT    NOT NULL,
    max_parallel  BIGINT  NOT NULL,
    max_failures  BIGINT  NOT NULL,
    status        TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    purpose       TEXT    NULL,      -- e.g. decommission:web-3 (work to do when the rollout succeeds)
    created_by    TEXT    NOT NULL,
    error         TEXT    NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    finished_at   BIGINT  NULL
);
CREATE INDEX ix_rollouts_status ON rollouts (status);

CREATE TABLE rollout_devices (
    rollout_id  TEXT    NOT NULL REFERENCES rollouts (id),
    device      TEXT    NOT NULL,
    position    BIGINT  NOT NULL,
    wave        BIGINT  NOT NULL,
    status      TEXT    NOT NULL,
    queue_id    TEXT    NULL,
    detail      TEXT    NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (rollout_id, device)
);
CREATE INDEX ix_rollout_devices_device ON rollout_devices (device, status);

CREATE TABLE scripts (
    name        TEXT    PRIMARY KEY,
    description TEXT    NOT NULL,
    commands    TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
