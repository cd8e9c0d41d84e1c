-- One-off requests, as in migrations/sqlite/0003_one_off_requests.sql.
ALTER TABLE requests ADD COLUMN one_off boolean NOT NULL DEFAULT false;
