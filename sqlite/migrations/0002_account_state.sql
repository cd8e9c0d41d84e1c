-- An account's freeze: no transfer until this moment (Unix nanoseconds),
-- zero for none. Its state flags live in flags.
ALTER TABLE accounts ADD COLUMN frozen_until INTEGER NOT NULL DEFAULT 0;
