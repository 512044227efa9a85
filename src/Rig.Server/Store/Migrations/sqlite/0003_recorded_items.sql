-- Rig schema v3 (SQLite): a device's recorded state as one row per package, file and service, so recording a
-- result writes one row instead of rewriting the device's whole state. Keep in step with postgres/0003.
CREATE TABLE recorded_items (
    device  TEXT NOT NULL,
    kind    TEXT NOT NULL,   -- package | file | service
    key     TEXT NOT NULL,   -- package name, file path, service name
    body    TEXT NOT NULL,   -- JSON of RecordedPackage / RecordedFile / RecordedService
    PRIMARY KEY (device, kind, key)
);
INSERT INTO recorded_items (device, kind, key, body)
    SELECT r.device, 'package', j.key, j.value FROM device_runtime r, json_each(r.recorded_state, '$.packages') j
    UNION ALL SELECT r.device, 'file', j.key, j.value FROM device_runtime r, json_each(r.recorded_state, '$.files') j
    UNION ALL SELECT r.device, 'service', j.key, j.value FROM device_runtime r, json_each(r.recorded_state, '$.services') j;
ALTER TABLE device_runtime DROP COLUMN recorded_state;
