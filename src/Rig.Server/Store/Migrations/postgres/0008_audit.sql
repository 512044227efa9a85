-- Rig schema v8 (postgres): the tamper-evident audit log (docs/OPERATIONS.md, "Audit log"). Append-only: every entry
-- carries the hash of the one before it (prev_hash) and its own hash over a canonical encoding of all its fields
-- (Store/AuditChain.cs), so an entry altered, removed or moved breaks the chain where it happened. audit_head is the
-- chain's newest seq and hash, one row, read and updated by every append under the writer's lock (on PostgreSQL
-- FOR UPDATE), so concurrent writers can never fork the chain; it also shows entries removed from the end. seq starts at
-- 1; the first entry's prev_hash is the genesis value (64 zeros). v7 is another change's number. Keep in step with
-- sqlite/0008.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    operator TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    device TEXT,
    customer TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_device ON audit_log (device, seq);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
