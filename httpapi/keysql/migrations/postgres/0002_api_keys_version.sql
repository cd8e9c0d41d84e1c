-- The latest version and the keys changed since a version are read by
-- this index, so a node learns of new keys in time independent of their
-- number.
CREATE UNIQUE INDEX api_keys_version ON api_keys (version);
