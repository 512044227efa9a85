-- Rig schema v6 (postgres): how long a rollout waits for a device's agent to ask for its queue before the device fails
-- (--device-timeout; rollouts made before v6 get the default, 30 minutes). A device with nothing to do when the rollout
-- starts is in no wave: its rollout_devices.wave is -1. Keep in step with sqlite/0006.
ALTER TABLE rollouts ADD COLUMN device_timeout_ms BIGINT NOT NULL DEFAULT 1800000;
