-- Tokens are kept in the order they arrive (a rowid table) rather than by
-- hash. A sync's batch then appends its rows to a few pages, where rows
-- placed by a random hash put nearly every token on a page of its own in
-- the WAL. The hash stays the primary key, as a unique index of its own.
--
-- Each batch of tokens a sync stores is a row of offline_batches, and its
-- tokens name it. When every pending token of a batch is paid, the batch
-- row is marked settled instead of each token's row: a token whose row
-- says pending and whose batch is settled is settled, at the batch's time
-- (the store's reads say so). Tokens paid one by one (a retry) have their
-- own row marked. Tokens stored before this migration are in batch 0.

CREATE TABLE offline_batches (
	id         INTEGER PRIMARY KEY,
	settled_at INTEGER NOT NULL -- 0 until every pending token of the batch is paid
) STRICT;

CREATE INDEX offline_batches_open ON offline_batches (id) WHERE settled_at = 0;

INSERT INTO offline_batches (id, settled_at) VALUES (0, 0);

CREATE TABLE offline_tokens_ordered (
	hash         BLOB PRIMARY KEY,
	payer        BLOB NOT NULL,
	counter      BLOB NOT NULL,
	prev         BLOB NOT NULL,
	payee        BLOB NOT NULL,
	payee_wallet BLOB NOT NULL,
	amount       INTEGER NOT NULL,
	kind         INTEGER NOT NULL,
	status       TEXT NOT NULL, -- pending: see the batch's settled_at
	source       TEXT NOT NULL,
	fraud_case   BLOB NOT NULL, -- zero id when none
	problem      TEXT NOT NULL,
	raw          BLOB NOT NULL,
	uploaded_at  INTEGER NOT NULL,
	settled_at   INTEGER NOT NULL,
	batch        INTEGER NOT NULL
) STRICT;

INSERT INTO offline_tokens_ordered
	SELECT hash, payer, counter, prev, payee, payee_wallet, amount, kind, status, source, fraud_case, problem, raw, uploaded_at, settled_at, 0
	FROM offline_tokens ORDER BY uploaded_at, payer, counter, hash;
DROP TABLE offline_tokens;
ALTER TABLE offline_tokens_ordered RENAME TO offline_tokens;

-- Not unique: a device that double-spent signed two tokens of one counter.
CREATE INDEX offline_tokens_payer ON offline_tokens (payer, counter);
CREATE INDEX offline_tokens_batch ON offline_tokens (batch, status);
