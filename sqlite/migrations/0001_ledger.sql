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
	-- A freeze: no transfer until this moment (Unix nanoseconds), zero for
	-- none. The state flags live in flags.
	frozen_until     INTEGER NOT NULL,
	debits_pending   INTEGER NOT NULL,
	debits_posted    INTEGER NOT NULL,
	credits_pending  INTEGER NOT NULL,
	credits_posted   INTEGER NOT NULL,
	day              INTEGER NOT NULL,
	day_debits       INTEGER NOT NULL,
	year             INTEGER NOT NULL,
	year_debits      INTEGER NOT NULL,
	-- The timestamp of the account's latest transfer, zero if none: the
	-- head of its history.
	last_transfer    INTEGER NOT NULL,
	-- The timestamp up to which the balance columns include the account's
	-- transfers: rows are rewritten lazily, and the engine replays the
	-- transfers after this on start.
	checkpoint       INTEGER NOT NULL,
	timestamp        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Only accounts are ever inserted into this index; balance updates leave it alone.
CREATE INDEX accounts_timestamp ON accounts (timestamp);

-- The timestamp is the engine's strictly increasing clock, so it is both the
-- primary key and the order of appends. id is NULL on the records the engine
-- writes when a hold expires.
--
-- debit_previous and credit_previous link each side to the account's
-- previous transfer (zero for its first), so an account's history is walked
-- from accounts.last_transfer backwards by primary-key look-ups. There is no
-- index keyed by account: a batch would insert into it at a place of its
-- own for every account it touches, dirtying about one page per account,
-- where the links only append to transfers and change the account rows
-- the balances change anyway. A link always points back in time, which
-- keeps every walk finite.
CREATE TABLE transfers (
	timestamp         INTEGER NOT NULL PRIMARY KEY,
	id                BLOB    UNIQUE,
	debit_account_id  BLOB    NOT NULL,
	credit_account_id BLOB    NOT NULL,
	amount            INTEGER NOT NULL,
	pending_id        BLOB,
	pending_amount    INTEGER NOT NULL,
	debit_previous    INTEGER NOT NULL CHECK (debit_previous >= 0 AND debit_previous < timestamp),
	credit_previous   INTEGER NOT NULL CHECK (credit_previous >= 0 AND credit_previous < timestamp),
	timeout_seconds   INTEGER NOT NULL,
	code              INTEGER NOT NULL,
	flags             INTEGER NOT NULL,
	metadata          TEXT    NOT NULL,
	hash              INTEGER NOT NULL
) STRICT;

CREATE INDEX transfers_pending ON transfers (pending_id) WHERE pending_id IS NOT NULL;

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

-- One row: where the engine's replay over the balance rows starts.
CREATE TABLE replay (
	one  INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
	from_timestamp INTEGER NOT NULL
) STRICT;
INSERT INTO replay (one, from_timestamp) VALUES (1, 0);
