-- The contract domain's own tables, in contract.db beside the ledger's
-- file. Ids are 16-byte blobs, times Unix nanoseconds (0 = unset);
-- documents, runtimes and invocation bodies are JSON text.

CREATE TABLE contract_parties (
	id         BLOB PRIMARY KEY,
	operator   BLOB NOT NULL,
	name       TEXT NOT NULL,
	public_key BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE contracts (
	id          BLOB PRIMARY KEY,
	hash        TEXT NOT NULL,
	operator    BLOB NOT NULL,
	wallet      BLOB NOT NULL,
	document    TEXT NOT NULL, -- the canonical JSON, byte for byte
	status      TEXT NOT NULL,
	version     INTEGER NOT NULL,
	runtime     TEXT NOT NULL, -- JSON of contract.Runtime
	deployed_by TEXT NOT NULL,
	deployed_at INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX contracts_operator ON contracts (operator, id);

-- Invocations are appended in the order they are created (the rowid), so
-- a new one does not rewrite a random page of the table; sequence
-- numbers a contract's from 1, as max + 1 under the write lock.
CREATE TABLE contract_invocations (
	contract BLOB NOT NULL,
	key      TEXT NOT NULL,
	id       BLOB NOT NULL,
	sequence INTEGER NOT NULL,
	outcome  TEXT NOT NULL,
	at       INTEGER NOT NULL,
	body     TEXT NOT NULL, -- JSON of the rest of contract.Invocation
	UNIQUE (contract, key)
) STRICT;

CREATE UNIQUE INDEX contract_invocations_sequence ON contract_invocations (contract, sequence);
CREATE INDEX contract_invocations_pending ON contract_invocations (at, contract, sequence) WHERE outcome = 'pending';

-- A timer fired keeps its row (fired_at set), so adding it again, by a
-- retried invocation, does not make it fire twice.
CREATE TABLE contract_timers (
	contract BLOB NOT NULL,
	key      TEXT NOT NULL,
	trigger  TEXT NOT NULL,
	due_at   INTEGER NOT NULL,
	n        INTEGER NOT NULL,
	of       TEXT NOT NULL,
	fired_at INTEGER, -- NULL while it waits
	PRIMARY KEY (contract, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX contract_timers_due ON contract_timers (due_at, contract, key) WHERE fired_at IS NULL;
