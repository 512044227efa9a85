-- Rig schema v4 (sqlite): a check-in whose inventory is unchanged (apart from when it was collected) writes no
-- inventory: the digest of its canonical JSON without collectedAt and freeBytes (which change every time) is kept,
-- and only those two columns are updated. Plans read free_bytes without loading the inventory.
-- inventory_version counts the writes of the inventory column; inventory_note says why the last inventory the
-- device sent was dropped (over the limits, control characters), until a good one arrives. Keep in step with postgres/0004.
ALTER TABLE device_runtime ADD COLUMN inventory_digest TEXT NULL;
ALTER TABLE device_runtime ADD COLUMN inventory_collected_at INTEGER NULL;
ALTER TABLE device_runtime ADD COLUMN inventory_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_runtime ADD COLUMN inventory_note TEXT NULL;
ALTER TABLE device_runtime ADD COLUMN inventory_free_bytes INTEGER NULL;
UPDATE device_runtime SET inventory_free_bytes = json_extract(inventory, '$.freeBytes') WHERE inventory IS NOT NULL;
