-- Rig schema v1 (PostgreSQL). Keep in step with sqlite/0001_initial.sql: same tables, columns and meanings.
CREATE TABLE model_revisions (
    rev         BIGINT PRIMARY KEY,
    author      TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
-- Every model object as a JSON row valid from rev_from until rev_to (exclusive); rev_to NULL = current.
CREATE TABLE model_entities (
    kind      TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    rev_from  BIGINT  NOT NULL,
    rev_to    BIGINT  NULL,
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
    size          BIGINT  NOT NULL,
    service       TEXT    NULL,
    reboot        BIGINT  NOT NULL,
    metadata      TEXT    NOT NULL,
    imported_at   BIGINT  NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX ix_packages_sha256 ON packages (sha256);

CREATE TABLE device_runtime (
    device          TEXT    PRIMARY KEY,
    poke_host       TEXT    NULL,
    poke_port       BIGINT  NULL,
    agent_version   TEXT    NULL,
    last_seen_at    BIGINT  NULL,
    recorded_state  TEXT    NOT NULL,
    inventory       TEXT    NULL,
    updated_at      BIGINT  NOT NULL
);

CREATE TABLE certificates (
    thumbprint  TEXT    PRIMARY KEY,
    device      TEXT    NOT NULL,
    serial      TEXT    NOT NULL,
    issued_at   BIGINT  NOT NULL,
    not_after   BIGINT  NOT NULL,
    revoked_at  BIGINT  NULL
);
CREATE INDEX ix_certificates_device ON certificates (device);

CREATE TABLE enrollment_tokens (
    token_hash  TEXT    PRIMARY KEY,
    device      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT  NULL
);

CREATE TABLE operator_tokens (
    token_hash  TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    revoked_at  BIGINT  NULL
);

CREATE TABLE queues (
    id           TEXT    PRIMARY KEY,
    device       TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    position     BIGINT  NOT NULL,
    length       BIGINT  NOT NULL,
    model_rev    BIGINT  NULL,
    reason       TEXT    NOT NULL,
    error        TEXT    NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    finished_at  BIGINT  NULL
);
-- One active queue per device: queues never interleave on a device (CHECKLIST 26).
CREATE UNIQUE INDEX ux_queues_active ON queues (device) WHERE status IN ('pending', 'running', 'rebooting');
CREATE INDEX ix_queues_device ON queues (device, created_at);

CREATE TABLE commands (
    id           TEXT    PRIMARY KEY,
    queue_id     TEXT    NOT NULL REFERENCES queues (id),
    seq          BIGINT  NOT NULL,
    kind         TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    role_kind    TEXT    NULL,
    reason       TEXT    NOT NULL,
    spec         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    deliveries   BIGINT  NOT NULL,
    sent_at      BIGINT  NULL,
    finished_at  BIGINT  NULL,
    result       TEXT    NULL,
    UNIQUE (queue_id, seq)
);
