-- The offline domain's own tables on PostgreSQL, as in
-- migrations/sqlite/0001_offline.sql. Ids are 16-byte bytea, hashes
-- 32-byte bytea, amounts bigint of the smallest unit, times Unix
-- nanoseconds (0 = unset). Counters and sequence numbers (Go uint64) are
-- 8-byte big-endian bytea, which compare as the numbers do over the whole
-- uint64 range. Byte fields are stored as given, an absent one as the
-- empty bytea.

CREATE TABLE offline_keys (
	id         bytea  NOT NULL,
	operator   bytea  NOT NULL,
	public     bytea  NOT NULL,
	private    bytea  NOT NULL,
	created_at bigint NOT NULL,
	CONSTRAINT offline_keys_pkey PRIMARY KEY (id)
);

CREATE TABLE offline_devices (
	id           bytea   NOT NULL,
	wallet       bytea   NOT NULL,
	operator     bytea   NOT NULL,
	key          bytea   NOT NULL,
	per_payment  bigint  NOT NULL,
	balance      bigint  NOT NULL,
	payments     bigint  NOT NULL,
	state        text    NOT NULL,
	reason       text    NOT NULL,
	certificate  bytea   NOT NULL,
	cert_expires bigint  NOT NULL,
	loaded       bigint  NOT NULL,
	unloaded     bigint  NOT NULL,
	spent        bigint  NOT NULL,
	returned     bigint  NOT NULL,
	advanced     bigint  NOT NULL,
	vouchers     bytea   NOT NULL,
	acked        bytea   NOT NULL,
	return_at    bigint  NOT NULL,
	created_at   bigint  NOT NULL,
	updated_at   bigint  NOT NULL,
	version      bigint  NOT NULL,
	CONSTRAINT offline_devices_pkey PRIMARY KEY (id)
);

CREATE INDEX offline_devices_operator ON offline_devices (operator, id);
CREATE INDEX offline_devices_decommissioned ON offline_devices (return_at, id) WHERE state = 'decommissioned';

CREATE TABLE offline_loads (
	id         bytea  NOT NULL,
	device     bytea  NOT NULL,
	amount     bigint NOT NULL,
	status     text   NOT NULL,
	problem    text   NOT NULL,
	seq        bytea  NOT NULL,
	voucher    bytea  NOT NULL,
	created_at bigint NOT NULL,
	updated_at bigint NOT NULL,
	CONSTRAINT offline_loads_pkey PRIMARY KEY (id)
);

CREATE UNIQUE INDEX offline_loads_vouchers ON offline_loads (device, seq) WHERE status = 'done';
CREATE INDEX offline_loads_pending ON offline_loads (created_at, id) WHERE status = 'pending';

CREATE TABLE offline_tokens (
	hash         bytea   NOT NULL,
	payer        bytea   NOT NULL,
	counter      bytea   NOT NULL,
	prev         bytea   NOT NULL,
	payee        bytea   NOT NULL,
	payee_wallet bytea   NOT NULL,
	amount       bigint  NOT NULL,
	kind         integer NOT NULL,
	status       text    NOT NULL,
	source       text    NOT NULL,
	fraud_case   bytea   NOT NULL,
	problem      text    NOT NULL,
	raw          bytea   NOT NULL,
	uploaded_at  bigint  NOT NULL,
	settled_at   bigint  NOT NULL,
	CONSTRAINT offline_tokens_pkey PRIMARY KEY (hash)
);

CREATE INDEX offline_tokens_payer ON offline_tokens (payer, counter);
CREATE INDEX offline_tokens_pending ON offline_tokens (uploaded_at, payer, counter, hash) WHERE status = 'pending';

CREATE TABLE offline_cases (
	id         bytea  NOT NULL,
	device     bytea  NOT NULL,
	operator   bytea  NOT NULL,
	wallet     bytea  NOT NULL,
	findings   text   NOT NULL,
	tokens     bytea  NOT NULL,
	advanced   bigint NOT NULL,
	recovered  bigint NOT NULL,
	refused    bigint NOT NULL,
	status     text   NOT NULL,
	note       text   NOT NULL,
	opened_at  bigint NOT NULL,
	updated_at bigint NOT NULL,
	version    bigint NOT NULL,
	CONSTRAINT offline_cases_pkey PRIMARY KEY (id)
);

CREATE INDEX offline_cases_operator ON offline_cases (operator, id);

CREATE TABLE offline_revocations (
	operator  bytea  NOT NULL,
	seq       bytea  NOT NULL,
	issued_at bigint NOT NULL,
	devices   bytea  NOT NULL,
	key_id    bytea  NOT NULL,
	raw       bytea  NOT NULL,
	CONSTRAINT offline_revocations_pkey PRIMARY KEY (operator)
);

-- The caps each operator certifies its devices with, where it set its own.
CREATE TABLE offline_caps (
	operator    bytea PRIMARY KEY,
	per_payment bigint NOT NULL,
	balance     bigint NOT NULL,
	payments    bigint NOT NULL,
	updated_at  bigint NOT NULL
);
