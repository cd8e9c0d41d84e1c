-- The ledger engine's durable state on PostgreSQL: the same tables, keys
-- and meaning as sqlite/migrations/0001_ledger.sql.
--
-- Portability to distributed SQL engines (CockroachDB, YugabyteDB): every
-- key is chosen by the client (16-byte ids) or by the engine (nanosecond
-- timestamps), never by a sequence or a serial; nothing relies on advisory
-- locks, triggers, or on the physical order of rows. A zero id is stored
-- as NULL. Ids are bytea of 16 bytes; amounts, timestamps and hashes are
-- bigint (a hash is the uint64's bits); metadata is bytea, since a
-- transfer's metadata may hold any bytes, NUL included, which text cannot.

-- fillfactor leaves room in every page of accounts, so that the new
-- version of a row whose balances change fits beside the old one: a HOT
-- update, which writes no index entry. Every batch updates the rows of all
-- the accounts it touches, and no indexed column of them ever changes.
CREATE TABLE accounts (
	id               bytea   NOT NULL PRIMARY KEY CHECK (length(id) = 16),
	currency         text    NOT NULL,
	code             integer NOT NULL,
	flags            integer NOT NULL,
	credit_line      bigint  NOT NULL,
	balance_max      bigint  NOT NULL,
	debit_max        bigint  NOT NULL,
	daily_debit_max  bigint  NOT NULL,
	yearly_debit_max bigint  NOT NULL,
	-- A freeze: no transfer until this moment (Unix nanoseconds), zero for
	-- none. The state flags live in flags.
	frozen_until     bigint  NOT NULL,
	debits_pending   bigint  NOT NULL,
	debits_posted    bigint  NOT NULL,
	credits_pending  bigint  NOT NULL,
	credits_posted   bigint  NOT NULL,
	day              integer NOT NULL,
	day_debits       bigint  NOT NULL,
	year             integer NOT NULL,
	year_debits      bigint  NOT NULL,
	-- The timestamp of the account's latest transfer, zero if none: the
	-- head of its history.
	last_transfer    bigint  NOT NULL,
	-- The timestamp up to which the balance columns include the account's
	-- transfers: rows are rewritten lazily, and the engine replays the
	-- transfers after this on start.
	checkpoint       bigint  NOT NULL,
	timestamp        bigint  NOT NULL
) WITH (fillfactor = 70);

CREATE INDEX accounts_timestamp ON accounts (timestamp);

-- The timestamp is the engine's strictly increasing clock: the primary key
-- and the order of appends. id is NULL on the records the engine writes
-- when a hold expires (a unique index allows any number of NULLs).
--
-- debit_previous and credit_previous link each side to the account's
-- previous transfer (zero for its first): an account's history is walked
-- from accounts.last_transfer backwards by primary-key look-ups, so no
-- index keyed by account is written at a random place on every transfer.
-- A link always points back in time, which keeps every walk finite.
CREATE TABLE transfers (
	timestamp         bigint  NOT NULL PRIMARY KEY,
	id                bytea   UNIQUE CHECK (length(id) = 16),
	debit_account_id  bytea   NOT NULL,
	credit_account_id bytea   NOT NULL,
	amount            bigint  NOT NULL,
	pending_id        bytea,
	pending_amount    bigint  NOT NULL,
	debit_previous    bigint  NOT NULL CHECK (debit_previous >= 0 AND debit_previous < timestamp),
	credit_previous   bigint  NOT NULL CHECK (credit_previous >= 0 AND credit_previous < timestamp),
	timeout_seconds   bigint  NOT NULL,
	code              integer NOT NULL,
	flags             integer NOT NULL,
	metadata          bytea   NOT NULL,
	hash              bigint  NOT NULL
);

CREATE INDEX transfers_pending ON transfers (pending_id) WHERE pending_id IS NOT NULL;

-- A failed transfer keeps its id, what the client sent (to tell a retry from
-- a conflict) and its result, so the id keeps failing the same way.
CREATE TABLE transfer_failures (
	id                bytea   NOT NULL PRIMARY KEY CHECK (length(id) = 16),
	debit_account_id  bytea,
	credit_account_id bytea,
	amount            bigint  NOT NULL,
	pending_id        bytea,
	timeout_seconds   bigint  NOT NULL,
	code              integer NOT NULL,
	flags             integer NOT NULL,
	metadata          bytea   NOT NULL,
	hash              bigint  NOT NULL,
	result            integer NOT NULL,
	timestamp         bigint  NOT NULL
);

CREATE INDEX transfer_failures_timestamp ON transfer_failures (timestamp);

-- Open holds, keyed by their pending transfer's timestamp. expires_at is Unix
-- nanoseconds, zero for a hold without timeout.
CREATE TABLE holds (
	timestamp  bigint NOT NULL PRIMARY KEY,
	expires_at bigint NOT NULL
);

-- One row: where the engine's replay over the balance rows starts.
CREATE TABLE replay (
	one            integer NOT NULL PRIMARY KEY CHECK (one = 1),
	from_timestamp bigint  NOT NULL
);
INSERT INTO replay (one, from_timestamp) VALUES (1, 0);
