-- The two-tier domain's own tables. Ids are 16-byte blobs, amounts
-- integers of the smallest unit, times Unix nanoseconds (0 = unset).

CREATE TABLE institutions (
	id            BLOB PRIMARY KEY,
	kind          TEXT NOT NULL,
	name          TEXT NOT NULL,
	net_debit_cap INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	seq           INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE wallets (
	id                BLOB PRIMARY KEY,
	operator          BLOB NOT NULL,
	kind              TEXT NOT NULL,
	category          INTEGER NOT NULL,
	holder_masked     TEXT NOT NULL,
	alias_key         TEXT UNIQUE,  -- NULL when the wallet has no alias
	alias_masked      TEXT NOT NULL,
	merchant_category TEXT NOT NULL,
	region            TEXT NOT NULL,
	state             TEXT NOT NULL,
	state_reason      TEXT NOT NULL,
	frozen_until      INTEGER NOT NULL,
	freeze_reason     TEXT NOT NULL,
	cap_version       INTEGER NOT NULL,
	holder_limits     TEXT,         -- JSON, category 1 only
	opened_at         INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX wallets_operator ON wallets (operator, id);
CREATE INDEX wallets_caps ON wallets (operator, category, cap_version);

CREATE TABLE cap_versions (
	operator       BLOB NOT NULL,
	version        INTEGER NOT NULL,
	effective_from INTEGER NOT NULL,
	caps           TEXT NOT NULL,   -- JSON: category -> limits
	set_by         TEXT NOT NULL,
	set_at         INTEGER NOT NULL,
	PRIMARY KEY (operator, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE windows (
	number     INTEGER PRIMARY KEY,
	status     TEXT NOT NULL,
	opened_at  INTEGER NOT NULL,
	closed_at  INTEGER NOT NULL,
	settled_at INTEGER NOT NULL
) STRICT;

CREATE TABLE window_positions (
	window_number INTEGER NOT NULL,
	operator BLOB NOT NULL,
	net      INTEGER NOT NULL,
	PRIMARY KEY (window_number, operator)
) STRICT, WITHOUT ROWID;

CREATE TABLE payments (
	id              BLOB PRIMARY KEY,
	payer_operator  BLOB NOT NULL,
	payee_operator  BLOB NOT NULL,
	payer_wallet    BLOB NOT NULL,
	payee_wallet    BLOB NOT NULL,
	amount          INTEGER NOT NULL,
	currency        TEXT NOT NULL,
	window_number   INTEGER NOT NULL,
	status          TEXT NOT NULL,
	reason          TEXT NOT NULL,
	payer_timestamp INTEGER NOT NULL,
	payee_timestamp INTEGER NOT NULL,
	created_at      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX payments_payer ON payments (payer_operator, created_at);
CREATE INDEX payments_payee ON payments (payee_operator, created_at);
