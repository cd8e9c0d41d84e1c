-- The ledger engine's durable state: accounts with their balances, posted
-- transfers, failed transfer ids and open holds.
--
-- Keys are chosen by the client (16-byte ids) or by the engine (nanosecond
-- timestamps), never by a sequence, so the schema carries over to
-- PostgreSQL and to distributed SQL engines. A zero id is stored as NULL.
-- Tables are STRICT: a value of the wrong type is an error, never coerced.

CREATE TABLE accounts (
	id               BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
	currency         TEXT    NOT NULL,
	code             INTEGER NOT NULL,
	flags            INTEGER NOT NULL,
	credit_line      INTEGER NOT NULL,
	balance_max      INTEGER NOT NULL,
	debit_max        INTEGER NOT NULL,
	daily_debit_max  INTEGER NOT NULL,
	yearly_debit_max INTEGER NOT NULL,
	debits_pending   INTEGER NOT NULL,
	debits_posted    INTEGER NOT NULL,
	credits_pending  INTEGER NOT NULL,
	credits_posted   INTEGER NOT NULL,
	day              INTEGER NOT NULL,
	day_debits       INTEGER NOT NULL,
	year             INTEGER NOT NULL,
	year_debits      INTEGER NOT NULL,
	timestamp        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Only accounts are ever inserted into this index; balance updates leave it alone.
CREATE INDEX accounts_timestamp ON accounts (timestamp);

-- The timestamp is the engine's strictly increasing clock, so it is both the
-- primary key and the order of appends. id is NULL on the records the engine
-- writes when a hold expires.
CREATE TABLE transfers (
	timestamp         INTEGER NOT NULL PRIMARY KEY,
	id                BLOB    UNIQUE,
	debit_account_id  BLOB    NOT NULL,
	credit_account_id BLOB    NOT NULL,
	amount            INTEGER NOT NULL,
	pending_id        BLOB,
	pending_amount    INTEGER NOT NULL,
	timeout_seconds   INTEGER NOT NULL,
	code              INTEGER NOT NULL,
	flags             INTEGER NOT NULL,
	metadata          TEXT    NOT NULL,
	hash              INTEGER NOT NULL
) STRICT;

CREATE INDEX transfers_pending ON transfers (pending_id) WHERE pending_id IS NOT NULL;

-- The transfers of each account, debit and credit side alike: the index
-- behind an account's history. It is a table rather than two indexes on
-- transfers (debit_account_id, timestamp) and (credit_account_id, timestamp)
-- because SQLite maintains an index in the order rows are inserted, which
-- for a batch is timestamp order and so a random walk over the accounts;
-- Commit inserts these rows sorted by account instead, so consecutive
-- inserts land on the same pages. With batches of 8190 transfers that cuts
-- the cost of a commit by about a third, and a history is one index range.
CREATE TABLE account_transfers (
	account_id BLOB    NOT NULL,
	timestamp  INTEGER NOT NULL,
	PRIMARY KEY (account_id, timestamp)
) STRICT, WITHOUT ROWID;

-- A failed transfer keeps its id, what the client sent (to tell a retry from
-- a conflict) and its result, so the id keeps failing the same way.
CREATE TABLE transfer_failures (
	id                BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
	debit_account_id  BLOB,
	credit_account_id BLOB,
	amount            INTEGER NOT NULL,
	pending_id        BLOB,
	timeout_seconds   INTEGER NOT NULL,
	code              INTEGER NOT NULL,
	flags             INTEGER NOT NULL,
	metadata          TEXT    NOT NULL,
	hash              INTEGER NOT NULL,
	result            INTEGER NOT NULL,
	timestamp         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX transfer_failures_timestamp ON transfer_failures (timestamp);

-- Open holds, keyed by their pending transfer's timestamp. expires_at is Unix
-- nanoseconds, zero for a hold without timeout.
CREATE TABLE holds (
	timestamp  INTEGER NOT NULL PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT;
