-- The audit log's keyed chain (issue 13). Entries up to `legacy_seq` were written with the version-1 rule
-- (plain SHA-256, without actor_user_id) and are checked with it; every later entry is an HMAC-SHA-256 under
-- the audit key kept outside the database, over every column. `mac` seals the head (count, last hash and
-- legacy_seq) with the same key: the binary writes it right after this migration and on every append.
-- Entries are NOT re-chained here: that would launder whatever was changed before the upgrade.
ALTER TABLE audit_head ADD COLUMN legacy_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_head ADD COLUMN mac TEXT;
UPDATE audit_head SET legacy_seq = seq;
