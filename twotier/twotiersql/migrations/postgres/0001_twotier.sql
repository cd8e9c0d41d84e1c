-- The two-tier domain's own tables on PostgreSQL, as in
-- migrations/sqlite/0001_twotier.sql. Ids are 16-byte bytea,
-- amounts bigint of the smallest unit, times Unix nanoseconds (0 = unset).
-- No sequences: institutions are ordered by a seq computed on insert,
-- which is rare and off every hot path.

CREATE TABLE institutions (
	id            bytea  NOT NULL,
	kind          text   NOT NULL,
	name          text   NOT NULL,
	net_debit_cap bigint NOT NULL,
	created_at    bigint NOT NULL,
	seq           bigint NOT NULL,
	CONSTRAINT institutions_pkey PRIMARY KEY (id)
);

CREATE TABLE wallets (
	id                bytea   NOT NULL,
	operator          bytea   NOT NULL,
	kind              text    NOT NULL,
	category          integer NOT NULL,
	holder_masked     text    NOT NULL,
	alias_key         text,            -- NULL when the wallet has no alias
	alias_masked      text    NOT NULL,
	merchant_category text    NOT NULL,
	region            text    NOT NULL,
	state             text    NOT NULL,
	state_reason      text    NOT NULL,
	frozen_until      bigint  NOT NULL,
	freeze_reason     text    NOT NULL,
	cap_version       bigint  NOT NULL,
	holder_limits     text,            -- JSON, category 1 only
	opened_at         bigint  NOT NULL,
	updated_at        bigint  NOT NULL,
	CONSTRAINT wallets_pkey PRIMARY KEY (id),
	CONSTRAINT wallets_alias_key UNIQUE (alias_key)
);

CREATE INDEX wallets_operator ON wallets (operator, id);
CREATE INDEX wallets_caps ON wallets (operator, category, cap_version);

CREATE TABLE cap_versions (
	operator       bytea  NOT NULL,
	version        bigint NOT NULL,
	effective_from bigint NOT NULL,
	caps           text   NOT NULL,   -- JSON: category -> limits
	set_by         text   NOT NULL,
	set_at         bigint NOT NULL,
	CONSTRAINT cap_versions_pkey PRIMARY KEY (operator, version)
);

CREATE TABLE windows (
	number     bigint NOT NULL,
	status     text   NOT NULL,
	opened_at  bigint NOT NULL,
	closed_at  bigint NOT NULL,
	settled_at bigint NOT NULL,
	CONSTRAINT windows_pkey PRIMARY KEY (number)
);

CREATE TABLE window_positions (
	window_number bigint NOT NULL,
	operator      bytea  NOT NULL,
	net           bigint NOT NULL,
	PRIMARY KEY (window_number, operator)
);

CREATE TABLE payments (
	id              bytea  NOT NULL,
	payer_operator  bytea  NOT NULL,
	payee_operator  bytea  NOT NULL,
	payer_wallet    bytea  NOT NULL,
	payee_wallet    bytea  NOT NULL,
	amount          bigint NOT NULL,
	currency        text   NOT NULL,
	window_number   bigint NOT NULL,
	status          text   NOT NULL,
	reason          text   NOT NULL,
	payer_timestamp bigint NOT NULL,
	payee_timestamp bigint NOT NULL,
	created_at      bigint NOT NULL,
	CONSTRAINT payments_pkey PRIMARY KEY (id)
);

CREATE INDEX payments_payer ON payments (payer_operator, created_at);
CREATE INDEX payments_payee ON payments (payee_operator, created_at);
