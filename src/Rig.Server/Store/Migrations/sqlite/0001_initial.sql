-- Rig schema v1 (SQLite). Keep in step with postgres/0001_initial.sql: same tables, columns and meanings.
CREATE TABLE model_revisions (
    rev         INTEGER PRIMARY KEY,
    author      TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
-- Every model object as a JSON row valid from rev_from until rev_to (exclusive); rev_to NULL = current.
CREATE TABLE model_entities (
    kind      TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    rev_from  INTEGER NOT NULL,
    rev_to    INTEGER NULL,
    body      TEXT    NOT NULL,
    PRIMARY KEY (kind, name, rev_from)
);
CREATE INDEX ix_model_entities_current ON model_entities (rev_to, kind);

CREATE TABLE packages (
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    format        TEXT    NOT NULL,
    os_family     TEXT    NOT NULL,
    architecture  TEXT    NOT NULL,
    sha256        TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    service       TEXT    NULL,
    reboot        INTEGER NOT NULL,
    metadata      TEXT    NOT NULL,
    imported_at   INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX ix_packages_sha256 ON packages (sha256);

CREATE TABLE device_runtime (
    device          TEXT    PRIMARY KEY,
    poke_host       TEXT    NULL,
    poke_port       INTEGER NULL,
    agent_version   TEXT    NULL,
    last_seen_at    INTEGER NULL,
    recorded_state  TEXT    NOT NULL,
    inventory       TEXT    NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE certificates (
    thumbprint  TEXT    PRIMARY KEY,
    device      TEXT    NOT NULL,
    serial      TEXT    NOT NULL,
    issued_at   INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    revoked_at  INTEGER NULL
);
CREATE INDEX ix_certificates_device ON certificates (device);

CREATE TABLE enrollment_tokens (
    token_hash  TEXT    PRIMARY KEY,
    device      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER NULL
);

CREATE TABLE operator_tokens (
    token_hash  TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER NULL
);

CREATE TABLE queues (
    id           TEXT    PRIMARY KEY,
    device       TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    position     INTEGER NOT NULL,
    length       INTEGER NOT NULL,
    model_rev    INTEGER NULL,
    reason       TEXT    NOT NULL,
    error        TEXT    NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER NULL
);
-- One active queue per device: queues never interleave on a device (CHECKLIST 26).
CREATE UNIQUE INDEX ux_queues_active ON queues (device) WHERE status IN ('pending', 'running', 'rebooting');
CREATE INDEX ix_queues_device ON queues (device, created_at);

CREATE TABLE commands (
    id           TEXT    PRIMARY KEY,
    queue_id     TEXT    NOT NULL REFERENCES queues (id),
    seq          INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    role_kind    TEXT    NULL,
    reason       TEXT    NOT NULL,
    spec         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    deliveries   INTEGER NOT NULL,
    sent_at      INTEGER NULL,
    finished_at  INTEGER NULL,
    result       TEXT    NULL,
    UNIQUE (queue_id, seq)
);
