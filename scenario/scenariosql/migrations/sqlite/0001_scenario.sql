-- The scenario domain's own tables. Ids are 16-byte blobs, amounts
-- integers of the smallest unit, times Unix nanoseconds (0 = unset).

CREATE TABLE templates (
	id           BLOB PRIMARY KEY,
	operator     BLOB NOT NULL,
	name         TEXT NOT NULL,
	balance_max  INTEGER NOT NULL,
	payment_max  INTEGER NOT NULL,
	daily_max    INTEGER NOT NULL,
	merchants    TEXT NOT NULL, -- JSON array of wallet ids
	categories   TEXT NOT NULL, -- JSON array of merchant category codes
	regions      TEXT NOT NULL, -- JSON array of regions
	expires_at   INTEGER NOT NULL,
	withdrawable INTEGER NOT NULL,
	created_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX templates_operator ON templates (operator, created_at, id);

CREATE TABLE sub_wallets (
	wallet            BLOB PRIMARY KEY,
	parent            BLOB NOT NULL,
	template          BLOB NOT NULL,
	operator          BLOB NOT NULL,
	expires_at        INTEGER NOT NULL,
	charge_merchant   BLOB NOT NULL,
	charge_granted_at INTEGER NOT NULL,
	charge_revoked_at INTEGER NOT NULL,
	created_at        INTEGER NOT NULL,
	ended_at          INTEGER NOT NULL  -- expired, swept back and closed
) STRICT, WITHOUT ROWID;

CREATE INDEX sub_wallets_parent ON sub_wallets (parent, created_at, wallet);
CREATE INDEX sub_wallets_expiry ON sub_wallets (ended_at, expires_at, wallet);
