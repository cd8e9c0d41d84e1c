-- The contract domain's own tables on PostgreSQL, as in
-- migrations/sqlite/0001_contract.sql. Ids are 16-byte bytea, times Unix
-- nanoseconds (0 = unset); documents, runtimes and invocation bodies are
-- JSON text (the document byte for byte, as its hash pins it).

CREATE TABLE contract_parties (
	id         bytea  NOT NULL,
	operator   bytea  NOT NULL,
	name       text   NOT NULL,
	public_key bytea  NOT NULL,
	created_at bigint NOT NULL,
	CONSTRAINT contract_parties_pkey PRIMARY KEY (id)
);

CREATE TABLE contracts (
	id          bytea  NOT NULL,
	hash        text   NOT NULL,
	operator    bytea  NOT NULL,
	wallet      bytea  NOT NULL,
	document    text   NOT NULL,
	status      text   NOT NULL,
	version     bigint NOT NULL,
	runtime     text   NOT NULL,
	deployed_by text   NOT NULL,
	deployed_at bigint NOT NULL,
	updated_at  bigint NOT NULL,
	CONSTRAINT contracts_pkey PRIMARY KEY (id)
);

CREATE INDEX contracts_operator ON contracts (operator, id);

CREATE TABLE contract_invocations (
	contract bytea  NOT NULL,
	key      text   NOT NULL,
	id       bytea  NOT NULL,
	sequence bigint NOT NULL,
	outcome  text   NOT NULL,
	at       bigint NOT NULL,
	body     text   NOT NULL,
	CONSTRAINT contract_invocations_pkey PRIMARY KEY (contract, key)
);

CREATE UNIQUE INDEX contract_invocations_sequence ON contract_invocations (contract, sequence);
CREATE INDEX contract_invocations_pending ON contract_invocations (at, contract, sequence) WHERE outcome = 'pending';

CREATE TABLE contract_timers (
	contract bytea  NOT NULL,
	key      text   NOT NULL,
	trigger  text   NOT NULL,
	due_at   bigint NOT NULL,
	n        bigint NOT NULL,
	of       text   NOT NULL,
	fired_at bigint, -- NULL while it waits
	CONSTRAINT contract_timers_pkey PRIMARY KEY (contract, key)
);

CREATE INDEX contract_timers_due ON contract_timers (due_at, contract, key) WHERE fired_at IS NULL;
