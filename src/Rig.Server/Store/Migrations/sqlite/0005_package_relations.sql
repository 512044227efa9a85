-- Rig schema v5 (sqlite): a package's relations (Depends, Provides, Conflicts, Essential) in canonical form, as JSON,
-- read with the catalog so plans resolve dependencies without parsing each package's full metadata. NULL for a
-- native package imported before v5: the gateway fills it at start-up from the package file. Keep in step with
-- postgres/0005.
ALTER TABLE packages ADD COLUMN relations TEXT NULL;

-- The device's native packages (with their relations) apart from the rest of its inventory: plans read them for
-- dependency resolution without loading whole inventories.
ALTER TABLE device_runtime ADD COLUMN native_packages TEXT NULL;
UPDATE device_runtime SET native_packages = json_extract(inventory, '$.nativePackages') WHERE inventory IS NOT NULL AND json_extract(inventory, '$.nativePackages') IS NOT NULL;
