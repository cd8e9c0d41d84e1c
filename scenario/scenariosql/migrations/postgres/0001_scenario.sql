-- The scenario domain's own tables on PostgreSQL, as in
-- migrations/sqlite/0001_scenario.sql. Ids are 16-byte bytea,
-- amounts bigint of the smallest unit, times Unix nanoseconds (0 = unset).

CREATE TABLE templates (
	id           bytea   NOT NULL,
	operator     bytea   NOT NULL,
	name         text    NOT NULL,
	balance_max  bigint  NOT NULL,
	payment_max  bigint  NOT NULL,
	daily_max    bigint  NOT NULL,
	merchants    text    NOT NULL, -- JSON array of wallet ids
	categories   text    NOT NULL, -- JSON array of merchant category codes
	regions      text    NOT NULL, -- JSON array of regions
	expires_at   bigint  NOT NULL,
	withdrawable boolean NOT NULL,
	created_at   bigint  NOT NULL,
	CONSTRAINT templates_pkey PRIMARY KEY (id)
);

CREATE INDEX templates_operator ON templates (operator, created_at, id);

CREATE TABLE sub_wallets (
	wallet            bytea  NOT NULL,
	parent            bytea  NOT NULL,
	template          bytea  NOT NULL,
	operator          bytea  NOT NULL,
	expires_at        bigint NOT NULL,
	charge_merchant   bytea  NOT NULL,
	charge_granted_at bigint NOT NULL,
	charge_revoked_at bigint NOT NULL,
	created_at        bigint NOT NULL,
	ended_at          bigint NOT NULL, -- expired, swept back and closed
	CONSTRAINT sub_wallets_pkey PRIMARY KEY (wallet)
);

CREATE INDEX sub_wallets_parent ON sub_wallets (parent, created_at, wallet);
CREATE INDEX sub_wallets_expiry ON sub_wallets (ended_at, expires_at, wallet);
