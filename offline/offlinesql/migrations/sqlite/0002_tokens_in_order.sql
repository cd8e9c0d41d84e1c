-- Tokens are kept in the order they arrive (a rowid table) rather than by
-- hash. A sync's batch then appends its rows to a few pages, and marking
-- an earlier batch settled rewrites those few pages, where rows placed by
-- a random hash put nearly every token on a page of its own in the WAL.
-- The hash stays the primary key, as a unique index of its own.

CREATE TABLE offline_tokens_ordered (
	hash         BLOB PRIMARY KEY,
	payer        BLOB NOT NULL,
	counter      BLOB NOT NULL,
	prev         BLOB NOT NULL,
	payee        BLOB NOT NULL,
	payee_wallet BLOB NOT NULL,
	amount       INTEGER NOT NULL,
	kind         INTEGER NOT NULL,
	status       TEXT NOT NULL,
	source       TEXT NOT NULL,
	fraud_case   BLOB NOT NULL, -- zero id when none
	problem      TEXT NOT NULL,
	raw          BLOB NOT NULL,
	uploaded_at  INTEGER NOT NULL,
	settled_at   INTEGER NOT NULL
) STRICT;

INSERT INTO offline_tokens_ordered SELECT * FROM offline_tokens ORDER BY uploaded_at, payer, counter, hash;
DROP TABLE offline_tokens;
ALTER TABLE offline_tokens_ordered RENAME TO offline_tokens;

-- Not unique: a device that double-spent signed two tokens of one counter.
CREATE INDEX offline_tokens_payer ON offline_tokens (payer, counter);
CREATE INDEX offline_tokens_pending ON offline_tokens (uploaded_at, payer, counter, hash) WHERE status = 'pending';
